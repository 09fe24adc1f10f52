// The parse of a compose file, cached on disk by the hash of its text. The
// yaml package needs 10-25 ms to parse a 10-service file in a fresh process
// (its generator-based lexer runs cold), most of the budget of a no-op
// `berth compose up`; reading the cached result back takes well under 1 ms.
// The cache holds what parseYaml returns, values and positions (without the
// file name, which depends on the working directory), so a hit is exactly a
// parse. A failed parse is not cached; an unwritable cache is no cache.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { isMapping, setEntry, entryOf } from "./positions.ts";
import { parseYaml } from "./parse.ts";
import type { Position } from "../model.ts";

/** Bump when parseYaml's output changes. */
const FORMAT = 1;

/** Per container key: [key, keyLine, keyCol, valueLine, valueCol, tag, child positions]. */
type Row = [string | number, number, number, number, number, string, Row[] | 0];

export function cacheDir(): string {
  return `${process.env.XDG_CACHE_HOME || `${homedir()}/.cache`}/berth/compose`;
}

/** parseYaml(text, file), from the cache when this text was parsed before. */
export function parseYamlCached(text: string, file: string): Record<string, unknown> {
  // JSON cannot hold .inf and .nan: such files are parsed every time.
  if (/\.(inf|nan)\b/i.test(text)) return parseYaml(text, file);
  const path = `${cacheDir()}/${Bun.hash(text).toString(36)}-${text.length}-v${FORMAT}.json`;
  try {
    const { v, p } = JSON.parse(readFileSync(path, "utf8")) as { v: Record<string, unknown>; p: Row[] };
    restore(v, p, file);
    return v;
  } catch {
    // Not cached yet (or unreadable): parse, and cache it.
  }
  const doc = parseYaml(text, file);
  try {
    mkdirSync(cacheDir(), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ v: doc, p: rows(doc) }));
    renameSync(tmp, path);
    prune();
  } catch {
    // A read-only home: parse every time.
  }
  return doc;
}

/** Entries kept: the most recently written ones (a miss is rare; this runs only then). */
const KEEP = 256;

function prune() {
  const dir = cacheDir();
  const names = readdirSync(dir);
  if (names.length <= KEEP) return;
  const byAge = names.map((n) => ({ n, t: statSync(`${dir}/${n}`).mtimeMs })).sort((a, b) => b.t - a.t);
  for (const { n } of byAge.slice(KEEP)) rmSync(`${dir}/${n}`, { force: true });
}

function rows(container: Record<string, unknown> | unknown[]): Row[] {
  const keys: (string | number)[] = Array.isArray(container) ? container.map((_, i) => i) : Object.keys(container);
  return keys.map((k) => {
    const e = entryOf(container, k)!;
    const v = (container as Record<string | number, unknown>)[k];
    const child = Array.isArray(v) || isMapping(v) ? rows(v) : 0;
    return [k, e.key?.line ?? 0, e.key?.col ?? 0, e.value.line, e.value.col, e.tag ?? "", child];
  });
}

function restore(container: Record<string, unknown> | unknown[], list: Row[], file: string): void {
  for (const [k, kl, kc, vl, vc, tag, child] of list) {
    const key: Position | undefined = kl ? { file, line: kl, col: kc } : undefined;
    setEntry(container, k, { key, value: { file, line: vl, col: vc }, tag: tag || undefined });
    if (child) restore((container as Record<string | number, unknown>)[k] as Record<string, unknown>, child, file);
  }
}
