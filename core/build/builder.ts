// `docker build`: a Dockerfile's stages built into images.
//
// Every step makes an image (the layers of the step before it, plus the
// step's own layer for RUN, COPY and ADD; a new config for the others),
// named by nothing but its ID and its parent, as Docker's classic builder
// does. A step's cache key chains the key of the step before it (the base
// image's ID for FROM) with the instruction as expanded and, for COPY/ADD,
// the digest of what it copies; a key seen before gives its image back
// without running anything. So an unchanged rebuild reads the sources and
// looks up keys, and a changed file rebuilds from its COPY down.
//
// Stages the target needs are built at once, each waiting only for the
// stages it builds on or copies from; stages it does not need are skipped.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { posix } from "node:path";
import { BerthError, invalidArgument, isBerthError, isKind, notSupported } from "../errors.ts";
import { decodeFrames } from "../api/stdcopy.ts";
import { addLayeredImage, containerLayer } from "../engine/commit.ts";
import type { Engine } from "../engine/engine.ts";
import { attachContainer } from "../engine/start.ts";
import { waitContainer } from "../engine/lifecycle.ts";
import type { ImageConfig, ImageRecord } from "../engine/types.ts";
import { pullImage } from "../images/pull.ts";
import { familiarName, parseReference } from "../images/reference.ts";
import type { Credentials } from "../images/registry-auth.ts";
import { applyConfigStep, commandOf, CONFIG_INSTRUCTIONS, DEFAULT_SHELL, type RunConfig } from "./config-steps.ts";
import { contextTree, matchSources, type Source, type SourceTree } from "./context.ts";
import { copyKey, copyLayer, planCopy, type CopyRequest } from "./copy.ts";
import { parseDockerfile, type Instruction } from "./dockerfile.ts";
import { chownOwner, inRoot, withImageRoot } from "./image-root.ts";
import { expandWord, lex, parseKeyValues, type Env } from "./shell-words.ts";
import { planStages, stageByRef, type Stage } from "./stages.ts";

export interface BuildOptions {
  /** The context directory on this host. */
  contextDir: string;
  /** The Dockerfile's text, and its name for errors ("Dockerfile"). */
  dockerfile: string;
  dockerfileName: string;
  tags: string[];
  /** --build-arg: a null value takes the variable from the daemon's environment, as Docker does. */
  buildArgs: Record<string, string | null>;
  target?: string;
  noCache: boolean;
  /** Pull base images even when they are here. */
  pull: boolean;
  labels: Record<string, string>;
  /** The network of RUN steps: "default" (the bridge), "bridge", "host", "none". */
  network: string;
  /** Remove RUN containers after a successful step (default), or always. */
  rm: boolean;
  forceRm: boolean;
  /** Credentials for pulling base images, by registry domain. */
  credentials?: (domain: string) => Credentials | undefined;
  /** What the user sees, as Docker's classic builder prints it. */
  stream(text: string): void;
  /** The image ID once built (Docker's aux message, for --iidfile). */
  aux(message: object): void;
}

/** A RUN whose command failed: its exit code becomes the build's (as docker build exits). */
export class RunFailed extends BerthError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super("FailedPrecondition", message);
  }
}

/** Build args any Dockerfile may use without an ARG (they stay out of the image's history). */
const PROXY_ARGS = new Set(["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"]);

interface State {
  image: ImageRecord | null;
  config: ImageConfig;
  key: string;
  /** ARGs declared in this stage so far, with their values. */
  args: Map<string, string>;
  cmdSet: boolean;
}

const short = (id: string) => id.replace(/^sha256:/, "").slice(0, 12);
const hashKey = (...parts: string[]) => new Bun.CryptoHasher("sha256").update(parts.join("\0")).digest("hex");
const seconds = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(2)}s`;

const SCRATCH: ImageConfig = { architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: [] }, history: [] };

export async function build(engine: Engine, opts: BuildOptions): Promise<string> {
  const file = opts.dockerfileName;
  for (const t of opts.tags) parseReference(t); // a bad name fails before anything runs
  const buildArgs = new Map<string, string>();
  for (const [k, v] of Object.entries(opts.buildArgs)) {
    const value = v ?? process.env[k];
    if (value !== undefined) buildArgs.set(k, value);
  }
  const df = parseDockerfile(opts.dockerfile, file);
  const plan = planStages(df, file, buildArgs, opts.target);
  const images = await engine.images();
  const context = contextTree(opts.contextDir);
  mkdirSync(`${engine.root}/tmp`, { recursive: true, mode: 0o700 });

  // Step numbers run through the stages built, in Dockerfile order.
  const numbered: Instruction[] = plan.stages.filter((s) => plan.needed.has(s.index)).flatMap((s) => [s.from, ...s.steps]);
  const labelStep = Object.keys(opts.labels).length > 0;
  const total = numbered.length + (labelStep ? 1 : 0);
  const stepNo = new Map(numbered.map((ins, i) => [ins, i + 1]));
  const consumed = new Set<string>();

  let failed = false;
  const built = new Map<number, Promise<State>>();
  const stageResult = (i: number): Promise<State> => {
    let p = built.get(i);
    if (!p) {
      p = buildStage(plan.stages[i]!).catch((err) => {
        failed = true;
        throw err;
      });
      built.set(i, p);
    }
    return p;
  };

  async function buildStage(stage: Stage): Promise<State> {
    const where = (ins: Instruction) => `${file}:${ins.line}`;
    const header = (ins: Instruction) => opts.stream(`Step ${stepNo.get(ins) ?? "-"}/${total} : ${ins.original}\n`);
    header(stage.from);
    let state = await fromStep(stage);
    opts.stream(` ---> ${state.image ? short(state.image.id) : ""}\n`);
    // The base image's ONBUILD triggers run first, and are not passed on.
    const triggers = state.config.config?.OnBuild ?? [];
    if (triggers.length > 0) {
      opts.stream(`# Executing ${triggers.length} build trigger${triggers.length === 1 ? "" : "s"}\n`);
      for (const t of triggers) {
        // A trigger is one instruction: parsed after a FROM, as the parser wants a stage.
        const ins = parseDockerfile(`FROM scratch\n${t}`, `${file} (ONBUILD of ${stage.base})`).instructions[1]!;
        if (["onbuild", "from", "maintainer"].includes(ins.cmd)) throw invalidArgument(`${where(stage.from)}: ${ins.cmd.toUpperCase()} isn't allowed as an ONBUILD trigger`);
        state = await step(stage, state, { ...ins, line: stage.from.line });
      }
      state = await step(stage, state, { ...stage.from, cmd: "_clear_onbuild", original: "ONBUILD (triggers done)" });
    }
    for (const ins of stage.steps) {
      if (failed) throw new BerthError("Internal", "the build stopped: another stage failed");
      header(ins);
      state = await step(stage, state, ins);
    }
    if (stage === plan.target && labelStep) {
      opts.stream(`Step ${total}/${total} : LABEL ${Object.entries(opts.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ")}\n`);
      const ins: Instruction = { cmd: "_labels", line: 0, endLine: 0, original: "LABEL", flags: {}, args: [], json: false, heredocs: [] };
      state = await step(stage, state, ins);
    }
    return state;
  }

  async function fromStep(stage: Stage): Promise<State> {
    const fresh = (image: ImageRecord | null, config: ImageConfig): State => ({ image, config, key: hashKey("FROM", image?.id ?? "scratch"), args: new Map(), cmdSet: false });
    if (stage.baseStage !== undefined) {
      const base = await stageResult(stage.baseStage);
      return fresh(base.image, base.config);
    }
    if (stage.base.toLowerCase() === "scratch") return fresh(null, SCRATCH);
    const image = await baseImage(stage.base, stage.from.flags.platform?.[0]);
    return fresh(image, image.config);
  }

  /** A base image: here already (unless --pull), or pulled. */
  async function baseImage(ref: string, platform?: string): Promise<ImageRecord> {
    if (!opts.pull) {
      try {
        return images.resolve(ref);
      } catch (err) {
        if (!isKind(err, "NotFound")) throw err;
      }
    }
    const parsed = parseReference(ref);
    const { image } = await pullImage(images, ref, {
      platform,
      registry: engine.registryOptions(),
      credentials: opts.credentials?.(parsed.domain),
      progress: { status: (text, id) => opts.stream(`${id ? `${id}: ` : ""}${text}\n`), progress: () => {} },
    });
    engine.emit("image", "pull", image.id, { name: familiarName(parsed) });
    return image;
  }

  /** Variables for substitution in this stage: its ARGs, under its ENV. */
  function envOf(state: State): Env {
    const env = new Map(state.args);
    for (const e of state.config.config?.Env ?? []) {
      const eq = e.indexOf("=");
      env.set(eq < 0 ? e : e.slice(0, eq), eq < 0 ? "" : e.slice(eq + 1));
    }
    return env;
  }

  async function step(stage: Stage, state: State, ins: Instruction): Promise<State> {
    const where = `${file}:${ins.line}`;
    try {
      return await runStep(stage, state, ins, where);
    } catch (err) {
      if (err instanceof RunFailed) throw new RunFailed(`${where}: ${err.message}`, err.exitCode);
      if (isBerthError(err) && err.message.startsWith(`${file}:`)) throw err;
      const message = err instanceof Error ? err.message : String(err);
      throw new BerthError(isBerthError(err) ? err.kind : "Internal", `${where}: ${ins.cmd.startsWith("_") ? "" : `${ins.cmd.toUpperCase()}: `}${message}`, isBerthError(err) ? err.hint : undefined);
    }
  }

  async function runStep(stage: Stage, state: State, ins: Instruction, where: string): Promise<State> {
    const env = envOf(state);
    const config: RunConfig = state.config.config ?? {};
    switch (ins.cmd) {
      case "arg":
        return argStep(state, ins, env, where);
      case "run":
        return runCommand(state, ins);
      case "copy":
      case "add":
        return copyStep(stage, state, ins, env);
      case "_clear_onbuild":
        return configImage(state, { ...config, OnBuild: null }, null, hashKey(state.key, "clear onbuild"), null);
      case "_labels": {
        const labels = { ...(config.Labels ?? {}), ...opts.labels };
        return configImage(state, { ...config, Labels: labels }, `LABEL ${Object.entries(opts.labels).map(([k, v]) => `${k}=${v}`).join(" ")}`, hashKey(state.key, "LABEL", JSON.stringify(opts.labels)), null);
      }
    }
    if (!CONFIG_INSTRUCTIONS.has(ins.cmd)) throw notSupported(`${ins.cmd.toUpperCase()} is not supported`);
    const out = applyConfigStep(ins, config, { env, escape: df.escape, where, cmdSet: state.cmdSet });
    const next = await configImage(state, out.config, `${ins.cmd.toUpperCase()} ${out.historyArgs}`, hashKey(state.key, ins.cmd, out.historyArgs), out.author ?? null);
    if (ins.cmd === "cmd") next.cmdSet = true;
    return next;
  }

  function argStep(state: State, ins: Instruction, env: Env, where: string): Promise<State> {
    const args = new Map(state.args);
    const shown: string[] = [];
    for (const { key, value } of parseKeyValues(ins.args[0] ?? "", env, { instruction: "arg", escape: df.escape, where })) {
      consumed.add(key);
      const v = buildArgs.get(key) ?? value ?? plan.globalArgs.get(key);
      if (v !== undefined) args.set(key, v);
      shown.push(value === undefined ? key : `${key}=${value}`);
    }
    return configImage({ ...state, args }, state.config.config ?? {}, `ARG ${shown.join(" ")}`, hashKey(state.key, "arg", [...args].map(([k, v]) => `${k}=${v}`).join("\n")), null);
  }

  /** A step that changes only the config: its image, from the cache or new. */
  async function configImage(state: State, runConfig: RunConfig, history: string | null, key: string, author: string | null): Promise<State> {
    const cached = cachedImage(key);
    if (cached) return { ...state, image: cached, config: cached.config, key };
    const now = new Date().toISOString();
    const config: ImageConfig = {
      ...state.config,
      created: now,
      ...(author !== null ? { author } : {}),
      config: runConfig,
      history: history === null ? state.config.history : [...(state.config.history ?? []), { created: now, created_by: `/bin/sh -c #(nop)  ${history}`, empty_layer: true }],
    };
    const image = await addLayeredImage(images, state.image, config, null, [], state.image?.id);
    engine.db.cacheStep(key, image.id);
    opts.stream(` ---> ${short(image.id)}\n`);
    return { ...state, image, config, key };
  }

  /** The image a key names, if it is still there (and --no-cache is off). */
  function cachedImage(key: string): ImageRecord | undefined {
    if (opts.noCache) return undefined;
    const id = engine.db.cachedStep(key);
    const image = id ? engine.db.getImage(id) : undefined;
    if (image) opts.stream(` ---> Using cache\n ---> ${short(image.id)}\n`);
    return image;
  }

  async function runCommand(state: State, ins: Instruction): Promise<State> {
    const config = state.config.config ?? {};
    const argv = ins.heredocs.length > 0 && !ins.json ? [...(config.Shell ?? DEFAULT_SHELL), heredocCommand(ins)] : commandOf(ins, config);
    const network = ins.flags.network?.[0] ?? opts.network;
    if (ins.flags.mount?.length) throw notSupported("RUN --mount is not supported by berth's builder", "copy what the step needs with COPY instead");
    // Build args in scope reach the command's environment (under the image's ENV) and its cache key, as in Docker.
    const envNames = new Set((config.Env ?? []).map((e) => e.split("=")[0]));
    const argEnv = [...state.args].filter(([k]) => !envNames.has(k)).map(([k, v]) => `${k}=${v}`);
    const proxyEnv = [...buildArgs].filter(([k]) => PROXY_ARGS.has(k) && !state.args.has(k)).map(([k, v]) => `${k}=${v}`);
    const prefix = argEnv.length > 0 ? `|${argEnv.length} ${argEnv.join(" ")} ` : "";
    const createdBy = `${prefix}${argv.join(" ")}`;
    const key = hashKey(state.key, "run", JSON.stringify(argv), argEnv.join("\n"), network);
    const cached = cachedImage(key);
    if (cached) return { ...state, image: cached, config: cached.config, key };
    if (!state.image) throw invalidArgument("there is nothing to run in a stage FROM scratch with no files", "COPY a program in first");

    const t0 = performance.now();
    const { Id: cid } = await engine.create({
      Image: state.image.id,
      Cmd: argv,
      Entrypoint: [],
      Env: [...argEnv, ...proxyEnv],
      AttachStdout: true,
      AttachStderr: true,
      Healthcheck: { Test: ["NONE"] },
      HostConfig: { NetworkMode: network === "default" ? "bridge" : network },
    });
    opts.stream(` ---> Running in ${short(cid)}\n`);
    const rec = engine.container(cid);
    let ok = false;
    try {
      const attach = attachContainer(engine, rec, { stdout: true, stderr: true });
      const exited = waitContainer(engine, rec, "next-exit");
      await engine.start(cid);
      const decoder = new TextDecoder();
      for await (const frame of decodeFrames(await attach)) opts.stream(decoder.decode(frame.payload, { stream: true }));
      const { StatusCode: code } = await exited;
      if (code !== 0) throw new RunFailed(`The command '${argv.join(" ")}' returned a non-zero code: ${code}`, code);
      const diffId = await containerLayer(engine, rec);
      const now = new Date().toISOString();
      const config: ImageConfig = {
        ...state.config,
        created: now,
        rootfs: { type: "layers", diff_ids: [...state.config.rootfs.diff_ids, diffId] },
        history: [...(state.config.history ?? []), { created: now, created_by: createdBy }],
      };
      const image = await addLayeredImage(images, state.image, config, diffId, [], state.image.id);
      engine.db.cacheStep(key, image.id);
      ok = true;
      if (opts.rm) opts.stream(`Removing intermediate container ${short(cid)}\n`);
      opts.stream(` ---> ${short(image.id)} (${seconds(t0)})\n`);
      return { ...state, image, config, key };
    } finally {
      if (opts.forceRm || (ok && opts.rm)) await engine.remove(cid, { force: true, volumes: true });
    }
  }

  async function copyStep(stage: Stage, state: State, ins: Instruction, env: Env): Promise<State> {
    const isAdd = ins.cmd === "add";
    for (const f of ["link", "parents", "exclude", "keep-git-dir", "checksum"]) {
      if (ins.flags[f]?.length) throw notSupported(`${ins.cmd.toUpperCase()} --${f} is not supported by berth's builder`);
    }
    const word = (w: string) => expandWord(w, env, df.escape);
    const words = ins.args.map(word);
    if (words.length < 2 && ins.heredocs.length === 0) throw invalidArgument(`${ins.cmd.toUpperCase()} requires at least two arguments, but only one was provided. Destination could not be determined`);
    const rawDest = words[words.length - 1]!;
    const workdir = state.config.config?.WorkingDir || "/";
    const dest = posix.isAbsolute(rawDest) ? rawDest : `${posix.join(workdir, rawDest)}${rawDest.endsWith("/") || rawDest === "." ? "/" : ""}`;
    const chown = ins.flags.chown?.[0] !== undefined ? word(ins.flags.chown[0]) : undefined;
    const chmodText = ins.flags.chmod?.[0];
    const mode = chmodText !== undefined ? parseChmod(chmodText) : undefined;

    // Where the files come from: the context, a heredoc, another stage, an image.
    const fromRef = ins.flags.from?.[0] !== undefined ? expandWord(ins.flags.from[0], plan.globalArgs, df.escape) : undefined;
    let fromImage: ImageRecord | null | undefined;
    if (fromRef !== undefined) {
      const s = stageByRef(plan.stages, fromRef, stage.index);
      fromImage = s !== undefined ? (await stageResult(s)).image : await baseImage(fromRef);
    }
    const heredocDir = ins.heredocs.length > 0 ? mkdtempSync(`${engine.root}/tmp/heredoc-`) : undefined;
    try {
      const sourceWords = words.slice(0, -1);
      // A heredoc's body is expanded as BuildKit does: variables, but quotes kept.
      for (const h of ins.heredocs) writeFileSync(`${heredocDir}/${h.name}`, h.expand ? lex(h.content, env, { escape: df.escape, skipProcessQuotes: true }).word : h.content, { mode: 0o644 });
      const collect = (tree: SourceTree, list: string[]): Source[] => list.flatMap((w) => matchSources(tree, w));
      const work = async (tree: SourceTree) => {
        const heredocs = heredocDir ? collect({ root: heredocDir, what: "heredoc" }, ins.heredocs.map((h) => h.name)) : [];
        const fromTree = sourceWords.filter((w) => !ins.heredocs.some((h) => w === `<<${h.name}` || w === `<<-${h.name}`));
        for (const w of fromTree) if (isAdd && /^https?:\/\//.test(w)) throw notSupported("ADD from a URL is not supported by berth's builder (this machine builds offline)", "download it in the context and COPY it");
        const sources = [...collect(tree, fromTree), ...heredocs];
        const req: CopyRequest = { tree, sources, dest, keepOwners: fromRef !== undefined, mode, unpackArchives: isAdd && fromRef === undefined, owner: undefined };
        const contentKey = copyKey(req);
        const key = hashKey(state.key, ins.cmd, dest, chown ?? "", chmodText ?? "", fromImage?.id ?? "", contentKey);
        const cached = cachedImage(key);
        if (cached) return { ...state, image: cached, config: cached.config, key };
        const t0 = performance.now();
        const diffId = await withImageRoot(engine, state.image, async (root) => {
          if (chown !== undefined) req.owner = chownOwner(chown, root);
          const items = planCopy(req, inRoot(root));
          return (await images.blobs.ingest(copyLayer(items))).digest;
        });
        const kind = sources.length === 1 ? (sources[0]!.stat.isDirectory() ? "dir" : "file") : "multi";
        const now = new Date().toISOString();
        const config: ImageConfig = {
          ...state.config,
          created: now,
          rootfs: { type: "layers", diff_ids: [...state.config.rootfs.diff_ids, diffId] },
          history: [...(state.config.history ?? []), { created: now, created_by: `/bin/sh -c #(nop) ${ins.cmd.toUpperCase()} ${kind}:${contentKey} in ${dest} ` }],
        };
        const image = await addLayeredImage(images, state.image, config, diffId, [], state.image?.id);
        engine.db.cacheStep(key, image.id);
        opts.stream(` ---> ${short(image.id)} (${seconds(t0)})\n`);
        return { ...state, image, config, key };
      };
      if (fromRef === undefined) return await work(context);
      return await withImageRoot(engine, fromImage ?? null, (root) => work({ root, what: `stage or image ${fromRef}` }));
    } finally {
      if (heredocDir) rmSync(heredocDir, { recursive: true, force: true });
    }
  }

  // Build what the target needs, independent stages side by side.
  const results = await Promise.allSettled([...plan.needed].sort((a, b) => a - b).map((i) => stageResult(i)));
  const failure = results.find((r) => r.status === "rejected");
  if (failure) {
    // The first error in Dockerfile order is the one that matters; "another stage failed" is not.
    const errors = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
    throw errors.find((e) => !(isBerthError(e) && e.message.startsWith("the build stopped"))) ?? errors[0];
  }
  const final = await stageResult(plan.target.index);
  if (!final.image) {
    // FROM scratch and nothing else: Docker makes an empty image.
    const image = await addLayeredImage(images, null, { ...SCRATCH, created: new Date().toISOString() }, null, []);
    final.image = image;
  }
  const unused = [...buildArgs.keys()].filter((k) => !consumed.has(k) && !plan.globalArgs.has(k) && !PROXY_ARGS.has(k));
  if (unused.length > 0) opts.stream(`[Warning] One or more build-args [${unused.join(" ")}] were not consumed\n`);
  const id = final.image.id;
  opts.aux({ ID: id });
  opts.stream(`Successfully built ${short(id)}\n`);
  for (const t of opts.tags) {
    images.tag(id, t);
    const name = familiarName(parseReference(t));
    engine.emit("image", "tag", id, { name });
    opts.stream(`Successfully tagged ${name}\n`);
  }
  return id;
}

/**
 * RUN with heredocs, for the shell: `RUN <<EOF` alone runs the body as the
 * script; otherwise (`RUN cat <<EOF > f`) the shell gets the line and the
 * bodies, and does the redirection itself. Variables are the shell's to expand.
 */
function heredocCommand(ins: Instruction): string {
  const line = ins.args.join(" ").trim();
  const only = ins.heredocs.length === 1 && /^<<-?\s*["']?(\w+)["']?$/.test(line);
  if (only) return ins.heredocs[0]!.content;
  return `${line}\n${ins.heredocs.map((h) => `${h.content}${h.content.endsWith("\n") ? "" : "\n"}${h.name}\n`).join("")}`;
}

function parseChmod(text: string): number {
  if (!/^[0-7]{3,4}$/.test(text)) throw invalidArgument(`invalid chmod parameter "${text}": give octal permission bits, such as 755`);
  return parseInt(text, 8);
}
