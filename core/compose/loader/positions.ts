// Where each value was written. Positions ride on the containers (objects and
// arrays) that hold the values, in a WeakMap, rather than in an index keyed by
// path: merge, extends and include move values around, and a value moved with
// its container keeps its file:line:col without any re-indexing.
import { relative } from "node:path";
import { BerthError, type ErrorKind } from "../../errors.ts";
import type { Position, ValuePath } from "../model.ts";

/** One key or index of a container: where its key and its value were written, and the value's YAML tag (!reset, !override). */
export interface Entry {
  key?: Position;
  value: Position;
  tag?: string;
}

type Container = Record<string, unknown> | unknown[];
const entries = new WeakMap<object, Map<string | number, Entry>>();

export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function setEntry(container: Container, key: string | number, entry: Entry): void {
  let m = entries.get(container);
  if (!m) entries.set(container, (m = new Map()));
  m.set(key, entry);
}

export function entryOf(container: unknown, key: string | number): Entry | undefined {
  return typeof container === "object" && container !== null ? entries.get(container)?.get(key) : undefined;
}

/** Give `to[toKey]` the position `from[fromKey]` had. */
export function copyEntry(from: unknown, fromKey: string | number, to: Container, toKey: string | number): void {
  const e = entryOf(from, fromKey);
  if (e) setEntry(to, toKey, e);
}

/** A deep copy that keeps every position (aliases and extends reuse a subtree in another place). */
export function cloneValue<T>(v: T): T {
  if (Array.isArray(v)) {
    const out = v.map((x) => cloneValue(x));
    v.forEach((_, i) => copyEntry(v, i, out, i));
    return out as T;
  }
  if (isMapping(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) {
      out[k] = cloneValue(v[k]);
      copyEntry(v, k, out, k);
    }
    return out as T;
  }
  return v;
}

/** The position of the value at `path`, or of its nearest written ancestor when the value is missing. */
export function positionAt(root: unknown, path: ValuePath, exact = false): Position | undefined {
  let cur: unknown = root;
  let found: Position | undefined;
  for (const key of path) {
    const e = entryOf(cur, key);
    if (!e) return exact ? undefined : found;
    found = e.value;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return found;
}

/** The position of the key at the end of `path` (for "unknown key" errors), else of its value. */
export function keyPositionAt(root: unknown, path: ValuePath): Position | undefined {
  if (path.length === 0) return undefined;
  const parent = valueAt(root, path.slice(0, -1));
  const e = entryOf(parent, path[path.length - 1]!);
  return e?.key ?? e?.value ?? positionAt(root, path);
}

export function valueAt(root: unknown, path: ValuePath): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

/** services.web.ports[0] */
export function formatPath(path: ValuePath): string {
  let out = "";
  for (const k of path) out += typeof k === "number" ? `[${k}]` : out ? `.${k}` : k;
  return out;
}

export function formatPosition(pos: Position | undefined): string {
  return pos ? `${pos.file}:${pos.line}:${pos.col}` : "";
}

/** An error (InvalidArgument unless told) whose message starts with "file:line:col: ". */
export function errorAt(pos: Position | undefined, message: string, hint?: string, kind: ErrorKind = "InvalidArgument"): BerthError {
  return new BerthError(kind, pos ? `${formatPosition(pos)}: ${message}` : message, hint);
}

/** A path as messages show it: relative to the working directory when that is shorter. */
export function shownPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel.length < file.length ? rel : file;
}
