// `--change` instructions of `import` (and `commit`): the Dockerfile
// instructions that only touch an image's config.
import { invalidArgument } from "../errors.ts";
import type { ImageConfig } from "../engine/types.ts";

type Config = NonNullable<ImageConfig["config"]>;

const SUPPORTED = ["CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"];

/** Apply instructions like `CMD ["sh"]` or `ENV A=1 B=2` to a config. */
export function applyChanges(config: Config, changes: string[]): Config {
  const out: Config = structuredClone(config);
  for (const change of changes) {
    const m = /^\s*(\w+)\s+([\s\S]*?)\s*$/.exec(change);
    if (!m) throw invalidArgument(`invalid change "${change}": expected an instruction and its arguments, e.g. CMD ["sh"]`);
    const instruction = m[1]!.toUpperCase();
    const args = m[2]!;
    switch (instruction) {
      case "CMD":
        out.Cmd = commandForm(args);
        break;
      case "ENTRYPOINT":
        out.Entrypoint = commandForm(args);
        break;
      case "ENV":
        for (const [k, v] of keyValues(args, "ENV")) out.Env = [...(out.Env ?? []).filter((e) => !e.startsWith(`${k}=`)), `${k}=${v}`];
        break;
      case "LABEL":
        for (const [k, v] of keyValues(args, "LABEL")) out.Labels = { ...(out.Labels ?? {}), [k]: v };
        break;
      case "EXPOSE":
        for (const p of words(args)) out.ExposedPorts = { ...(out.ExposedPorts ?? {}), [p.includes("/") ? p : `${p}/tcp`]: {} };
        break;
      case "VOLUME":
        for (const v of args.startsWith("[") ? jsonArray(args) : words(args)) out.Volumes = { ...(out.Volumes ?? {}), [v]: {} };
        break;
      case "USER":
        out.User = args;
        break;
      case "WORKDIR":
        out.WorkingDir = args.startsWith("/") ? args : `${out.WorkingDir ?? "/"}/${args}`.replace(/\/+/g, "/");
        break;
      case "STOPSIGNAL":
        out.StopSignal = args;
        break;
      case "HEALTHCHECK":
        out.Healthcheck = parseHealthcheck(args);
        break;
      default:
        throw invalidArgument(`${instruction} is not a valid change command; supported: ${SUPPORTED.join(", ")}`);
    }
  }
  return out;
}

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go-style durations ("30s", "1m30s", "500ms") in nanoseconds. */
export function parseGoDuration(s: string, what: string): number {
  let total = 0;
  let rest = s;
  if (!rest) throw invalidArgument(`invalid duration "" for ${what}`);
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/.exec(rest);
    if (!m) throw invalidArgument(`invalid duration "${s}" for ${what}`, "use e.g. 30s, 1m30s, 500ms");
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return Math.round(total);
}

/** HEALTHCHECK [--interval=D --timeout=D --start-period=D --start-interval=D --retries=N] CMD ... | NONE */
export function parseHealthcheck(args: string): NonNullable<Config["Healthcheck"]> {
  let rest = args.trim();
  const hc: NonNullable<Config["Healthcheck"]> = {};
  for (;;) {
    const m = /^--([a-z-]+)=(\S+)\s+/.exec(rest);
    if (!m) break;
    const [, key, value] = m as unknown as [string, string, string];
    if (key === "retries") hc.Retries = Number(value);
    else if (key === "interval") hc.Interval = parseGoDuration(value, "--interval");
    else if (key === "timeout") hc.Timeout = parseGoDuration(value, "--timeout");
    else if (key === "start-period") hc.StartPeriod = parseGoDuration(value, "--start-period");
    else if (key === "start-interval") hc.StartInterval = parseGoDuration(value, "--start-interval");
    else throw invalidArgument(`HEALTHCHECK: unknown flag --${key}`);
    rest = rest.slice(m[0].length);
  }
  if (/^NONE$/i.test(rest)) return { Test: ["NONE"] };
  const cmd = /^CMD\s+([\s\S]+)$/i.exec(rest);
  if (!cmd) throw invalidArgument(`HEALTHCHECK ${args}: expected CMD <command> or NONE`);
  const form = cmd[1]!;
  hc.Test = form.startsWith("[") ? ["CMD", ...jsonArray(form)] : ["CMD-SHELL", form];
  return hc;
}

/** Exec form (a JSON array) or shell form (wrapped in /bin/sh -c). */
function commandForm(args: string): string[] {
  if (args.startsWith("[")) {
    try {
      return jsonArray(args);
    } catch {
      // Docker falls back to the shell form when the JSON does not parse.
    }
  }
  return ["/bin/sh", "-c", args];
}

function jsonArray(args: string): string[] {
  const v = JSON.parse(args);
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw invalidArgument(`expected a JSON array of strings: ${args}`);
  return v;
}

/** Split on whitespace, honouring double and single quotes and backslash escapes. */
export function words(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: string | null = null;
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === "\\" && i + 1 < s.length) {
      cur += s[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = "";
      has = false;
    } else cur += c;
  }
  if (quote) throw invalidArgument(`unterminated quote in "${s}"`);
  if (has || cur) out.push(cur);
  return out;
}

/** `K=V K2="v 2"` or the legacy `K V...` form. */
function keyValues(args: string, instruction: string): [string, string][] {
  const parts = words(args);
  if (parts.length > 0 && !parts[0]!.includes("=")) {
    const [k, ...rest] = parts;
    if (rest.length === 0) throw invalidArgument(`${instruction} ${args}: expected KEY=VALUE`);
    return [[k!, rest.join(" ")]];
  }
  return parts.map((p) => {
    const eq = p.indexOf("=");
    if (eq <= 0) throw invalidArgument(`${instruction} ${args}: "${p}" is not KEY=VALUE`);
    return [p.slice(0, eq), p.slice(eq + 1)];
  });
}
