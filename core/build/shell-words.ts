// Variable substitution and word splitting for Dockerfile instructions, as
// BuildKit's shell.Lex does it (frontend/dockerfile/shell/lex.go). This is not
// a shell: there is no command substitution, globbing or arithmetic, only
// quotes, the escape character and $VAR / ${VAR...} references. RUN, CMD and
// ENTRYPOINT are never expanded here: the shell in the container does that.

import { invalidArgument } from "../errors.ts";

export type Env = ReadonlyMap<string, string>;

/** Switches of the lexer, named after buildkit's Lex fields. */
export interface LexOptions {
  /** The Dockerfile's escape character: "\\" (default) or "`". */
  escape?: string;
  /** Keep quote characters in the output (the Dockerfile parser looks for heredocs this way). */
  rawQuotes?: boolean;
  /** Keep escape characters in the output. */
  rawEscapes?: boolean;
  /** Leave references to unset variables as written. */
  skipUnsetEnv?: boolean;
  /** Treat quotes as plain characters (expanding heredoc bodies: `lex(body, env, { skipProcessQuotes: true })`). */
  skipProcessQuotes?: boolean;
  /** "Dockerfile:4", put in front of error messages. */
  where?: string;
}

/** The text as one word (`word`, spaces kept) and split into words (`words`). */
export interface LexResult {
  word: string;
  words: string[];
}

/** Errors inside the lexer; the exported functions turn them into BerthErrors. */
class LexError extends Error {}

/**
 * Go's unicode.IsSpace: Docker splits words on these (JavaScript's \s differs
 * in U+0085 and U+FEFF).
 */
export function isSpace(ch: string): boolean {
  const c = ch.codePointAt(0) ?? -1;
  return (
    (c >= 0x09 && c <= 0x0d) || c === 0x20 || c === 0x85 || c === 0xa0 || c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000
  );
}

/** Go's strings.TrimSpace. */
export function trimSpace(s: string): string {
  const cs = Array.from(s);
  let a = 0;
  let b = cs.length;
  while (a < b && isSpace(cs[a]!)) a++;
  while (b > a && isSpace(cs[b - 1]!)) b--;
  return cs.slice(a, b).join("");
}

/** Go's %q, near enough for error messages. */
export const quote = (s: string) => JSON.stringify(s);

const isLetter = (ch: string) => /\p{L}/u.test(ch);
const isDigit = (ch: string) => /\p{Nd}/u.test(ch);
// $@ $* $# $? $- $$ $! $0: POSIX special parameters, never set in a build.
const SPECIAL_PARAMS = "@*#?-$!0";

/** Collects split words: unquoted whitespace separates them, quoted text never does. */
function wordCollector() {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  const raw = (s: string) => {
    word += s;
    inWord = true;
  };
  const char = (ch: string) => {
    if (!isSpace(ch)) raw(ch);
    else if (inWord && word !== "") {
      words.push(word);
      word = "";
      inWord = false;
    }
  };
  return {
    raw,
    char,
    text: (s: string) => {
      for (const ch of s) char(ch);
    },
    done: () => {
      if (word !== "") words.push(word);
      word = "";
      inWord = false;
      return words;
    },
  };
}

/**
 * The lexer behind every export. Throws invalidArgument with Docker's wording,
 * e.g. `Dockerfile:3: failed to process "${X:?no}": X: no`.
 */
export function lex(text: string, env: Env, opts: LexOptions = {}): LexResult {
  const escape = opts.escape ?? "\\";
  const chars = Array.from(text); // code points, as Go's scanner reads runes
  let pos = 0;
  let rawEscapes = opts.rawEscapes ?? false;

  // Reads up to `stop` (consumed) or the end of the text.
  function until(stop: string | undefined, rawEsc: boolean): LexResult {
    const saved = rawEscapes;
    rawEscapes = rawEsc;
    try {
      let result = "";
      const words = wordCollector();
      while (pos < chars.length) {
        const ch = chars[pos]!;
        if (stop !== undefined && ch === stop) {
          pos++;
          return { word: result, words: words.done() };
        }
        if (ch === "$") {
          const s = dollar();
          result += s;
          words.text(s); // an expanded value is split on its spaces
          continue;
        }
        if (ch === "<") {
          const s = possibleHeredoc();
          result += s;
          words.raw(s);
          continue;
        }
        if (!opts.skipProcessQuotes && (ch === "'" || ch === '"')) {
          const s = ch === "'" ? singleQuoted() : doubleQuoted();
          result += s;
          words.raw(s);
          continue;
        }
        pos++;
        let c = ch;
        if (c === escape) {
          if (rawEscapes) {
            words.raw(c);
            result += c;
          }
          if (pos >= chars.length) break; // a trailing escape is dropped
          c = chars[pos++]!;
          words.raw(c);
        } else {
          words.char(c);
        }
        result += c;
      }
      if (stop !== undefined) throw new LexError(`unexpected end of statement while looking for matching ${stop}`);
      return { word: result, words: words.done() };
    } finally {
      rawEscapes = saved;
    }
  }

  // Everything up to the next ' is literal; a ' cannot be escaped inside.
  function singleQuoted(): string {
    pos++;
    let out = opts.rawQuotes ? "'" : "";
    for (;;) {
      if (pos >= chars.length) throw new LexError("unexpected end of statement while looking for matching single-quote");
      const c = chars[pos++]!;
      if (c === "'") return opts.rawQuotes ? out + c : out;
      out += c;
    }
  }

  // $ expands inside double quotes; the escape character escapes only " $ and itself.
  function doubleQuoted(): string {
    pos++;
    let out = opts.rawQuotes ? '"' : "";
    for (;;) {
      const c = chars[pos];
      if (c === undefined) throw new LexError("unexpected end of statement while looking for matching double-quote");
      if (c === '"') {
        pos++;
        return opts.rawQuotes ? out + c : out;
      }
      if (c === "$") {
        out += dollar();
        continue;
      }
      pos++;
      let ch = c;
      if (ch === escape) {
        if (rawEscapes) out += ch; // buildkit then writes it once more unless it escaped something
        const n = chars[pos];
        if (n === undefined) continue;
        if (n === '"' || n === "$" || n === escape) {
          ch = n;
          pos++;
        }
      }
      out += ch;
    }
  }

  // "<<" keeps the blanks after it, so `<< EOF` stays one word for heredoc detection.
  function possibleHeredoc(): string {
    pos++;
    if (chars[pos] !== "<") return "<";
    pos++;
    let out = "<<";
    while (chars[pos] === " " || chars[pos] === "\t" || chars[pos] === "\r") out += chars[pos++];
    return out;
  }

  function name(): string {
    let n = "";
    while (pos < chars.length) {
      const c = chars[pos]!;
      if (n === "" && isDigit(c)) {
        while (pos < chars.length && isDigit(chars[pos]!)) n += chars[pos++];
        return n;
      }
      if (n === "" && SPECIAL_PARAMS.includes(c)) {
        pos++;
        return c;
      }
      if (!isLetter(c) && !isDigit(c) && c !== "_") break;
      n += c;
      pos++;
    }
    return n;
  }

  // Reads a ${...} operand up to its "}", reporting a missing brace as Docker does.
  function operand(stop: string, rawEsc: boolean, missing: string): string {
    try {
      return until(stop, rawEsc).word;
    } catch (err) {
      if (err instanceof LexError && pos >= chars.length) throw new LexError(missing);
      throw err;
    }
  }

  function dollar(): string {
    pos++;
    if (chars[pos] !== "{") {
      const n = name();
      if (n === "") return "$";
      const v = env.get(n);
      if (v === undefined && opts.skipUnsetEnv) return "$" + n;
      return v ?? "";
    }
    pos++;
    const first = chars[pos];
    if (first === undefined) throw new LexError("syntax error: missing '}'");
    if (first === "{" || first === "}" || first === ":") throw new LexError("syntax error: bad substitution");
    const n = name();
    let op = chars[pos++];
    if (op === undefined) throw new LexError("syntax error: missing '}'");
    if (op === "}") {
      const v = env.get(n);
      if (v === undefined && opts.skipUnsetEnv) return "${" + n + "}";
      return v ?? "";
    }
    if (op === "/") return substitute(n);
    let modifier = op;
    const nullIsUnset = op === ":";
    if (nullIsUnset) {
      op = chars[pos++];
      if (op === undefined) throw new LexError("syntax error: missing '}'");
      modifier += op;
    } else if (!"+-?#%".includes(op)) {
      throw new LexError(`unsupported modifier (${modifier}) in substitution`);
    }
    const word = operand("}", op === "#" || op === "%", "syntax error: missing '}'");
    const value = env.get(n);
    if (value === undefined && opts.skipUnsetEnv) return "${" + n + modifier + word + "}";
    const unset = value === undefined || (nullIsUnset && value === "");
    switch (op) {
      case "-":
        return unset ? word : value!;
      case "+":
        return unset ? "" : word;
      case "?":
        if (value === undefined) throw new LexError(`${n}: ${word || "is not allowed to be unset"}`);
        if (unset) throw new LexError(`${n}: ${word || "is not allowed to be empty"}`);
        return value;
      case "#":
      case "%": {
        // # and % remove the shortest match, ## and %% the longest.
        const greedy = word.startsWith(op);
        const pattern = greedy ? word.slice(1) : word;
        return op === "#" ? trimPrefix(pattern, value ?? "", greedy) : trimSuffix(pattern, value ?? "", greedy);
      }
      default:
        throw new LexError(`unsupported modifier (${modifier}) in substitution`);
    }
  }

  // ${VAR/pattern/replacement} replaces the first match, ${VAR//pattern/replacement} all.
  function substitute(n: string): string {
    const all = chars[pos] === "/";
    if (all) pos++;
    const pattern = operand("/", true, "syntax error: missing '/' in ${}");
    const replacement = operand("}", true, "syntax error: missing '}'");
    const value = env.get(n);
    if (value === undefined && opts.skipUnsetEnv) return "${" + n + "/" + pattern + "/" + replacement + "}";
    const re = patternRegExp(pattern, true, false, all ? "g" : "");
    return (value ?? "").replace(re, () => replacement);
  }

  try {
    return until(undefined, rawEscapes);
  } catch (err) {
    if (!(err instanceof LexError)) throw err;
    throw invalidArgument(`${opts.where ? opts.where + ": " : ""}failed to process ${quote(text)}: ${err.message}`);
  }
}

/**
 * A ${VAR#pattern} pattern as a RegExp: * any run, ? one character, \ escapes
 * * ? \ (and the } or / that would end the operand). No [...] classes, as in buildkit.
 */
function patternRegExp(pattern: string, greedy: boolean, anchored: boolean, flags = ""): RegExp {
  const cs = Array.from(pattern);
  let out = anchored ? "^" : "";
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    if (c === "*") out += greedy ? "[^\\n]*" : "[^\\n]*?";
    else if (c === "?") out += "[^\\n]";
    else if (c === "\\") {
      const n = cs[i + 1];
      if (n === "}" || n === "/") continue; // the next round adds it literally
      if (n !== "*" && n !== "?" && n !== "\\") throw new LexError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${n ?? ""}'`);
      out += "\\" + n;
      i++;
    } else out += "[]{}.+()|^$".includes(c) ? "\\" + c : c;
  }
  return new RegExp(out, "u" + flags);
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = patternRegExp(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

// Regular expressions find the leftmost match only, so the shortest or longest
// suffix is found as a prefix of the reversed value with the reversed pattern.
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  const reverse = (s: string) => Array.from(s).reverse().join("");
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

/** Reverses a pattern, keeping each escape before the character it escapes: a\*c -> c\*a. */
function reversePattern(pattern: string): string {
  const cs = Array.from(pattern);
  const out: string[] = [];
  for (let i = 0; i < cs.length; ) {
    if (cs[i] === "\\" && i !== cs.length - 1) {
      out.unshift("\\" + cs[i + 1]);
      i += 2;
    } else out.unshift(cs[i++]!);
  }
  return out.join("");
}

/** One word, quotes removed, variables expanded (buildkit's ProcessWord): FROM, COPY, WORKDIR, ... */
export function expandWord(word: string, env: Env, escape = "\\", where?: string): string {
  return lex(word, env, { escape, where }).word;
}

/** Words split on unquoted whitespace, after expansion (buildkit's ProcessWords): EXPOSE. */
export function expandWords(text: string, env: Env, escape = "\\", where?: string): string[] {
  return lex(text, env, { escape, where }).words;
}

export interface KeyValueOptions {
  instruction: "env" | "label" | "arg";
  escape?: string;
  /** "Dockerfile:4", put in front of error messages. */
  where: string;
}

/**
 * The words of an ENV/LABEL/ARG line as Docker's parser cuts them: split on
 * unquoted whitespace, with quotes and escapes still in place for expansion.
 */
function rawWords(text: string, escape: string): string[] {
  const cs = Array.from(text);
  const words: string[] = [];
  let word = "";
  let quoted = false; // a quote was seen: an empty "" is still a word
  let open = ""; // the quote we are inside, if any
  const flush = () => {
    if (quoted || word !== "") words.push(word);
    word = "";
    quoted = false;
  };
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    if (open === "") {
      if (isSpace(c)) {
        flush();
        continue;
      }
      if (c === "'" || c === '"') {
        open = c;
        quoted = true;
      } else if (c === escape) {
        if (i + 1 === cs.length) continue; // a trailing escape is dropped
        word += c;
        i++;
      }
      word += cs[i];
    } else {
      if (c === open) open = "";
      else if (c === escape && open === '"') {
        if (i + 1 === cs.length) continue;
        word += c;
        i++;
      }
      word += cs[i];
    }
  }
  flush();
  return words;
}

/**
 * The unexpanded pairs of an ENV, LABEL or ARG instruction, with Docker's
 * errors. ENV and LABEL also take the legacy `ENV name value...` form; ARG
 * takes a bare `name` (value undefined).
 */
export function splitKeyValues(text: string, opts: KeyValueOptions): { key: string; value: string | undefined }[] {
  const name = opts.instruction.toUpperCase();
  const fail = (msg: string) => invalidArgument(`${opts.where}: ${msg}`);
  const words = rawWords(text, opts.escape ?? "\\");
  if (words.length === 0) throw fail(`${name} requires at least one argument`);

  const cut = (w: string) => {
    const i = w.indexOf("=");
    return { key: w.slice(0, i), value: w.slice(i + 1) };
  };
  if (opts.instruction === "arg") {
    return words.map((w) => {
      if (!w.includes("=")) return { key: w, value: undefined };
      const kv = cut(w);
      if (kv.key === "") throw fail("ARG names can not be blank");
      return kv;
    });
  }
  // Whether the first word has an "=" tells the forms apart, as in Docker.
  if (!words[0]!.includes("=")) {
    // `ENV name value...`: the value is the rest of the line, cut at the first blank run.
    const line = trimSpace(text);
    const gap = /[\t\v\f\r ]+/.exec(line);
    if (!gap) throw fail(`${name} must have two arguments`);
    return [{ key: line.slice(0, gap.index), value: line.slice(gap.index + gap[0].length) }];
  }
  for (const w of words) {
    if (!w.includes("=")) throw fail(`Syntax error - can't find = in ${quote(w)}. Must be of the form: name=value`);
  }
  const pairs = words.map(cut);
  if (pairs.some((p) => p.key === "")) throw fail(`${name} names can not be blank`);
  return pairs;
}

/**
 * ENV/LABEL/ARG pairs with keys and values expanded, all against `env` as it
 * was before the instruction (`ENV a=1 b=$a` gives b the old $a, as Docker does).
 */
export function parseKeyValues(
  text: string,
  env: Env,
  opts: KeyValueOptions,
): { key: string; value: string | undefined }[] {
  const lexOpts = { escape: opts.escape, where: opts.where };
  return splitKeyValues(text, opts).map(({ key, value }) => ({
    key: lex(key, env, lexOpts).word,
    value: value === undefined ? undefined : lex(value, env, lexOpts).word,
  }));
}
