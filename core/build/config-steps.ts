// The instructions that only change the image's configuration: ENV, LABEL,
// EXPOSE, VOLUME, USER, WORKDIR, CMD, ENTRYPOINT, SHELL, STOPSIGNAL,
// HEALTHCHECK, ONBUILD, MAINTAINER. Each gives the new config and the line
// `docker history` shows for it.
import { posix } from "node:path";
import { invalidArgument } from "../errors.ts";
import type { HealthConfig, ImageConfig } from "../engine/types.ts";
import type { Instruction } from "./dockerfile.ts";
import { expandWord, expandWords, parseKeyValues, type Env } from "./shell-words.ts";

export type RunConfig = NonNullable<ImageConfig["config"]>;

export const DEFAULT_SHELL = ["/bin/sh", "-c"];

export interface StepContext {
  /** Variables for substitution: the image's ENV over the ARGs in scope. */
  env: Env;
  escape: string;
  /** "Dockerfile:7", for errors. */
  where: string;
  /** CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
}

export const CONFIG_INSTRUCTIONS = new Set(["env", "label", "expose", "volume", "user", "workdir", "cmd", "entrypoint", "shell", "stopsignal", "healthcheck", "onbuild", "maintainer"]);

/** The config after a configuration instruction, and `author` for MAINTAINER. */
export function applyConfigStep(ins: Instruction, config: RunConfig, ctx: StepContext): { config: RunConfig; author?: string; historyArgs: string } {
  const c: RunConfig = { ...config };
  const word = (w: string) => expandWord(w, ctx.env, ctx.escape);
  const rest = ins.args.join(" ");
  switch (ins.cmd) {
    case "env": {
      const env = [...(c.Env ?? [])];
      const pairs = parseKeyValues(ins.args[0] ?? "", ctx.env, { instruction: "env", escape: ctx.escape, where: ctx.where });
      for (const { key, value = "" } of pairs) {
        const at = env.findIndex((e) => e.startsWith(`${key}=`));
        if (at >= 0) env[at] = `${key}=${value}`;
        else env.push(`${key}=${value}`);
      }
      c.Env = env;
      return { config: c, historyArgs: pairs.map((p) => `${p.key}=${p.value ?? ""}`).join(" ") };
    }
    case "label": {
      const pairs = parseKeyValues(ins.args[0] ?? "", ctx.env, { instruction: "label", escape: ctx.escape, where: ctx.where });
      c.Labels = { ...(c.Labels ?? {}) };
      for (const { key, value = "" } of pairs) c.Labels[key] = value;
      return { config: c, historyArgs: pairs.map((p) => `${p.key}=${p.value ?? ""}`).join(" ") };
    }
    case "expose": {
      const ports = ins.args.flatMap((a) => expandWords(a, ctx.env, ctx.escape));
      c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
      for (const p of ports) for (const port of exposedPorts(p, ctx.where)) c.ExposedPorts[port] = {};
      return { config: c, historyArgs: ports.join(" ") };
    }
    case "volume": {
      const paths = ins.json ? ins.args.map(word) : ins.args.flatMap((a) => expandWords(a, ctx.env, ctx.escape));
      if (paths.length === 0 || paths.some((p) => p.trim() === "")) throw invalidArgument(`${ctx.where}: VOLUME specified can not be an empty string`);
      c.Volumes = { ...(c.Volumes ?? {}) };
      for (const p of paths) c.Volumes[p] = {};
      return { config: c, historyArgs: JSON.stringify(paths) };
    }
    case "user":
      c.User = word(rest);
      return { config: c, historyArgs: c.User };
    case "workdir": {
      const dir = word(rest);
      if (dir === "") throw invalidArgument(`${ctx.where}: WORKDIR requires exactly one argument`);
      c.WorkingDir = posix.normalize(posix.isAbsolute(dir) ? dir : posix.join(c.WorkingDir || "/", dir));
      if (c.WorkingDir.length > 1) c.WorkingDir = c.WorkingDir.replace(/\/+$/, "");
      return { config: c, historyArgs: c.WorkingDir };
    }
    case "cmd":
      c.Cmd = commandOf(ins, c);
      return { config: c, historyArgs: JSON.stringify(c.Cmd) };
    case "entrypoint":
      c.Entrypoint = commandOf(ins, c);
      // An ENTRYPOINT drops a CMD inherited from the base image (one set in this stage stays).
      if (!ctx.cmdSet) c.Cmd = null;
      return { config: c, historyArgs: JSON.stringify(c.Entrypoint) };
    case "shell":
      if (!ins.json || ins.args.length === 0) throw invalidArgument(`${ctx.where}: SHELL requires the arguments to be in JSON form`);
      c.Shell = [...ins.args];
      return { config: c, historyArgs: JSON.stringify(c.Shell) };
    case "stopsignal":
      c.StopSignal = word(rest);
      return { config: c, historyArgs: c.StopSignal };
    case "healthcheck":
      c.Healthcheck = healthcheckOf(ins, ctx.where);
      return { config: c, historyArgs: JSON.stringify(c.Healthcheck) };
    case "onbuild": {
      const trigger = (ins.args[0] ?? ins.original.replace(/^\s*onbuild\s+/i, "")).trim();
      c.OnBuild = [...(c.OnBuild ?? []), trigger];
      return { config: c, historyArgs: trigger };
    }
    case "maintainer":
      return { config: c, author: rest, historyArgs: rest };
  }
  throw invalidArgument(`${ctx.where}: ${ins.cmd.toUpperCase()} is not a configuration instruction`);
}

/** CMD/ENTRYPOINT/RUN argv: the exec form as written, the shell form under SHELL. */
export function commandOf(ins: Instruction, config: RunConfig): string[] {
  if (ins.json) return [...ins.args];
  return [...(config.Shell ?? DEFAULT_SHELL), ins.args.join(" ")];
}

/** "80", "80/udp", "8000-8002/tcp" to Docker's "port/proto" keys. */
export function exposedPorts(spec: string, where: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec);
  if (!m) throw invalidArgument(`${where}: invalid containerPort: ${spec}`);
  const lo = Number(m[1]);
  const hi = m[2] ? Number(m[2]) : lo;
  const proto = (m[3] ?? "tcp").toLowerCase();
  if (hi < lo || hi > 65535) throw invalidArgument(`${where}: invalid range of ports: ${spec}`);
  const out: string[] = [];
  for (let p = lo; p <= hi; p++) out.push(`${p}/${proto}`);
  return out;
}

const UNIT: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration for what HEALTHCHECK takes ("30s", "1m30s", "500ms"), in nanoseconds. */
export function parseDuration(text: string, flag: string, where: string): number {
  let rest = text;
  let total = 0;
  if (rest === "0") return 0;
  while (rest !== "") {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) throw invalidArgument(`${where}: HEALTHCHECK --${flag}: invalid duration "${text}"`);
    total += Number(m[1]) * UNIT[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return Math.round(total);
}

function healthcheckOf(ins: Instruction, where: string): HealthConfig {
  if (ins.args[0]?.toUpperCase() === "NONE") {
    if (ins.args.length > 1) throw invalidArgument(`${where}: HEALTHCHECK NONE takes no arguments`);
    return { Test: ["NONE"] };
  }
  if (ins.args[0]?.toUpperCase() !== "CMD") throw invalidArgument(`${where}: Unknown type "${ins.args[0] ?? ""}" in HEALTHCHECK (try CMD)`);
  const cmd = ins.args.slice(1);
  const test = ins.json ? ["CMD", ...cmd] : ["CMD-SHELL", cmd.join(" ")];
  if (cmd.length === 0 || (test[0] === "CMD-SHELL" && test[1] === "")) throw invalidArgument(`${where}: Missing command after HEALTHCHECK CMD`);
  const h: HealthConfig = { Test: test };
  const flag = (name: string) => ins.flags[name]?.[0];
  const dur = (name: string, key: "Interval" | "Timeout" | "StartPeriod" | "StartInterval") => {
    const v = flag(name);
    if (v === undefined) return;
    const ns = parseDuration(v, name, where);
    if (ns !== 0 && ns < 1e6) throw invalidArgument(`${where}: HEALTHCHECK --${name} cannot be less than 1ms`);
    h[key] = ns;
  };
  dur("interval", "Interval");
  dur("timeout", "Timeout");
  dur("start-period", "StartPeriod");
  dur("start-interval", "StartInterval");
  const retries = flag("retries");
  if (retries !== undefined) {
    if (!/^\d+$/.test(retries)) throw invalidArgument(`${where}: HEALTHCHECK --retries: invalid number "${retries}"`);
    h.Retries = Number(retries);
  }
  return h;
}
