// berth build: an image from a Dockerfile, through the daemon's /build. The
// daemon is on this host, so a directory context is named, not uploaded;
// "-" reads a tar context or a lone Dockerfile from standard input.
import { existsSync, statSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { invalidArgument } from "../../errors.ts";
import { writeTar } from "../../images/tar-writer.ts";
import type { CommandDef } from "../args.ts";
import { allCredentials } from "../auth-config.ts";
import { connect } from "../connect.ts";
import { showProgress } from "../progress.ts";

export const command: CommandDef = {
  name: "build",
  usage: "build [OPTIONS] PATH | -",
  summary: "Build an image from a Dockerfile",
  flags: [
    { name: "tag", short: "t", kind: "list", valueName: "name:tag", help: "Name and optionally a tag in the 'name:tag' format" },
    { name: "file", short: "f", kind: "string", valueName: "path", help: "Name of the Dockerfile (default: 'PATH/Dockerfile')" },
    { name: "build-arg", kind: "list", valueName: "key=value", help: "Set build-time variables" },
    { name: "target", kind: "string", valueName: "stage", help: "Set the target build stage to build" },
    { name: "no-cache", kind: "bool", help: "Do not use cache when building the image" },
    { name: "pull", kind: "bool", help: "Always attempt to pull a newer version of the image" },
    { name: "quiet", short: "q", kind: "bool", help: "Suppress the build output and print image ID on success" },
    { name: "iidfile", kind: "string", valueName: "file", help: "Write the image ID to the file" },
    { name: "label", kind: "list", valueName: "key=value", help: "Set metadata for an image" },
    { name: "network", kind: "string", valueName: "mode", help: "Set the networking mode for the RUN instructions during build (default \"default\")" },
    { name: "rm", kind: "bool", default: "true", help: "Remove intermediate containers after a successful build (default true; --rm=false keeps them)" },
    { name: "force-rm", kind: "bool", help: "Always remove intermediate containers" },
    { name: "platform", kind: "string", valueName: "os/arch", help: "Set platform if server is multi-platform capable (only linux/amd64)" },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run({ flags, args, global }) {
    const platform = flags.string("platform");
    if (platform && platform !== "linux/amd64" && platform !== "linux") throw invalidArgument(`platform ${platform} is not supported: berth builds linux/amd64 images`);
    const buildArgs: Record<string, string | null> = {};
    for (const a of flags.list("build-arg")) {
      const eq = a.indexOf("=");
      // "--build-arg NAME" takes NAME from this environment, as docker does (and leaves it out if unset).
      if (eq < 0) {
        if (process.env[a] !== undefined) buildArgs[a] = process.env[a]!;
      } else buildArgs[a.slice(0, eq)] = a.slice(eq + 1);
    }
    const labels: Record<string, string> = {};
    for (const l of flags.list("label")) {
      const eq = l.indexOf("=");
      labels[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? "" : l.slice(eq + 1);
    }
    const query: Record<string, string | string[] | undefined> = {
      t: flags.list("tag"),
      buildargs: JSON.stringify(buildArgs),
      labels: JSON.stringify(labels),
      target: flags.string("target"),
      nocache: flags.bool("no-cache") ? "1" : undefined,
      pull: flags.bool("pull") ? "1" : undefined,
      q: flags.bool("quiet") ? "1" : undefined,
      networkmode: flags.string("network"),
      rm: flags.has("rm") && !flags.bool("rm") ? "0" : "1",
      forcerm: flags.bool("force-rm") ? "1" : undefined,
    };
    let body: Uint8Array | undefined;
    const path = args[0]!;
    if (path === "-") {
      body = await stdinContext();
      if (flags.string("file")) query.dockerfile = flags.string("file");
    } else {
      if (/^(https?|git):\/\/|^git@/.test(path)) throw invalidArgument(`remote build contexts are not supported: ${path}`, "clone or download it, then build the directory");
      const dir = resolve(path);
      if (!existsSync(dir) || !statSync(dir).isDirectory()) throw invalidArgument(`unable to prepare context: path "${path}" not found`);
      const file = flags.string("file");
      const dockerfile = file === "-" ? undefined : resolve(file ?? `${dir}/Dockerfile`);
      if (dockerfile && !existsSync(dockerfile) && !(file === undefined && existsSync(`${dir}/dockerfile`))) {
        throw invalidArgument(`unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${dockerfile}: no such file or directory`);
      }
      query.contextdir = dir;
      query.dockerfile = dockerfile && existsSync(dockerfile) ? dockerfile : undefined;
    }
    const client = await connect(global);
    const auths = allCredentials();
    const res = await client.call("POST", "/build", {
      query,
      body,
      headers: { "Content-Type": "application/x-tar", ...registryConfigHeader(auths) },
    });
    const aux = (await showProgress(res.body!, false, false)) as { ID?: string }[];
    const id = aux.find((a) => a.ID)?.ID;
    const iidfile = flags.string("iidfile");
    if (iidfile && id) writeFileSync(iidfile, id);
    return 0;
  },
};

/** Standard input: a tar context (plain or compressed), or a Dockerfile alone (a context of just it). */
async function stdinContext(): Promise<Uint8Array> {
  const data = new Uint8Array(await Bun.stdin.arrayBuffer());
  const magic = data.subarray(0, 6);
  const compressed = (magic[0] === 0x1f && magic[1] === 0x8b) || (magic[0] === 0x28 && magic[1] === 0xb5) || (magic[0] === 0x42 && magic[1] === 0x5a) || magic[0] === 0xfd;
  const tar = data.length >= 512 && new TextDecoder().decode(data.subarray(257, 262)) === "ustar";
  if (compressed || tar) return data;
  const parts: Uint8Array[] = [];
  for await (const chunk of writeTar([{ name: "Dockerfile", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: Math.floor(Date.now() / 1000), size: data.length, body: data }])) parts.push(chunk);
  return Buffer.concat(parts);
}

/** X-Registry-Config: the credentials of ~/.docker/config.json, for pulling base images. */
function registryConfigHeader(auths: Record<string, unknown>): Record<string, string> {
  return Object.keys(auths).length ? { "X-Registry-Config": Buffer.from(JSON.stringify(auths)).toString("base64url") } : {};
}
