// A streaming tar writer: POSIX ustar headers with PAX extended headers
// where ustar falls short (names over its limits, link names over 100 bytes,
// sizes of 8 GiB and more, ids and times out of range, xattrs), as GNU tar,
// Go's archive/tar and core/images/tar.ts read them.
//
//   for await (const chunk of tarDirectory("/some/dir", { sys })) out.write(chunk);
//
// tarDirectory walks a tree in a deterministic order (names sorted by
// their bytes, a directory before its content) and streams file bodies in
// chunks of at most CHUNK bytes: nothing is held whole in memory. Every
// chunk it yields is fresh; the consumer may keep it.
//
// The walk never follows a symlink: each directory is opened (O_NOFOLLOW)
// and what is under it is reached through /proc/self/fd/<fd>/<name>, so a
// tree that changes while it is read (a running container's root) cannot
// lead the walk out of it. Regular files and directories are opened
// O_NOFOLLOW (files O_NONBLOCK too: a fifo swapped in cannot block) and
// described by fstat of what was opened; anything else is lstat'ed and
// never opened. Reads are synchronous, in chunks of up to CHUNK bytes.
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type BigIntStats } from "node:fs";
import { invalidArgument } from "../errors.ts";
import type { Sys } from "../sys/index.ts";
import type { TarEntryType } from "./tar.ts";

export type TarWriteType = Exclude<TarEntryType, "unsupported">;

/** One entry's metadata, as written to the archive. */
export interface TarHeader {
  /** Archive path, relative; a directory gets a trailing "/" if it has none. */
  name: string;
  type: TarWriteType;
  /** Permission bits with setuid, setgid and sticky (masked with 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch; a fraction is dropped (as Docker does). */
  mtime: number;
  /** Body bytes: regular files only. */
  size?: number;
  /** Target of a symlink, or the archive path a hard link points to. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  uname?: string;
  gname?: string;
  /** Extended attributes, written as PAX SCHILY.xattr.<name> records (values are raw bytes). */
  xattrs?: Iterable<readonly [string, Uint8Array]>;
}

export interface TarWriteEntry extends TarHeader {
  /** The body of a regular file: exactly `size` bytes. */
  body?: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

const BLOCK = 512;
/** Size of the chunks tarDirectory yields. */
export const CHUNK = 1 << 20;
/** Largest value of an 11-digit octal field (size, mtime): 8 GiB - 1. */
const MAX_OCTAL_11 = 0o77777777777;
/** Largest value of a 7-digit octal field (uid, gid, devmajor, devminor). */
const MAX_OCTAL_7 = 0o7777777;
const TYPEFLAG: Record<TarWriteType, number> = {
  file: 0x30, hardlink: 0x31, symlink: 0x32, chardev: 0x33, blockdev: 0x34, dir: 0x35, fifo: 0x36,
};
const ZEROS = new Uint8Array(1024);
/** The end-of-archive marker: two zero blocks. */
export const TAR_END: Uint8Array = ZEROS;

export const tarPaddingSize = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

function putOctal(b: Buffer, off: number, width: number, v: number) {
  // width - 1 digits, zero-padded, then a NUL (v fits: checked by the caller).
  let i = off + width - 1;
  b[i] = 0;
  while (i > off) {
    b[--i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
}

function putBytes(b: Buffer, off: number, len: number, v: Uint8Array) {
  if (v.length > 0) b.set(v.length > len ? v.subarray(0, len) : v, off);
}

/** A PAX record "<len> <key>=<value>\n"; the length counts its own digits. */
function paxRecord(key: string, value: Uint8Array): Buffer {
  const head = Buffer.from(` ${key}=`);
  const rest = head.length + value.length + 1;
  let n = rest + String(rest).length;
  if (String(n).length + rest !== n) n = String(n).length + rest;
  const out = Buffer.allocUnsafe(n);
  const digits = out.write(String(n), 0, "latin1");
  head.copy(out, digits);
  out.set(value, digits + head.length);
  out[n - 1] = 0x0a;
  return out;
}

const EMPTY = Buffer.alloc(0);

/** Split a name over ustar's prefix (155 bytes) and name (100 bytes) fields at a "/", if it fits. */
function splitUstar(name: Buffer): [Buffer, Buffer] | null {
  if (name.length <= 100) return [EMPTY, name];
  if (name.length > 256) return null;
  // The first "/" that leaves at most 100 bytes after it; the prefix must be non-empty and at most 155.
  for (let i = name.length - 101; i < name.length - 1 && i <= 155; i++) {
    if (i > 0 && name[i] === 0x2f) return [name.subarray(0, i), name.subarray(i + 1)];
  }
  return null;
}

const textBytes = (s: string) => (s === "" ? EMPTY : Buffer.from(s, "utf8"));

interface UstarFields {
  name: Buffer; prefix: Buffer; mode: number; uid: number; gid: number; size: number; mtime: number;
  typeflag: number; linkname: Buffer; uname: Buffer; gname: Buffer; dev: [number, number] | null;
}

/** Write the ustar header block of an entry at h[off..off+512]. */
function writeUstar(f: UstarFields, h: Buffer, off: number) {
  h.fill(0, off, off + BLOCK);
  putBytes(h, off, 100, f.name);
  putOctal(h, off + 100, 8, f.mode);
  putOctal(h, off + 108, 8, f.uid);
  putOctal(h, off + 116, 8, f.gid);
  putOctal(h, off + 124, 12, f.size);
  putOctal(h, off + 136, 12, f.mtime);
  h[off + 156] = f.typeflag;
  putBytes(h, off + 157, 100, f.linkname);
  h.write("ustar\u000000", off + 257, "latin1");
  putBytes(h, off + 265, 32, f.uname);
  putBytes(h, off + 297, 32, f.gname);
  if (f.dev) {
    putOctal(h, off + 329, 8, f.dev[0]);
    putOctal(h, off + 337, 8, f.dev[1]);
  }
  putBytes(h, off + 345, 155, f.prefix);
  h.fill(0x20, off + 148, off + 156);
  let sum = 0;
  for (let i = off; i < off + BLOCK; i++) sum += h[i]!;
  putOctal(h, off + 148, 7, sum); // six digits and a NUL...
  h[off + 155] = 0x20; // ...and a space, as every tar writes it
}

/** What an entry's headers hold: the ustar fields and the PAX records they need. */
function prepare(h: TarHeader): { fields: UstarFields; records: Buffer[]; name: string } {
  const typeflag = TYPEFLAG[h.type];
  if (typeflag === undefined) throw invalidArgument(`tar entry "${h.name}": unknown type ${String(h.type)}`);
  if (h.name === "" || h.name.includes("\0")) throw invalidArgument(`tar entry name ${JSON.stringify(h.name)} is empty or has a NUL byte`);
  const size = h.type === "file" ? (h.size ?? 0) : 0;
  if (!Number.isSafeInteger(size) || size < 0) throw invalidArgument(`tar entry "${h.name}": invalid size ${size}`);
  const records: Buffer[] = [];

  const name = h.type === "dir" && !h.name.endsWith("/") ? `${h.name}/` : h.name;
  const nameBytes = textBytes(name);
  let split = splitUstar(nameBytes);
  if (!split) {
    records.push(paxRecord("path", nameBytes));
    split = [EMPTY, nameBytes.subarray(0, 100)];
  }
  let linkBytes = textBytes(h.linkname ?? "");
  if (linkBytes.includes(0)) throw invalidArgument(`tar entry "${h.name}": the link name has a NUL byte`);
  if (linkBytes.length > 100) {
    records.push(paxRecord("linkpath", linkBytes));
    linkBytes = linkBytes.subarray(0, 100);
  }
  const numeric = (key: string, v: number, max: number) => {
    if (!Number.isSafeInteger(v)) throw invalidArgument(`tar entry "${h.name}": invalid ${key} ${v}`);
    if (v >= 0 && v <= max) return v;
    if (key !== "mtime" && v < 0) throw invalidArgument(`tar entry "${h.name}": negative ${key} ${v}`);
    records.push(paxRecord(key, textBytes(String(v))));
    return 0;
  };
  const sizeField = numeric("size", size, MAX_OCTAL_11);
  const uid = numeric("uid", h.uid, MAX_OCTAL_7);
  const gid = numeric("gid", h.gid, MAX_OCTAL_7);
  const mtime = numeric("mtime", Math.floor(h.mtime), MAX_OCTAL_11);
  let dev: [number, number] | null = null;
  if (h.type === "chardev" || h.type === "blockdev") {
    const major = h.devmajor ?? 0;
    const minor = h.devminor ?? 0;
    if (major < 0 || major > MAX_OCTAL_7 || minor < 0 || minor > MAX_OCTAL_7) {
      throw invalidArgument(`tar entry "${h.name}": device ${major}:${minor} does not fit a tar header`);
    }
    dev = [major, minor];
  }
  let uname = textBytes(h.uname ?? "");
  let gname = textBytes(h.gname ?? "");
  if (uname.length > 32) {
    records.push(paxRecord("uname", uname));
    uname = EMPTY;
  }
  if (gname.length > 32) {
    records.push(paxRecord("gname", gname));
    gname = EMPTY;
  }
  if (h.xattrs) {
    const list = [...h.xattrs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [k, v] of list) {
      if (k === "" || k.includes("=") || k.includes("\0")) throw invalidArgument(`tar entry "${h.name}": extended attribute name ${JSON.stringify(k)} cannot be stored in a PAX record`);
      records.push(paxRecord(`SCHILY.xattr.${k}`, v));
    }
  }
  const fields: UstarFields = {
    name: split[1], prefix: split[0], mode: h.mode & 0o7777, uid, gid, size: sizeField, mtime,
    typeflag, linkname: linkBytes, uname, gname, dev,
  };
  return { fields, records, name };
}

/** The PAX 'x' header (block and padded records) and the ustar block of a prepared entry. */
function assemble(p: { fields: UstarFields; records: Buffer[]; name: string }): Buffer {
  const body = Buffer.concat(p.records);
  const pad = tarPaddingSize(body.length);
  const out = Buffer.allocUnsafe(BLOCK + body.length + pad + BLOCK);
  // The 'x' header's own name: deterministic (GNU tar puts its pid there), ASCII, within 100 bytes.
  const base = p.name.replace(/\/+$/, "").split("/").pop() || "entry";
  const paxName = `PaxHeaders.0/${base.replace(/[^\x20-\x7e]/g, "_")}`.slice(0, 100);
  writeUstar({
    name: Buffer.from(paxName, "latin1"), prefix: EMPTY, mode: 0o644, uid: 0, gid: 0,
    size: body.length, mtime: Math.min(Math.max(p.fields.mtime, 0), MAX_OCTAL_11), typeflag: 0x78,
    linkname: EMPTY, uname: EMPTY, gname: EMPTY, dev: null,
  }, out, 0);
  body.copy(out, BLOCK);
  out.fill(0, BLOCK + body.length, BLOCK + body.length + pad);
  writeUstar(p.fields, out, BLOCK + body.length + pad);
  return out;
}

/**
 * The header blocks of an entry: a PAX 'x' header when needed, then the
 * ustar header. Throws InvalidArgument for what no tar can hold.
 */
export function encodeHeader(h: TarHeader): Uint8Array {
  const p = prepare(h);
  if (p.records.length > 0) return assemble(p);
  const out = Buffer.allocUnsafe(BLOCK);
  writeUstar(p.fields, out, 0);
  return out;
}

/** Write entries given one by one: headers, bodies (checked against their size), padding and the end marker. */
export async function* writeTar(entries: AsyncIterable<TarWriteEntry> | Iterable<TarWriteEntry>): AsyncGenerator<Uint8Array, void, undefined> {
  for await (const e of entries) {
    yield encodeHeader(e);
    const size = e.type === "file" ? (e.size ?? 0) : 0;
    let written = 0;
    if (e.body !== undefined && e.type === "file") {
      const parts = e.body instanceof Uint8Array ? [e.body] : e.body;
      for await (const part of parts) {
        written += part.length;
        if (written > size) throw invalidArgument(`tar entry "${e.name}": the body is longer than its size ${size}`);
        if (part.length > 0) yield part;
      }
    }
    if (written !== size) throw invalidArgument(`tar entry "${e.name}": the body has ${written} bytes, its size says ${size}`);
    const pad = tarPaddingSize(size);
    if (pad) yield ZEROS.subarray(0, pad);
  }
  yield TAR_END;
}

export interface TarDirectoryOptions {
  sys: Sys;
  /**
   * The archive name of a path relative to the start ("" is the start
   * itself, "a/b" below it); null leaves that entry out (what is under a
   * directory left out is still walked). Default: the start is left out,
   * everything else keeps its relative path (as `docker export`).
   */
  rename?: (relPath: string) => string | null;
  /** Which extended attributes to carry (default: all). */
  xattrs?: (name: string) => boolean;
  /** Told about what could not be archived as it is (sockets, files that changed while read, ...). */
  onWarning?: (message: string) => void;
  /** The owners to record for the files' (a remapped container's files as its root sees them). */
  ids?: (uid: number, gid: number) => [number, number];
}

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = constants;
const O_CLOEXEC = 0o2000000;
const OPEN_DIR = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
const OPEN_FILE = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
/** Read no less than this into the current chunk; else start a new one. */
const MIN_READ = 64 << 10;
const NS = 1_000_000_000n;

/** glibc's major()/minor() of a dev_t. */
export const devMajor = (dev: number) => (Math.floor(dev / 0x100) % 0x1000) + Math.floor(dev / 2 ** 44) * 0x1000;
export const devMinor = (dev: number) => (dev % 0x100) + (Math.floor(dev / 0x100000) % 0x1000000) * 0x100;

const seconds = (ns: bigint) => Number(ns >= 0n ? ns / NS : -((-ns + NS - 1n) / NS));

/** Output chunks: headers and bodies are written into one buffer, handed out when full. */
class Sink {
  buf = Buffer.allocUnsafe(CHUNK);
  pos = 0;
  get room() {
    return CHUNK - this.pos;
  }
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(CHUNK);
    this.pos = 0;
    return out;
  }
  zeros(n: number) {
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }
}

/** What readdir's d_type says of an entry: enough to skip the lstat of files and directories. */
const enum Hint {
  None,
  File,
  Dir,
}

interface Frame {
  fd: number;
  rel: string;
  names: string[];
  hints: Hint[];
  next: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const SURROGATE = /[\uD800-\uDFFF]/;

/** Sort names by their UTF-8 bytes (code point order), as Go and GNU tar --sort=name do. */
function sortNames(names: string[]): string[] {
  if (!names.some((n) => SURROGATE.test(n))) return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names.map((n) => [n, Buffer.from(n)] as const).sort((a, b) => Buffer.compare(a[1], b[1])).map((x) => x[0]);
}

const codeOf = (err: unknown) => (err as { code?: string } | null)?.code;

/**
 * Archive what `path` names (not followed if a symlink): the entry itself,
 * then, for a directory, everything under it. See TarDirectoryOptions for
 * naming. Ends with the end-of-archive marker.
 */
export async function* tarDirectory(path: string, opts: TarDirectoryOptions): AsyncGenerator<Uint8Array, void, undefined> {
  // The walk does synchronous I/O between yields: a sync generator under
  // the async face costs nothing per chunk.
  yield* walkTar(path, opts);
}

function* walkTar(start: string, opts: TarDirectoryOptions): Generator<Uint8Array, void, undefined> {
  const rename = opts.rename ?? ((rel: string) => (rel === "" ? null : rel));
  const keepXattr = opts.xattrs ?? (() => true);
  const warn = opts.onWarning ?? (() => {});
  const sink = new Sink();
  const seen = new Map<string, string>(); // dev:ino of multiply-linked non-directories → first archive name
  const stack: Frame[] = [];

  /** Write an entry's headers into the current chunk. */
  function* writeHeader(h: TarHeader) {
    const p = prepare(h);
    if (p.records.length > 0) return yield* emit(assemble(p));
    if (sink.room < BLOCK) yield sink.take();
    writeUstar(p.fields, sink.buf, sink.pos);
    sink.pos += BLOCK;
  }

  function* emit(bytes: Uint8Array) {
    if (bytes.length > sink.room) yield sink.take();
    if (bytes.length > CHUNK) {
      yield bytes;
      return;
    }
    sink.buf.set(bytes, sink.pos);
    sink.pos += bytes.length;
  }

  function xattrsOf(p: string, rel: string): [string, Uint8Array][] | undefined {
    let names: string[];
    try {
      names = opts.sys.llistxattr(p);
    } catch (err) {
      warn(`${rel || "."}: cannot list extended attributes: ${(err as Error).message}`);
      return undefined;
    }
    if (names.length === 0) return undefined;
    const out: [string, Uint8Array][] = [];
    for (const n of names) {
      if (!keepXattr(n)) continue;
      if (n.includes("=")) {
        warn(`${rel || "."}: extended attribute ${n} left out: its name has "=", which a PAX record cannot hold`);
        continue;
      }
      const v = opts.sys.lgetxattr(p, n);
      if (v !== null) out.push([n, v]);
    }
    return out.length ? out : undefined;
  }

  const ids = opts.ids ?? ((u: number, g: number) => [u, g] as [number, number]);
  const headerOf = (st: BigIntStats, name: string): Omit<TarHeader, "type"> => {
    const [uid, gid] = ids(Number(st.uid), Number(st.gid));
    return { name, mode: Number(st.mode) & 0o7777, uid, gid, mtime: seconds(st.mtimeNs) };
  };

  /** The archive name of `rel`; null: leave the entry out. */
  const nameOf = (rel: string) => {
    const name = rename(rel);
    if (name === "") throw invalidArgument(`tar: an empty archive name for "${rel}"`);
    return name;
  };

  /** Open `p` as `hint` says it is; null if it is something else now (the caller lstats it). */
  function openAs(p: string, hint: Hint.File | Hint.Dir): { fd: number; st: BigIntStats } | null {
    let fd: number;
    try {
      fd = openSync(p, hint === Hint.Dir ? OPEN_DIR : OPEN_FILE);
    } catch (err) {
      const code = codeOf(err);
      if (code === "ELOOP" || code === "ENOTDIR" || code === "ENOENT" || code === "ENXIO") return null;
      throw err;
    }
    const st = fstatSync(fd, { bigint: true });
    if ((Number(st.mode) & S_IFMT) !== (hint === Hint.Dir ? S_IFDIR : S_IFREG)) {
      closeSync(fd);
      return null;
    }
    return { fd, st };
  }

  /** A directory opened as `fd`: its header, and a frame for what is in it. */
  function* directory(fd: number, st: BigIntStats, p: string, rel: string) {
    let frame: Frame;
    try {
      const dirents = readdirSync(`/proc/self/fd/${fd}`, { withFileTypes: true });
      const hints = new Map<string, Hint>();
      const found: string[] = [];
      for (const d of dirents) {
        if (d.name.includes("\uFFFD") && !lstatSync(`/proc/self/fd/${fd}/${d.name}`, { throwIfNoEntry: false })) {
          warn(`${rel ? `${rel}/` : ""}${d.name}: left out: the name is not valid UTF-8`);
          continue;
        }
        found.push(d.name);
        hints.set(d.name, d.isFile() ? Hint.File : d.isDirectory() ? Hint.Dir : Hint.None);
      }
      const names = sortNames(found);
      frame = { fd, rel, names, hints: names.map((n) => hints.get(n)!), next: 0 };
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    stack.push(frame);
    const name = nameOf(rel);
    if (name !== null) yield* writeHeader({ ...headerOf(st, name), type: "dir", xattrs: xattrsOf(p, rel) });
  }

  /** A regular file opened as `fd`: its header (or a hard link's) and its body. Closes fd. */
  function* file(fd: number, st: BigIntStats, p: string, rel: string) {
    try {
      const name = nameOf(rel);
      if (name === null) return;
      if (st.nlink > 1n) {
        const key = `${st.dev}:${st.ino}`;
        const first = seen.get(key);
        if (first !== undefined) {
          yield* writeHeader({ ...headerOf(st, name), type: "hardlink", linkname: first, xattrs: xattrsOf(p, rel) });
          return;
        }
        seen.set(key, name);
      }
      const size = Number(st.size);
      yield* writeHeader({ ...headerOf(st, name), type: "file", size, xattrs: xattrsOf(p, rel) });
      let left = size;
      let shrank = false;
      while (left > 0) {
        if (sink.room < Math.min(MIN_READ, left)) yield sink.take();
        const want = Math.min(left, sink.room);
        const n = shrank ? 0 : readSync(fd, sink.buf, sink.pos, want, null);
        if (n === 0) {
          if (!shrank) warn(`${rel}: the file shrank while the archive was written; padded with zeros to ${size} bytes`);
          shrank = true;
          sink.zeros(want);
          left -= want;
          continue;
        }
        sink.pos += n;
        left -= n;
      }
      const pad = tarPaddingSize(size);
      if (pad) {
        if (sink.room < pad) yield sink.take();
        sink.zeros(pad);
      }
    } finally {
      closeSync(fd);
    }
  }

  /** The entry at host path `p` (never followed), relative path `rel`. */
  function* entry(p: string, rel: string, hint: Hint) {
    if (hint !== Hint.None) {
      const opened = openAs(p, hint);
      if (opened) {
        if (hint === Hint.Dir) yield* directory(opened.fd, opened.st, p, rel);
        else yield* file(opened.fd, opened.st, p, rel);
        return;
      }
    }
    const st = lstatSync(p, { bigint: true, throwIfNoEntry: false });
    if (!st) {
      if (rel === "") throw Object.assign(new Error(`ENOENT: no such file or directory, lstat '${p}'`), { code: "ENOENT", errno: -2, syscall: "lstat", path: p });
      warn(`${rel}: removed while the archive was written`);
      return;
    }
    const fmt = Number(st.mode) & S_IFMT;
    if (fmt === S_IFDIR || fmt === S_IFREG) {
      const opened = openAs(p, fmt === S_IFDIR ? Hint.Dir : Hint.File);
      if (!opened || opened.st.ino !== st.ino || opened.st.dev !== st.dev) {
        if (opened) closeSync(opened.fd);
        if (rel === "") throw invalidArgument(`tar: "${start}" changed while the archive was started`);
        warn(`${rel}: replaced while the archive was written; left out`);
        return;
      }
      if (fmt === S_IFDIR) yield* directory(opened.fd, opened.st, p, rel);
      else yield* file(opened.fd, opened.st, p, rel);
      return;
    }

    const name = nameOf(rel);
    if (name === null) return;
    let header: TarHeader;
    if (fmt === S_IFLNK) {
      // readlink does not follow the link itself; its directory is held by an fd.
      const raw = readlinkSync(p, { encoding: "buffer" });
      let target: string;
      try {
        target = utf8.decode(raw);
      } catch {
        warn(`${rel}: left out: the symlink's target is not valid UTF-8`);
        return;
      }
      header = { ...headerOf(st, name), type: "symlink", linkname: target };
    } else if (fmt === S_IFCHR || fmt === S_IFBLK) {
      const rdev = Number(st.rdev);
      header = { ...headerOf(st, name), type: fmt === S_IFCHR ? "chardev" : "blockdev", devmajor: devMajor(rdev), devminor: devMinor(rdev) };
    } else if (fmt === S_IFIFO) {
      header = { ...headerOf(st, name), type: "fifo" };
    } else {
      warn(`${rel}: left out: a ${fmt === 0o140000 ? "socket" : "file of unknown type"} cannot be archived`);
      return;
    }
    if (st.nlink > 1n) {
      // Docker links every non-directory it meets again (devices, fifos, symlinks too).
      const key = `${st.dev}:${st.ino}`;
      const first = seen.get(key);
      if (first !== undefined) header = { ...headerOf(st, name), type: "hardlink", linkname: first };
      else seen.set(key, name);
    }
    header.xattrs = xattrsOf(p, rel);
    yield* writeHeader(header);
  }

  try {
    yield* entry(start, "", Hint.None);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next >= top.names.length) {
        stack.pop();
        closeSync(top.fd);
        continue;
      }
      const i = top.next++;
      const n = top.names[i]!;
      yield* entry(`/proc/self/fd/${top.fd}/${n}`, top.rel === "" ? n : `${top.rel}/${n}`, top.hints[i]!);
    }
    yield* emit(TAR_END);
    if (sink.pos > 0) yield sink.take();
  } finally {
    for (const f of stack) closeSync(f.fd);
  }
}
