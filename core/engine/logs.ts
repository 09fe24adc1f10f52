// Reading a container's log in Docker's json-file format, as `docker logs`
// does (GET /containers/{id}/logs): one JSON object per line
//   {"log":"text\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}
// in PATH (newest) and its rotations PATH.1 ... PATH.N (N oldest), written by
// another process while we read.
//
// Files are held open and told apart by inode: a rotation (PATH renamed to
// PATH.1, a new PATH created; the oldest deleted past max-file) while we read
// costs neither a duplicate nor a loss, and an open descriptor keeps a
// rotated-away or deleted file readable. The listing of the rotated files is
// checked for consistency (see discover). A line is parsed only once its
// newline is written; corrupt lines are skipped.
import { closeSync, type FSWatcher, fstatSync, openSync, read, readdirSync, statSync, watch } from "node:fs";
import { promisify } from "node:util";
import { basename, dirname } from "node:path";
import { errnoCode, invalidArgument } from "../errors.ts";

export interface LogOptions {
  stdout: boolean;
  stderr: boolean;
  /** Unix seconds (fractional), or the API's "seconds[.nanoseconds]" string; entries at or after it. 0: no filter. */
  since?: number | string;
  /** Unix seconds, as `since`; entries at or before it, and reading ends at the first entry after it. 0: no filter. */
  until?: number | string;
  /** The last N entries over all files (both streams count, as in Docker); "all" or a negative number: everything. */
  tail?: number | "all";
  /** Framing belongs to the route (see withTimestamp); kept here so the route can pass its options through. */
  timestamps: boolean;
  follow: boolean;
}

export interface LogEntry {
  stream: "stdout" | "stderr";
  /** The RFC 3339 time as written in the file. */
  time: string;
  /** `time` as Unix nanoseconds. */
  nanos: bigint;
  /** The log bytes, newline included (a partial message has none). */
  text: Uint8Array;
}

/** How often a follower looks at the files when no change notification came. */
const POLL_WITH_WATCH_MS = 100;
const POLL_WITHOUT_WATCH_MS = 20;
/** After `until` has passed, how long a follower still waits for entries stamped before it. */
const UNTIL_GRACE_MS = 250;
const CHUNK = 64 * 1024;
/** Listings of the rotated files taken again when a rotation completed meanwhile, before ordering them by time. */
const DISCOVER_ATTEMPTS = 20;
const NL = 0x0a;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** An RFC 3339 time (any fraction up to nanoseconds, any offset) as Unix nanoseconds; undefined if it is not one. */
export function parseRFC3339Nano(s: string): bigint | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, , sign, oh, om] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
  if (!Number.isFinite(ms)) return undefined;
  if (sign) ms -= (sign === "-" ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
  return BigInt(ms) * 1_000_000n + BigInt((frac ?? "").padEnd(9, "0"));
}

/** Docker's RFC3339NanoFixed in UTC ("2006-01-02T15:04:05.000000000Z"): always nine fraction digits. */
export function formatTimestamp(nanos: bigint): string {
  let sec = nanos / 1_000_000_000n;
  let frac = nanos % 1_000_000_000n;
  if (frac < 0n) {
    frac += 1_000_000_000n;
    sec -= 1n;
  }
  const iso = new Date(Number(sec) * 1000).toISOString();
  return `${iso.slice(0, 19)}.${frac.toString().padStart(9, "0")}Z`;
}

const encoder = new TextEncoder();

/** The line as `docker logs --timestamps` shows it: the fixed-width time, a space, the text. */
export function withTimestamp(entry: LogEntry): Uint8Array {
  const prefix = encoder.encode(`${formatTimestamp(entry.nanos)} `);
  const out = new Uint8Array(prefix.length + entry.text.length);
  out.set(prefix, 0);
  out.set(entry.text, prefix.length);
  return out;
}

/** A since/until value as Unix nanoseconds; undefined for "no filter" (absent or <= 0, as Docker treats 0). */
export function toUnixNanos(t: number | string | undefined, what = "since"): bigint | undefined {
  if (t === undefined || t === "") return undefined;
  let ns: bigint;
  if (typeof t === "string") {
    const m = /^(-?\d+)(?:\.(\d{1,9}))?$/.exec(t.trim());
    if (!m) throw invalidArgument(`invalid value for "${what}": ${JSON.stringify(t)} is not a Unix timestamp`);
    const neg = m[1]!.startsWith("-");
    ns = BigInt(m[1]!) * 1_000_000_000n + (neg ? -1n : 1n) * BigInt((m[2] ?? "").padEnd(9, "0"));
  } else {
    if (!Number.isFinite(t)) throw invalidArgument(`invalid value for "${what}": ${t}`);
    const sec = Math.floor(t);
    ns = BigInt(sec) * 1_000_000_000n + BigInt(Math.round((t - sec) * 1e9));
  }
  return ns > 0n ? ns : undefined;
}

const decoder = new TextDecoder();

/** One json-file line as an entry; undefined if it is not a valid one. */
export function parseLogLine(line: Uint8Array): LogEntry | undefined {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(line));
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const { log, stream, time } = v as { log?: unknown; stream?: unknown; time?: unknown };
  if (typeof log !== "string" || typeof time !== "string") return undefined;
  if (stream !== "stdout" && stream !== "stderr") return undefined;
  const nanos = parseRFC3339Nano(time);
  if (nanos === undefined) return undefined;
  return { stream, time, nanos, text: encoder.encode(log) };
}

interface LogFile {
  fd: number;
  dev: number;
  ino: number;
  /** Next byte to read. */
  pos: number;
  /** Bytes read after the last newline: a line still being written. */
  carry: Uint8Array;
}

const readAsync = promisify(read);
/** Read up to `length` bytes at `position` (off the event loop). */
const readAt = (fd: number, buf: Uint8Array, length: number, position: number) => readAsync(fd, buf, 0, length, position);

const sameFile = (a: { dev: number; ino: number }, b: { dev: number; ino: number }) => a.dev === b.dev && a.ino === b.ino;

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** The complete lines of `f` from f.pos up to `limit` (newline excluded); a trailing partial line stays in f.carry. */
async function* readLines(f: LogFile, limit: number): AsyncGenerator<Uint8Array> {
  while (f.pos < limit) {
    const buf = new Uint8Array(Math.min(CHUNK, limit - f.pos));
    const { bytesRead } = await readAt(f.fd, buf, buf.length, f.pos);
    if (bytesRead === 0) return;
    f.pos += bytesRead;
    const data = buf.subarray(0, bytesRead);
    let start = 0;
    for (;;) {
      const i = data.indexOf(NL, start);
      if (i < 0) break;
      let line: Uint8Array = data.subarray(start, i);
      if (start === 0 && f.carry.length > 0) {
        line = concat(f.carry, line);
        f.carry = new Uint8Array(0);
      }
      start = i + 1;
      yield line;
    }
    if (start < data.length) f.carry = concat(f.carry, data.subarray(start));
  }
}

/**
 * Where the last `k` complete lines of `f` (below `limit`) start, scanning
 * backwards in chunks, and how many complete lines that is (fewer than `k`
 * when the file has fewer). With k = 0: the end of the last complete line.
 */
async function tailStart(f: LogFile, limit: number, k: number): Promise<{ start: number; found: number }> {
  let newlines = 0;
  let end = limit;
  const buf = new Uint8Array(CHUNK);
  while (end > 0) {
    const from = Math.max(0, end - CHUNK);
    const { bytesRead } = await readAt(f.fd, buf, end - from, from);
    const data = buf.subarray(0, bytesRead);
    for (let i = data.length - 1; i >= 0; i--) {
      if (data[i] !== NL) continue;
      newlines++;
      // The (k+1)-th newline from the end closes the line before the k last ones.
      if (newlines === k + 1) return { start: from + i + 1, found: k };
    }
    end = from;
  }
  return { start: 0, found: newlines };
}

/** The time of the first valid entry of `f` (within its first MiB), without moving f.pos. */
async function firstEntryTime(f: LogFile): Promise<bigint | undefined> {
  const probe: LogFile = { ...f, pos: 0, carry: new Uint8Array(0) };
  for await (const line of readLines(probe, 1024 * 1024)) {
    const e = parseLogLine(line);
    if (e) return e.nanos;
  }
  return undefined;
}

class Wakeup {
  private pending = false;
  private resolve: (() => void) | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  notify = () => {
    this.pending = true;
    const r = this.resolve;
    this.resolve = undefined;
    r?.();
  };
  /** Resolves at the next notification (or at once if one came since the last wait), or after `ms`. */
  async wait(ms: number): Promise<void> {
    if (!this.pending) {
      await new Promise<void>((res) => {
        this.resolve = res;
        this.timer = setTimeout(res, ms);
      });
      clearTimeout(this.timer);
      this.resolve = undefined;
    }
    this.pending = false;
  }
}

/**
 * The entries of the json-file log at `path` (and its rotations), oldest
 * first, filtered as `docker logs` filters them. With `follow`, new entries
 * are yielded as they are appended (within milliseconds: the directory is
 * watched, and polled as a fallback), across rotations, until `stop`
 * resolves and everything written by then has been yielded. Stop early by
 * leaving the loop (the iterator's return()); files and watchers are closed.
 */
export async function* readLogs(path: string, opts: LogOptions, stop?: Promise<unknown>): AsyncGenerator<LogEntry> {
  const since = toUnixNanos(opts.since, "since");
  const until = toUnixNanos(opts.until, "until");
  const tail = opts.tail === undefined || opts.tail === "all" || opts.tail < 0 ? undefined : Math.floor(opts.tail);

  const chain: LogFile[] = []; // open files, oldest first; the last one is (or was) PATH
  const wakeup = new Wakeup();
  let stopped = false;
  stop?.then(
    () => {
      stopped = true;
      wakeup.notify();
    },
    () => {
      stopped = true;
      wakeup.notify();
    },
  );
  let watcher: FSWatcher | undefined;
  let untilPassed = false;

  /** The identity of the file a name points to now; undefined if none. */
  const idOf = (p: string): { dev: number; ino: number } | undefined => {
    try {
      const st = statSync(p);
      return { dev: st.dev, ino: st.ino };
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return undefined;
      throw err;
    }
  };
  const nameOf = (i: number) => (i === 0 ? path : `${path}.${i}`);

  /** The highest N of the PATH.N files in the directory now (0 if none). */
  const highestRotation = (): number => {
    const prefix = `${basename(path)}.`;
    let max = 0;
    try {
      for (const name of readdirSync(dirname(path))) {
        if (!name.startsWith(prefix)) continue;
        const n = name.slice(prefix.length);
        if (/^[1-9]\d*$/.test(n)) max = Math.max(max, Number(n));
      }
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") throw err;
    }
    return max;
  };

  /**
   * Open the files newer than the last one in `chain` (all of them when it is
   * empty) and append them, oldest first. Names are visited newest first
   * (PATH, PATH.1, ...), files told apart by inode, and a missing name passed
   * over (a rotation renames one file at a time). The listing is then checked:
   * if every name visited still points where it did, and no name appeared
   * beyond them, what we saw is the directory as it was at one instant, so
   * the names give the order. Otherwise it is taken again; if rotations keep
   * completing faster than that, the order comes from the entries' times.
   */
  const discover = async (): Promise<boolean> => {
    const last = chain.at(-1);
    for (let attempt = 0; ; attempt++) {
      const max = highestRotation();
      const found: LogFile[] = []; // newest first
      const visited: ({ dev: number; ino: number } | undefined)[] = [];
      let reachedLast = false;
      for (let i = 0; !reachedLast; i++) {
        let fd: number;
        try {
          fd = openSync(nameOf(i), "r");
        } catch (err) {
          if (errnoCode(err) !== "ENOENT") throw err;
          visited.push(undefined);
          if (i > max) break;
          continue;
        }
        const st = fstatSync(fd);
        const id = { dev: st.dev, ino: st.ino };
        visited.push(id);
        const seen = (last && sameFile(last, id)) || chain.some((f) => sameFile(f, id)) || found.some((f) => sameFile(f, id));
        if (last && sameFile(last, id)) reachedLast = true;
        if (seen) closeSync(fd);
        else found.push({ fd, ...id, pos: 0, carry: new Uint8Array(0) });
      }
      let stable = true;
      for (let i = 0; i < visited.length && stable; i++) {
        const now = idOf(nameOf(i));
        const then = visited[i];
        stable = now === undefined ? then === undefined : then !== undefined && sameFile(now, then);
      }
      if (stable && !reachedLast) stable = highestRotation() < visited.length;
      if (!stable && attempt < DISCOVER_ATTEMPTS) {
        for (const f of found) closeSync(f.fd);
        continue;
      }
      found.reverse(); // oldest first
      if (!stable) {
        // A file without any entry is the new, still empty PATH: the newest.
        const none = BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000_000n;
        const keys = await Promise.all(found.map(async (f, i) => ({ f, i, t: (await firstEntryTime(f)) ?? none })));
        keys.sort((x, y) => (x.t < y.t ? -1 : x.t > y.t ? 1 : x.i - y.i));
        found.splice(0, found.length, ...keys.map((k) => k.f));
      }
      chain.push(...found);
      return found.length > 0;
    }
  };

  /** Has PATH become a file we do not have yet? */
  const rotated = (): boolean => {
    const id = idOf(path);
    if (!id) return false; // no log yet, or between the rename and the new file
    const last = chain.at(-1);
    return !last || !sameFile(last, id);
  };

  /** Sizes, read newest first: a size read after a newer file's shows everything written before that file began. */
  const sizes = (): number[] => {
    const out = new Array<number>(chain.length);
    for (let i = chain.length - 1; i >= 0; i--) out[i] = fstatSync(chain[i]!.fd).size;
    return out;
  };

  /** The filtered entries of `f` up to `limit`; sets untilPassed at the first entry after `until`. */
  async function* entries(f: LogFile, limit: number): AsyncGenerator<LogEntry> {
    for await (const line of readLines(f, limit)) {
      const e = parseLogLine(line);
      if (!e) continue;
      if (since !== undefined && e.nanos < since) continue;
      if (until !== undefined && e.nanos > until) {
        untilPassed = true;
        return;
      }
      if (e.stream === "stdout" ? opts.stdout : opts.stderr) yield e;
    }
  }

  try {
    // The files as they are now, and how much of each exists.
    await discover();
    const limits = sizes();

    if (tail !== undefined && chain.length > 0) {
      let remaining = tail;
      let i = chain.length - 1;
      for (; i >= 0; i--) {
        const r = await tailStart(chain[i]!, limits[i]!, remaining);
        chain[i]!.pos = r.start;
        remaining -= r.found;
        if (remaining <= 0) break;
      }
      // Older files hold nothing of the tail.
      for (const f of chain.splice(0, Math.max(i, 0))) closeSync(f.fd);
      limits.splice(0, Math.max(i, 0));
    }

    for (let i = 0; i < chain.length; i++) {
      yield* entries(chain[i]!, limits[i]!);
      if (untilPassed) return;
    }
    if (!opts.follow) return;

    try {
      watcher = watch(dirname(path), { persistent: false }, (_event, name) => {
        if (!name || String(name).startsWith(basename(path))) wakeup.notify();
      });
      watcher.on("error", () => {
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined; // no directory yet, or no inotify: poll
    }

    for (;;) {
      let progressed = false;
      if (rotated()) progressed = (await discover()) || progressed;
      const now = sizes();
      for (let i = 0; i < chain.length; i++) {
        const f = chain[i]!;
        if (now[i]! < f.pos) {
          // Truncated in place: start it over.
          f.pos = 0;
          f.carry = new Uint8Array(0);
        }
        if (now[i]! > f.pos) progressed = true;
        yield* entries(f, now[i]!);
        if (untilPassed) return;
      }
      // A rotated file is complete once a newer one had data before we took its size.
      while (chain.length > 1 && now[1]! > 0 && chain[0]!.pos >= now[0]!) {
        closeSync(chain.shift()!.fd);
        now.shift();
      }
      if (progressed) continue;
      if (stopped) return; // a whole pass found nothing new after stop resolved
      if (until !== undefined && BigInt(Date.now() - UNTIL_GRACE_MS) * 1_000_000n > until) return;
      await wakeup.wait(watcher ? POLL_WITH_WATCH_MS : POLL_WITHOUT_WATCH_MS);
    }
  } finally {
    watcher?.close();
    for (const f of chain.splice(0)) {
      try {
        closeSync(f.fd);
      } catch {
        // already closed
      }
    }
  }
}
