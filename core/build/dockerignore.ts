// .dockerignore as Docker reads it: moby/patternmatcher's ignorefile.ReadAll
// for the file and its PatternMatcher for matching. Paths are context-relative
// and slash-separated. A path is excluded when the last pattern that matches
// it, or one of its parent directories, is not a "!" exception.
//
// Docker always sends the Dockerfile and .dockerignore to the builder even
// when they are excluded (so it can read them): see alwaysKept. They still
// count as excluded for COPY and ADD.

import { posix } from "node:path";
import { invalidArgument } from "../errors.ts";

type Match = (path: string) => boolean;

interface Pattern {
  /** The cleaned pattern, without its "!". */
  text: string;
  exception: boolean;
  /** Its "/"-separated parts, for mayIncludeUnder. */
  dirs: string[];
  match: Match;
}

export interface IgnoreRules {
  readonly patterns: readonly Pattern[];
}

/** Parses .dockerignore text; a bad pattern is an error naming its line. */
export function parseDockerignore(text: string): IgnoreRules {
  const patterns: Pattern[] = [];
  text.replace(/^\uFEFF/, "").split(/\r?\n/).forEach((line, i) => {
    if (line.startsWith("#")) return; // only a # in the first column starts a comment
    let p = line.trim();
    if (p === "") return;
    const exception = p.startsWith("!");
    if (exception) p = p.slice(1).trim();
    if (p !== "") {
      p = posix.normalize(p).replace(/(.)\/+$/, "$1"); // Go's filepath.Clean
      if (p.length > 1 && p.startsWith("/")) p = p.slice(1); // "/foo" means foo in the context
    }
    if (p === "") throw invalidArgument(`.dockerignore:${i + 1}: illegal exclusion pattern: "!"`, "write the path to re-include after the !");
    const bad = syntaxError(p);
    if (bad) throw invalidArgument(`.dockerignore:${i + 1}: syntax error in pattern ${JSON.stringify(p)}: ${bad}`);
    patterns.push({ text: p, exception, dirs: p.split("/"), match: compile(p) });
  });
  return { patterns };
}

/** Is this context-relative path (posix, no leading "/") excluded? */
export function isIgnored(rules: IgnoreRules, path: string): boolean {
  const file = posix.normalize(path).replace(/^\/+/, "").replace(/(.)\/+$/, "$1");
  if (file === "" || file === ".") return false; // the context root itself is never excluded
  const parents = file.split("/").slice(0, -1).map((_, i, all) => all.slice(0, i + 1).join("/"));
  let excluded = false;
  for (const p of rules.patterns) {
    // Only a pattern that could change the verdict is tried, as Docker does.
    if (p.exception !== excluded) continue;
    if (p.match(file) || parents.some(p.match)) excluded = !p.exception;
  }
  return excluded;
}

/**
 * Whether an excluded directory must still be walked: some "!" exception
 * could re-include something strictly below it. When it says false, nothing
 * below `dir` can be included, so a walker may skip it. (Docker's own walker
 * only looks for exceptions that start with the directory's path; this is
 * exact, and so also walks for exceptions like `!*\/keep` or `!**\/*.go`.)
 */
export function mayIncludeUnder(rules: IgnoreRules, dir: string): boolean {
  const segs = posix.normalize(dir).replace(/^\/+|\/+$/g, "").split("/");
  return rules.patterns.some((p) => p.exception && reachesBelow(p.dirs, segs));
}

// A pattern without "**" matches only paths with as many parts as it has, so
// one no longer than `dir` decides the same for everything below as for dir.
function reachesBelow(patternDirs: string[], dirSegs: string[]): boolean {
  for (let j = 0; j < patternDirs.length; j++) {
    const part = patternDirs[j]!;
    if (part.includes("**")) return true;
    if (j >= dirSegs.length) return true;
    try {
      if (!compile(part)(dirSegs[j]!)) return false;
    } catch {
      return true; // a part that is no pattern alone ("[/]" cut in two): assume it may match
    }
  }
  return false;
}

/**
 * Docker never sends a context without these two: the CLI re-includes the
 * Dockerfile and .dockerignore so the builder can read them. The builder
 * still treats them as excluded for COPY/ADD (the daemon removes them).
 */
export function alwaysKept(path: string, dockerfileName = "Dockerfile"): boolean {
  const clean = (p: string) => posix.normalize(p).replace(/^(\.\/)+|^\/+/, "");
  const file = clean(path);
  return file === ".dockerignore" || file === clean(dockerfileName);
}

/**
 * A pattern as a matcher, with patternmatcher's four kinds: exact text,
 * "dir/**" prefix, "**name" suffix, else a regular expression where * and ?
 * stay within one path part, "**" spans any number of parts, [...] is a
 * class as in Go's filepath.Match and \ escapes the next character.
 */
function compile(pattern: string): Match {
  const cs = Array.from(pattern);
  let kind: "exact" | "prefix" | "suffix" | "regexp" = "exact";
  let re = "^";
  let inClass = false;
  for (let i = 0, k = 0; k < cs.length; i++) {
    const c = cs[k++]!;
    if (inClass) {
      if (c === "]") inClass = false;
      re += c === "]" || c === "-" || (c === "^" && cs[k - 2] === "[") ? c : literal(c === "\\" ? cs[k++]! : c);
    } else if (c === "*" && cs[k] === "*") {
      k++;
      if (cs[k] === "/") k++; // "**/" is "**"
      if (k >= cs.length) {
        if (kind === "exact") kind = "prefix";
        else {
          re += "[^\\n]*";
          kind = "regexp";
        }
      } else {
        re += "(?:[^\\n]*/)?";
        kind = "regexp";
      }
      if (i === 0) kind = "suffix";
    } else if (c === "*") {
      re += "[^/]*";
      kind = "regexp";
    } else if (c === "?") {
      re += "[^/]";
      kind = "regexp";
    } else if (c === "\\" && k < cs.length) {
      re += literal(cs[k++]!);
      kind = "regexp";
    } else if (c === "[") {
      re += "[";
      inClass = true;
      kind = "regexp";
    } else {
      if (c === "]") kind = "regexp";
      re += literal(c);
    }
  }
  switch (kind) {
    case "exact":
      return (path) => path === pattern;
    case "prefix": {
      const prefix = pattern.slice(0, -2);
      return (path) => path.startsWith(prefix);
    }
    case "suffix": {
      // "**/foo" also matches "foo" itself.
      const suffix = pattern.slice(2);
      return (path) => path.endsWith(suffix) || (suffix.startsWith("/") && path === suffix.slice(1));
    }
    case "regexp": {
      const compiled = new RegExp(re + "$", "u");
      return (path) => compiled.test(path);
    }
  }
}

/** One character, matched literally (the \u{...} form is valid inside and outside classes). */
const literal = (c: string) => (/[\p{L}\p{N}_]/u.test(c) ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`);

/**
 * What Go's filepath.Match rejects as ErrBadPattern: an unclosed or empty
 * [...] class, a bad range, a trailing "\". Undefined when the pattern is fine.
 */
function syntaxError(pattern: string): string | undefined {
  const cs = Array.from(pattern);
  for (let k = 0; k < cs.length; k++) {
    const c = cs[k]!;
    if (c === "\\") {
      if (++k >= cs.length) return "trailing backslash";
    } else if (c === "[") {
      k++;
      if (cs[k] === "^") k++;
      // One char (or \char) of a range, which may not be empty, "-" or "]".
      const rangeChar = (): boolean => {
        const ch = cs[k];
        if (ch === undefined || ch === "-" || ch === "]") return false;
        if (ch === "\\" && ++k >= cs.length) return false;
        k++;
        return true;
      };
      for (let first = true; ; first = false) {
        if (!first && cs[k] === "]") break;
        if (!rangeChar()) return "bad character class";
        if (cs[k] === "-") {
          k++;
          if (!rangeChar()) return "bad range";
        }
      }
    }
  }
  return undefined;
}
