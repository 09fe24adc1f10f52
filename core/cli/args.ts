// Command-line parsing with Docker's (pflag's) rules: long flags with
// "--name value" or "--name=value", short flags bundled ("-it") or with
// attached values ("-eKEY=v"), "--" ends flags, and for commands like
// `run` the first positional argument ends them too.
import { byteOrder } from "../compare.ts";
import { invalidArgument } from "../errors.ts";

export type FlagKind = "bool" | "string" | "list";

export interface FlagDef {
  name: string;
  short?: string;
  kind: FlagKind;
  help: string;
  /** Shown in help, e.g. "string", "bytes", "list". */
  valueName?: string;
  default?: string;
  /** Other long names accepted for this flag (e.g. --net for --network). */
  aliases?: string[];
}

export interface CommandDef {
  name: string;
  usage: string;
  summary: string;
  flags: FlagDef[];
  /** Stop parsing flags at the first positional argument (run, exec). */
  stopAtPositional?: boolean;
  minArgs?: number;
  maxArgs?: number;
  /** Extra help text after the options. */
  details?: string;
  run(ctx: CommandContext): Promise<number>;
}

export interface ParsedFlags {
  bool(name: string): boolean;
  string(name: string): string | undefined;
  list(name: string): string[];
  has(name: string): boolean;
}

export interface CommandContext {
  flags: ParsedFlags;
  args: string[];
  global: ParsedFlags;
}

export class UsageError extends Error {}

const HELP_FLAG: FlagDef = { name: "help", kind: "bool", help: "Print usage" };

export function parseArgs(argv: string[], defs: FlagDef[], stopAtPositional = false): { flags: ParsedFlags; args: string[] } {
  const all = [...defs, HELP_FLAG];
  const byLong = new Map<string, FlagDef>();
  for (const d of all) {
    byLong.set(d.name, d);
    for (const a of d.aliases ?? []) byLong.set(a, d);
  }
  const byShort = new Map(all.filter((d) => d.short).map((d) => [d.short!, d]));
  const values = new Map<string, string[]>();
  const set = (d: FlagDef, v: string) => {
    if (d.kind === "list") values.set(d.name, [...(values.get(d.name) ?? []), v]);
    else values.set(d.name, [v]);
  };
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("--") && a.length > 2) {
      const eq = a.indexOf("=");
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      const d = byLong.get(name);
      if (!d) throw new UsageError(`unknown flag: --${name}`);
      if (d.kind === "bool") {
        const v = eq > 0 ? a.slice(eq + 1) : "true";
        if (!["true", "false", "1", "0"].includes(v)) throw new UsageError(`invalid argument "${v}" for "--${name}" flag: must be true or false`);
        set(d, v === "true" || v === "1" ? "true" : "false");
      } else if (eq > 0) set(d, a.slice(eq + 1));
      else {
        if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: --${name}`);
        set(d, argv[++i]!);
      }
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        const d = byShort.get(c);
        if (!d) throw new UsageError(`unknown shorthand flag: '${c}' in ${a}`);
        if (d.kind === "bool") {
          set(d, "true");
          continue;
        }
        let v = a.slice(j + 1);
        if (v.startsWith("=")) v = v.slice(1);
        if (v === "") {
          if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: '${c}' in ${a}`);
          v = argv[++i]!;
        }
        set(d, v);
        break;
      }
      continue;
    }
    args.push(a);
    if (stopAtPositional) {
      args.push(...argv.slice(i + 1));
      break;
    }
  }
  const defaults = new Map(all.filter((d) => d.default !== undefined).map((d) => [d.name, d.default!]));
  const flags: ParsedFlags = {
    bool: (n) => (values.get(n)?.[0] ?? defaults.get(n)) === "true",
    string: (n) => values.get(n)?.[0] ?? defaults.get(n),
    list: (n) => values.get(n) ?? [],
    has: (n) => values.has(n),
  };
  return { flags, args };
}

/** Docker-style help text for a command. */
export function helpText(prog: string, def: Pick<CommandDef, "usage" | "summary" | "flags" | "details">): string {
  const lines = [`Usage:  ${prog} ${def.usage}`, "", def.summary];
  const flags = [...def.flags, HELP_FLAG].sort((a, b) => byteOrder(a.name, b.name));
  if (flags.length > 0) {
    lines.push("", "Options:");
    const left = flags.map((f) => {
      const value = f.kind === "bool" ? "" : ` ${f.valueName ?? (f.kind === "list" ? "list" : "string")}`;
      return `${f.short ? `-${f.short}, ` : "    "}--${f.name}${value}`;
    });
    const width = Math.max(...left.map((l) => l.length)) + 3;
    flags.forEach((f, i) => {
      const def = f.default !== undefined && f.kind !== "bool" ? ` (default ${JSON.stringify(f.default)})` : "";
      const alias = f.aliases?.length ? ` (also --${f.aliases.join(", --")})` : "";
      lines.push(`  ${left[i]!.padEnd(width)}${f.help}${def}${alias}`);
    });
  }
  if (def.details) lines.push("", def.details);
  return lines.join("\n") + "\n";
}

/** Docker's RAMInBytes: "512m", "1g", "100k", "1024", "2GiB". */
export function parseBytes(s: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp])?i?b?$/i.exec(s.trim());
  if (!m) throw invalidArgument(`invalid size: '${s}' for ${what}`, "use a number with an optional unit: b, k, m, g (e.g. 512m)");
  const unit = (m[2] ?? "").toLowerCase();
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[unit]!;
  return Math.floor(Number(m[1]) * mult);
}
