// POST /build: Docker's classic builder API (what `DOCKER_BUILDKIT=0 docker
// build` and berth's CLI call). The context comes as a tar in the body
// (plain or compressed), unpacked into a scratch directory for the build;
// berth's own CLI, on the same host, names its directory instead
// (?contextdir=): nothing to pack, send and unpack.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { isAbsolute } from "node:path";
import { invalidArgument, notFound, notSupported } from "../../errors.ts";
import { applyLayer } from "../../images/apply.ts";
import { decompress } from "../../images/compression.ts";
import type { Credentials } from "../../images/registry-auth.ts";
import { resolveInRoot } from "../../paths.ts";
import { libcSys } from "../../sys/libc.ts";
import type { Ctx, Router } from "../server.ts";
import { flag, jsonStream, rootOnly } from "./util.ts";

export function buildRoutes(r: Router) {
  r.on("POST", "/build", buildImage);
}

async function buildImage(ctx: Ctx) {
  const q = ctx.query;
  if (q.get("version") === "2") throw notSupported("BuildKit sessions are not supported: berth implements the classic builder API", "use DOCKER_BUILDKIT=0 with the docker CLI");
  if (q.get("remote")) throw notSupported("remote build contexts (git, URLs) are not supported", "give a local directory or a tar");
  const json = <T>(name: string, fallback: T): T => {
    const raw = q.get(name);
    if (!raw) return fallback;
    try {
      return JSON.parse(raw) as T;
    } catch {
      throw invalidArgument(`the ${name} parameter is not JSON: ${raw}`);
    }
  };
  const buildArgs = json<Record<string, string | null>>("buildargs", {});
  const labels = json<Record<string, string>>("labels", {});
  const credentials = registryConfig(ctx);

  const contextDirParam = q.get("contextdir");
  if (contextDirParam) rootOnly("a build from a host directory (?contextdir=)");
  let scratch: string | undefined;
  try {
    let contextDir: string;
    if (contextDirParam) {
      if (!isAbsolute(contextDirParam) || !existsSync(contextDirParam) || !statSync(contextDirParam).isDirectory()) {
        throw invalidArgument(`the build context ${contextDirParam} is not a directory`);
      }
      contextDir = contextDirParam;
    } else {
      mkdirSync(`${ctx.engine.root}/tmp`, { recursive: true, mode: 0o700 });
      scratch = mkdtempSync(`${ctx.engine.root}/tmp/context-`);
      await applyLayer(scratch, decompress(ctx.stream()), { whiteouts: "none", sys: libcSys });
      contextDir = scratch;
    }
    const { text, name } = readDockerfile(contextDir, q.get("dockerfile") || "Dockerfile", !!contextDirParam);
    const quiet = flag(ctx, "q");
    const { build } = await import("../../build/builder.ts"); // loaded on the first build, not at daemon start
    await jsonStream(ctx, async (_progress, emit) => {
      const id = await build(ctx.engine, {
        contextDir,
        dockerfile: text,
        dockerfileName: name,
        tags: q.getAll("t"),
        buildArgs,
        target: q.get("target") || undefined,
        noCache: flag(ctx, "nocache"),
        pull: flag(ctx, "pull"),
        labels,
        network: q.get("networkmode") || "default",
        rm: q.get("rm") === null ? true : flag(ctx, "rm"),
        forceRm: flag(ctx, "forcerm"),
        credentials,
        stream: (text) => {
          if (!quiet) emit({ stream: text });
        },
        aux: (message) => emit({ aux: message }),
      });
      if (quiet) emit({ stream: `${id}\n` });
    });
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

/** The Dockerfile: a path in the context (or, for berth's CLI, anywhere on the host); "Dockerfile" falls back to "dockerfile". */
function readDockerfile(contextDir: string, path: string, hostPaths: boolean): { text: string; name: string } {
  const candidates = path === "Dockerfile" ? ["Dockerfile", "dockerfile"] : [path];
  for (const c of candidates) {
    const host = hostPaths && isAbsolute(c) ? c : resolveInRoot(contextDir, c);
    try {
      return { text: readFileSync(host, "utf8"), name: c.replace(/^.*\//, "") };
    } catch {
      // try the next
    }
  }
  throw notFound(`Cannot locate specified Dockerfile: ${path}`);
}

/** X-Registry-Config: base64 JSON of {registry: {username, password, ...}} for the base images' pulls. */
function registryConfig(ctx: Ctx): ((domain: string) => Credentials | undefined) | undefined {
  const header = ctx.req.headers["x-registry-config"];
  if (typeof header !== "string" || header === "") return undefined;
  let config: Record<string, Credentials>;
  try {
    config = JSON.parse(Buffer.from(header, "base64url").toString()) as Record<string, Credentials>;
  } catch {
    throw invalidArgument("the X-Registry-Config header is not base64 JSON");
  }
  return (domain) => config[domain] ?? config[`https://${domain}`] ?? (domain === "docker.io" ? config["https://index.docker.io/v1/"] : undefined);
}
