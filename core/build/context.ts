// The files a build reads: the build context (a directory, less what
// .dockerignore excludes) or another stage's or image's root filesystem
// (COPY --from). Sources are resolved inside their tree as if it were "/":
// symlinks on the way stay inside, "../" never leaves it.
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readSync, statSync, type Stats } from "node:fs";
import { posix } from "node:path";
import { invalidArgument, notFound } from "../errors.ts";
import { resolveInRoot } from "../paths.ts";
import { isIgnored, mayIncludeUnder, parseDockerignore, type IgnoreRules } from "./dockerignore.ts";

/** A tree of files a build copies from. */
export interface SourceTree {
  /** Host directory standing for "/". */
  root: string;
  /** The build context's .dockerignore (none for a stage or image). */
  rules?: IgnoreRules;
  /** A short name for errors: "build context", "stage builder", "image alpine". */
  what: string;
}

export function contextTree(dir: string): SourceTree {
  let rules: IgnoreRules | undefined;
  try {
    rules = parseDockerignore(readFileSync(`${dir}/.dockerignore`, "utf8"));
  } catch {
    rules = undefined;
  }
  return { root: dir, rules, what: "build context" };
}

/** A source as written ("src/*.ts", "./app", "/etc/x") to a clean path relative to the tree; refuses what leaves it. */
export function treePath(src: string, tree: SourceTree): string {
  const clean = posix.normalize(src.replace(/^\/+/, "")).replace(/\/+$/, "");
  if (clean === ".." || clean.startsWith("../")) throw invalidArgument(`forbidden path outside the ${tree.what}: ${src}`);
  return clean === "." ? "" : clean;
}

const ignored = (tree: SourceTree, rel: string) => rel !== "" && tree.rules !== undefined && isIgnored(tree.rules, rel);

/** One source of a COPY: a path in the tree and what it is (symlinks followed inside the tree). */
export interface Source {
  /** Path relative to the tree ("" for its root). */
  rel: string;
  /** Host path, symlinks resolved inside the tree. */
  host: string;
  stat: Stats;
}

const GLOB = /[*?[\\]/;

/** The sources a COPY/ADD argument names: one path, or what its wildcards match (Go's filepath.Match per component). */
export function matchSources(tree: SourceTree, src: string): Source[] {
  const rel = treePath(src, tree);
  if (!GLOB.test(rel)) {
    const host = resolveInRoot(tree.root, rel);
    const stat = statOrNull(host);
    if (!stat || ignored(tree, rel)) throw notFound(`file not found in ${tree.what}${tree.rules ? " or excluded by .dockerignore" : ""}: stat ${src}: file does not exist`);
    return [{ rel, host, stat }];
  }
  let found = [""];
  for (const part of rel.split("/")) {
    const next: string[] = [];
    for (const dir of found) {
      if (!GLOB.test(part)) {
        next.push(dir ? `${dir}/${part}` : part);
        continue;
      }
      const re = globRegExp(part);
      let names: string[];
      try {
        names = readdirSync(resolveInRoot(tree.root, dir));
      } catch {
        continue;
      }
      for (const n of names.sort()) if (re.test(n)) next.push(dir ? `${dir}/${n}` : n);
    }
    found = next;
  }
  const out: Source[] = [];
  for (const r of found) {
    if (ignored(tree, r)) continue;
    const host = resolveInRoot(tree.root, r);
    const stat = statOrNull(host);
    if (stat) out.push({ rel: r, host, stat });
  }
  if (out.length === 0) throw notFound(`no source files were specified: nothing in the ${tree.what} matches ${src}`);
  return out;
}

/** Go's filepath.Match for one path component: * ? [a-z] [^x] and \ escapes. */
export function globRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "\\" && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) throw invalidArgument(`syntax error in pattern "${pattern}"`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith("^")) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\(.)/g, "\\$1")}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

const escapeRe = (c: string) => c.replace(/[.+^${}()|[\]\\*?]/g, "\\$&");

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** What is under a directory source, depth first, names sorted: relative to it, never following symlinks; .dockerignore applies. */
export function* walkTree(tree: SourceTree, dir: Source): Generator<{ rel: string; host: string; stat: Stats }> {
  function* walk(rel: string, host: string): Generator<{ rel: string; host: string; stat: Stats }> {
    for (const name of readdirSync(host).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const inTree = dir.rel ? `${dir.rel}/${r}` : r;
      const h = `${host}/${name}`;
      const stat = lstatSync(h);
      const skip = ignored(tree, inTree);
      if (!skip) yield { rel: r, host: h, stat };
      if (stat.isDirectory() && (!skip || (tree.rules && mayIncludeUnder(tree.rules, inTree)))) yield* walk(r, h);
    }
  }
  yield* walk("", dir.host);
}

// ------------------------------------------------------------ content digests

/** Digests of files already read, by identity and change time: a rebuild reads only what changed. */
const digests = new Map<string, string>();
const MAX_DIGESTS = 200_000;

/** sha256 of a regular file's content. */
export function fileDigest(host: string, stat: Stats): string {
  const key = `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
  const known = digests.get(key);
  if (known) return known;
  const hash = new Bun.CryptoHasher("sha256");
  const fd = openSync(host, "r");
  try {
    const buf = Buffer.allocUnsafe(Math.min(Math.max(stat.size, 1), 1 << 20));
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  const digest = hash.digest("hex");
  if (digests.size >= MAX_DIGESTS) digests.clear();
  digests.set(key, digest);
  return digest;
}
