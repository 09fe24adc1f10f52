// The Dockerfile parser: text -> instructions, as BuildKit's frontend reads it
// (frontend/dockerfile/parser and the checks of instructions/parse.go).
// Nothing is expanded here: ${VAR} references stay as written for the builder,
// which expands them per instruction with shell-words.ts.

import { invalidArgument } from "../errors.ts";
import { isSpace, lex, quote, splitKeyValues, trimSpace } from "./shell-words.ts";

export interface Heredoc {
  name: string;
  /** The body as written, line endings included; for `<<-` leading tabs are already stripped. */
  content: string;
  /** False when the delimiter was quoted (`<<"EOF"`, `<<'EOF'`): the body is taken literally. */
  expand: boolean;
  /** `<<-`: leading tabs stripped from the body and the delimiter line. */
  chomp: boolean;
}

export interface Instruction {
  /** Lower-case keyword: "from", "run", "copy", ... */
  cmd: string;
  /** 1-based first line. */
  line: number;
  /** Last line (continuations, heredoc bodies). */
  endLine: number;
  /** The instruction as written, continuations joined, comments inside it dropped. */
  original: string;
  /** Leading `--name[=value]` flags; a flag without value is [""]; repeatable ones (--mount, --exclude) collect. */
  flags: Record<string, string[]>;
  /**
   * Exec form: the JSON array. Otherwise per instruction:
   * RUN/CMD/ENTRYPOINT [rest of line]; ENV/LABEL/ARG [raw remainder] (see
   * shell-words' parseKeyValues); COPY/ADD/VOLUME/EXPOSE/FROM words split on
   * whitespace, quotes left in for expandWord (Docker needs the JSON form for
   * paths with spaces); WORKDIR/USER/STOPSIGNAL/MAINTAINER [rest];
   * FROM [image] or [image, "AS", name] (name lower-cased); HEALTHCHECK
   * ["NONE"] or ["CMD", ...command] (json tells the command's form);
   * ONBUILD [trigger text] with the parsed trigger in `onbuild`.
   */
  args: string[];
  /** The JSON (exec) form was used. */
  json: boolean;
  heredocs: Heredoc[];
  /** ONBUILD: the wrapped instruction (its heredocs are on it). */
  onbuild?: Instruction;
}

export interface Dockerfile {
  escape: string;
  /** The `# syntax=` frontend reference, if any. */
  syntax?: string;
  /** All instructions in order; ARGs before the first FROM are here too. */
  instructions: Instruction[];
}

const COMMANDS = [
  "add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck",
  "label", "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir",
];

type FlagKind = "bool" | "string" | "strings";

/** The flags each instruction accepts; "strings" ones may repeat. */
const FLAGS: Record<string, Record<string, FlagKind>> = {
  from: { platform: "string" },
  run: { mount: "strings", network: "string", security: "string" },
  copy: { from: "string", chown: "string", chmod: "string", link: "bool", parents: "bool", exclude: "strings" },
  add: { chown: "string", chmod: "string", link: "bool", checksum: "string", "keep-git-dir": "bool", exclude: "strings" },
  healthcheck: { interval: "string", timeout: "string", "start-period": "string", "start-interval": "string", retries: "string" },
};

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;
const BLANKS = /[\t\v\f\r ]+/; // Docker's whitespace between words of a line
const HEREDOC = /^(\d*)<<(-?)\s*([^<]*)$/;
const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/; // after the "#"
const DIRECTIVES = ["escape", "syntax", "check"];

/** Parses a Dockerfile; every error names `file:line`. */
export function parseDockerfile(text: string, file = "Dockerfile"): Dockerfile {
  if (trimSpace(text) === "") throw invalidArgument(`the Dockerfile (${file}) cannot be empty`);
  const where = (line: number) => `${file}:${line}`;
  const fail: Fail = (line, msg, hint) => invalidArgument(`${where(line)}: ${msg}`, hint);
  const lines = splitLines(text.replace(/^\uFEFF/, ""));
  const df: Dockerfile = { escape: "\\", syntax: detectSyntax(lines), instructions: [] };
  const directives = directiveReader(df, fail);
  let continuation = continuationRegExp(df.escape);

  let i = 0;
  while (i < lines.length) {
    const start = i + 1;
    const first = trimLeft(trimNewline(lines[i++]!));
    if (directives(first, start)) {
      continuation = continuationRegExp(df.escape);
      continue;
    }
    if (isComment(first)) continue;
    let [joined, more] = trimContinuation(first, continuation);
    if (!more && joined === "") continue;
    // Comment and blank lines inside a continued instruction are skipped.
    while (more && i < lines.length) {
      const next = trimNewline(lines[i++]!);
      if (isComment(next) || trimLeft(next) === "") continue;
      const [part, again] = trimContinuation(next, continuation);
      joined += part;
      more = again;
    }
    const inst = parseInstruction(joined, start, { escape: df.escape, where, fail });
    // Heredoc bodies follow the instruction's last line, one after the other.
    const target = inst.onbuild ?? inst;
    if (["run", "copy", "add"].includes(target.cmd) && !target.json && joined.includes("<<")) {
      for (const doc of heredocsOf(joined)) {
        const body = readHeredoc(lines, i, doc);
        if (!body) throw fail(start, "unterminated heredoc", `end the heredoc with a line holding only ${doc.name}`);
        target.heredocs.push(body.heredoc);
        i = body.next;
      }
    }
    inst.endLine = i;
    if (inst.onbuild) inst.onbuild.endLine = i;
    df.instructions.push(inst);
  }

  if (df.instructions.length === 0) throw fail(lines.length, "file with no instructions");
  const firstFrom = df.instructions.findIndex((x) => x.cmd === "from");
  const stray = df.instructions.slice(0, firstFrom < 0 ? undefined : firstFrom).find((x) => x.cmd !== "arg");
  if (stray) throw fail(stray.line, "no build stage in current context", "start the Dockerfile with FROM (only ARG may come before it)");
  return df;
}

/** Lines with their line endings kept (heredoc bodies need them). */
function splitLines(text: string): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < text.length) {
    const nl = text.indexOf("\n", at);
    const end = nl < 0 ? text.length : nl + 1;
    out.push(text.slice(at, end));
    at = end;
  }
  return out;
}

/** One heredoc body from lines[at] up to its delimiter line; undefined when the file ends first. */
function readHeredoc(lines: string[], at: number, doc: Omit<Heredoc, "content">): { heredoc: Heredoc; next: number } | undefined {
  let content = "";
  for (let i = at; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = trimNewline(raw);
    if ((doc.chomp ? line.replace(/^\t+/, "") : line) === doc.name) {
      // <<- strips leading tabs from every body line too.
      return { heredoc: { ...doc, content: doc.chomp ? content.replace(/(^|\n)\t+/g, "$1") : content }, next: i + 1 };
    }
    content += raw;
  }
  return undefined;
}

const trimNewline = (s: string) => s.replace(/[\r\n]+$/, "");
const isComment = (s: string) => trimLeft(s).startsWith("#");

function trimLeft(s: string): string {
  let n = 0;
  for (const ch of s) {
    if (!isSpace(ch)) break;
    n += ch.length;
  }
  return s.slice(n);
}

/**
 * The escape character ends a continued line when it is the last thing on it
 * (blanks may follow), unless it is itself escaped.
 */
function continuationRegExp(escape: string): RegExp {
  const e = escape === "\\" ? "\\\\" : "`";
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

function trimContinuation(line: string, re: RegExp): [string, boolean] {
  return re.test(line) ? [line.replace(re, "$1"), true] : [line, false];
}

/**
 * Parser directives (`# escape=`, `# syntax=`, `# check=`) count only in the
 * comment lines at the very top; the first other line (instruction, comment,
 * blank) ends them. Returns whether the line was one.
 */
function directiveReader(df: Dockerfile, fail: (line: number, msg: string) => Error) {
  let done = false;
  const seen = new Set<string>();
  return (line: string, n: number): boolean => {
    if (done) return false;
    const m = line.startsWith("#") ? DIRECTIVE.exec(trimLeft(line.slice(1))) : null;
    const key = m?.[1]!.toLowerCase();
    if (!m || !key || !DIRECTIVES.includes(key)) {
      done = true;
      return false;
    }
    if (seen.has(key)) throw fail(n, `only one ${key} parser directive can be used`);
    seen.add(key);
    if (key === "escape") {
      if (m[2] !== "\\" && m[2] !== "`") throw fail(n, `invalid escape token '${m[2]}' does not match \` or \\`);
      df.escape = m[2];
    }
    return true;
  };
}

/** The `# syntax=` reference (first word), found as BuildKit does: a `#!` line before it is allowed. */
function detectSyntax(lines: string[]): string | undefined {
  const start = lines[0]?.startsWith("#!") ? 1 : 0;
  for (const raw of lines.slice(start)) {
    const line = trimNewline(raw);
    const m = line.startsWith("#") ? DIRECTIVE.exec(trimLeft(line.slice(1))) : null;
    const key = m?.[1]!.toLowerCase();
    if (!m || !key || !DIRECTIVES.includes(key)) return undefined;
    if (key === "syntax") return m[2]!.split(" ")[0];
  }
  return undefined;
}

type Fail = (line: number, msg: string, hint?: string) => Error;
interface Ctx {
  escape: string;
  where: (line: number) => string;
  fail: Fail;
}

/** One joined instruction line -> Instruction (heredoc bodies are added by the caller). */
function parseInstruction(line: string, at: number, ctx: Ctx): Instruction {
  const { fail } = ctx;
  const { cmd: written, flagWords, rest } = splitCommand(line);
  const cmd = written.toLowerCase();
  if (!COMMANDS.includes(cmd)) throw fail(at, `unknown instruction: ${written}${suggestion(written)}`);
  const flags = parseFlags(cmd, flagWords, at, fail);
  const inst: Instruction = { cmd, line: at, endLine: at, original: line, flags, args: [], json: false, heredocs: [] };
  const NAME = cmd.toUpperCase();

  switch (cmd) {
    case "run":
    case "cmd":
    case "entrypoint":
    case "shell":
      Object.assign(inst, maybeJSON(rest, at, fail));
      if (cmd === "shell" && !inst.json) throw fail(at, "SHELL requires the arguments to be in JSON form", 'write it as SHELL ["executable", "parameters"]');
      if (cmd === "shell" && inst.args.length === 0) throw fail(at, "SHELL requires at least one argument");
      break;
    case "copy":
    case "add":
    case "volume": {
      const json = maybeJSON(rest, at, fail);
      Object.assign(inst, json.json ? json : { args: words(rest), json: false });
      if (cmd === "volume") {
        if (inst.args.length === 0) throw fail(at, "VOLUME requires at least one argument");
        if (inst.args.some((v) => trimSpace(v) === "")) throw fail(at, "VOLUME specified can not be an empty string");
      } else if (inst.args.length < 2) {
        throw fail(at, `${NAME} requires at least two arguments, but only one was provided. Destination could not be determined`);
      } else if (heredocWord(inst.args[inst.args.length - 1]!)) {
        throw fail(at, `${NAME} cannot accept a heredoc as a destination`);
      }
      break;
    }
    case "expose":
      inst.args = words(rest);
      if (inst.args.length === 0) throw fail(at, "EXPOSE requires at least one argument");
      break;
    case "from":
      inst.args = parseFrom(words(rest), at, fail);
      break;
    case "env":
    case "label":
    case "arg":
      // Checked now so errors come at parse time; expanded by the builder.
      splitKeyValues(rest, { instruction: cmd, escape: ctx.escape, where: ctx.where(at) });
      inst.args = [rest];
      break;
    case "maintainer":
    case "workdir":
    case "user":
    case "stopsignal":
      if (rest === "") throw fail(at, `${NAME} requires exactly one argument`);
      inst.args = [rest];
      break;
    case "healthcheck":
      Object.assign(inst, parseHealthcheck(rest, at, fail));
      break;
    case "onbuild": {
      if (rest === "") throw fail(at, "ONBUILD requires at least one argument");
      const trigger = rest.split(BLANKS)[0]!.toUpperCase();
      if (trigger === "ONBUILD") throw fail(at, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger === "FROM" || trigger === "MAINTAINER") throw fail(at, `${trigger} isn't allowed as an ONBUILD trigger`);
      inst.onbuild = parseInstruction(rest, at, ctx);
      inst.args = [rest];
      break;
    }
  }
  return inst;
}

/** The keyword, the leading --flags and the rest of the line. */
function splitCommand(line: string): { cmd: string; flagWords: string[]; rest: string } {
  const trimmed = trimSpace(line);
  const m = BLANKS.exec(trimmed);
  if (!m) return { cmd: trimmed, flagWords: [], rest: "" };
  const { rest, flagWords } = extractFlags(trimmed.slice(m.index + m[0].length));
  return { cmd: trimmed.slice(0, m.index), flagWords, rest: trimSpace(rest) };
}

/**
 * Leading words starting with "--" are flags (quotes and \ work in them as in
 * Docker); a bare "--" ends them and is dropped.
 */
function extractFlags(text: string): { rest: string; flagWords: string[] } {
  const flagWords: string[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && isSpace(text[i]!)) i++;
    if (!text.startsWith("--", i)) return { rest: text.slice(i), flagWords };
    let word = "";
    let open = "";
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (open === "" && isSpace(c)) break;
      if (open === "" && (c === "'" || c === '"')) open = c;
      else if (c === open) open = "";
      else if (c === "\\") {
        if (i + 1 < text.length) word += text[++i];
      } else word += c;
    }
    if (word === "--") return { rest: text.slice(i), flagWords };
    flagWords.push(word);
  }
}

/** Checks flags against what the instruction accepts, with Docker's messages. */
function parseFlags(cmd: string, flagWords: string[], at: number, fail: Fail): Record<string, string[]> {
  const allowed = FLAGS[cmd] ?? {};
  const hint = Object.keys(allowed).length
    ? `${cmd.toUpperCase()} accepts ${Object.keys(allowed).map((f) => "--" + f).join(", ")}`
    : `${cmd.toUpperCase()} takes no flags`;
  const flags: Record<string, string[]> = {};
  for (const w of flagWords) {
    const body = w.slice(2);
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? "" : body.slice(eq + 1);
    const kind = allowed[name];
    if (!kind) throw fail(at, `Unknown flag: ${name}`, hint);
    if (flags[name] && kind !== "strings") throw fail(at, `Duplicate flag specified: ${name}`);
    if (kind === "bool" && eq >= 0 && !["true", "false"].includes(value.toLowerCase())) {
      throw fail(at, value === "" ? `Missing a value on flag: ${name}` : `Expecting boolean value for flag ${name}, not: ${value}`);
    }
    if (kind !== "bool" && eq < 0) throw fail(at, `Missing a value on flag: ${name}`, `write it as --${name}=<value>`);
    (flags[name] ??= []).push(value);
  }
  return flags;
}

/** A JSON array of strings is the exec form; anything else (even broken JSON) is the shell form. */
function maybeJSON(rest: string, at: number, fail: Fail): { args: string[]; json: boolean } {
  if (rest === "") return { args: [], json: false };
  if (trimLeft(rest).startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rest);
    } catch {
      parsed = undefined;
    }
    if (Array.isArray(parsed)) {
      if (!parsed.every((x) => typeof x === "string")) {
        throw fail(at, "when using JSON array syntax, arrays must be comprised of strings only");
      }
      return { args: parsed, json: true };
    }
  }
  return { args: [rest], json: false };
}

const words = (rest: string) => (rest === "" ? [] : rest.split(BLANKS));

function parseFrom(args: string[], at: number, fail: Fail): string[] {
  if (args.length === 3 && args[1]!.toLowerCase() === "as") {
    const name = args[2]!.toLowerCase();
    if (!STAGE_NAME.test(name)) {
      throw fail(at, `invalid name for build stage: ${quote(args[2]!)}, name can't start with a number or contain symbols`);
    }
    return [args[0]!, "AS", name];
  }
  if (args.length !== 1) throw fail(at, "FROM requires either one or three arguments", "write FROM <image> [AS <name>]");
  return args;
}

/** HEALTHCHECK NONE, or HEALTHCHECK [flags] CMD <shell or JSON command>. */
function parseHealthcheck(rest: string, at: number, fail: Fail): { args: string[]; json: boolean } {
  if (rest === "") throw fail(at, "HEALTHCHECK requires at least one argument");
  const sep = Array.from(rest).findIndex(isSpace);
  const type = (sep < 0 ? rest : Array.from(rest).slice(0, sep).join("")).toUpperCase();
  const command = sep < 0 ? "" : trimLeft(Array.from(rest).slice(sep).join(""));
  if (type === "NONE") {
    if (command !== "") throw fail(at, "HEALTHCHECK NONE takes no arguments");
    return { args: ["NONE"], json: false };
  }
  if (type !== "CMD") throw fail(at, `Unknown type ${quote(type)} in HEALTHCHECK (try CMD)`);
  const cmd = maybeJSON(command, at, fail);
  if (cmd.args.length === 0) throw fail(at, "Missing command after HEALTHCHECK CMD");
  return { args: ["CMD", ...cmd.args], json: cmd.json };
}

/**
 * The heredocs a line opens, in order: words like <<EOF, <<-EOF, 3<<EOF,
 * <<"EOF"; a quoted delimiter turns expansion off.
 */
function heredocsOf(line: string): Omit<Heredoc, "content">[] {
  let found: string[];
  try {
    found = lex(line, new Map(), { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }).words;
  } catch {
    return []; // Docker ignores lines its lexer cannot read here
  }
  return found.flatMap((w) => {
    const doc = heredocWord(w);
    return doc ? [doc] : [];
  });
}

/** One word as a heredoc opener, or undefined. */
function heredocWord(word: string): Omit<Heredoc, "content"> | undefined {
  const m = HEREDOC.exec(word);
  if (!m || m[3] === "") return undefined;
  let plain: string[];
  let raw: string[];
  try {
    plain = lex(m[3]!, new Map(), { skipUnsetEnv: true }).words;
    raw = lex(m[3]!, new Map(), { skipUnsetEnv: true, rawQuotes: true }).words;
  } catch {
    return undefined;
  }
  if (plain.length !== 1) return undefined;
  // Quotes that the lexer removed were real quotes: the delimiter was quoted.
  const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
  return { name: plain[0]!, expand: quotes(plain[0]!) === quotes(raw[0] ?? ""), chomp: m[2] === "-" };
}

/** " (did you mean FROM?)" for a near miss, as BuildKit suggests. */
function suggestion(written: string): string {
  const v = written.toLowerCase();
  let best = "";
  let min = 3;
  for (const c of COMMANDS) {
    const d = levenshtein(v, c);
    if (d < min) {
      min = d;
      best = c;
    }
  }
  if (!best) return "";
  const cased = written === written.toLowerCase() ? best : written === written.toUpperCase() ? best.toUpperCase() : best;
  return ` (did you mean ${cased}?)`;
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
