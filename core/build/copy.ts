// COPY and ADD: the layer they add, as tar entries named as in the image.
//
// Docker's rules: a directory source copies its contents; a file goes to
// <dest> itself, or into it when <dest> ends with "/" or is a directory in
// the image; several sources need a directory <dest> ending with "/"; files
// keep their mode and mtime and get root (or --chown) as owner (from
// another stage or image they keep theirs); ADD unpacks a local tar archive
// (plain or gzip) into <dest>. Missing parents of <dest> are made by
// the layer's application (0755, root).
//
// A step's cache key is the content of what it copies (names, modes, owners,
// file digests; not mtimes, which checkouts change), so an unchanged file
// set reuses the step and any changed byte rebuilds it.
import { closeSync, openSync, readlinkSync, readSync, type Stats } from "node:fs";
import { gunzipSync, constants as zlib } from "node:zlib";
import { posix } from "node:path";
import { invalidArgument } from "../errors.ts";
import { decompress, detectCompression } from "../images/compression.ts";
import { readTar } from "../images/tar.ts";
import { writeTar, type TarWriteEntry, type TarWriteType } from "../images/tar-writer.ts";
import { fileDigest, walkTree, type Source, type SourceTree } from "./context.ts";

export interface Owner {
  uid: number;
  gid: number;
}

/** One thing the layer holds: an entry (its content from a host file), or a whole archive unpacked under a directory. */
export type CopyItem =
  | { kind: "entry"; name: string; type: TarWriteType; mode: number; uid: number; gid: number; mtime: number; size: number; linkname?: string; devmajor?: number; devminor?: number; host?: string; digest?: string }
  | { kind: "archive"; host: string; into: string; owner?: Owner; digest: string };

export interface CopyRequest {
  tree: SourceTree;
  sources: Source[];
  /** Absolute destination in the image, as written (a trailing "/" matters). */
  dest: string;
  /** Keep the sources' owners (COPY --from) instead of root's. */
  keepOwners: boolean;
  owner?: Owner;
  /** --chmod: permission bits for every file and directory copied. */
  mode?: number;
  /** ADD: unpack local archives. */
  unpackArchives: boolean;
}

const S_IFMT = 0o170000;
const TYPE_OF: Record<number, TarWriteType> = { 0o100000: "file", 0o040000: "dir", 0o120000: "symlink", 0o020000: "chardev", 0o060000: "blockdev", 0o010000: "fifo" };
const seconds = (st: Stats) => Math.floor(st.mtimeMs / 1000);
const major = (dev: number) => (Math.floor(dev / 0x100) % 0x1000) + Math.floor(dev / 2 ** 44) * 0x1000;
const minor = (dev: number) => (dev % 0x100) + (Math.floor(dev / 0x100000) % 0x1000000) * 0x100;

/** What a path is in the image being built on: a directory, something else, or nothing. */
export type InImage = (path: string) => "dir" | "other" | null;

/** The items of a COPY/ADD (after a cache miss: this reads the image through `inImage`). */
export function planCopy(req: CopyRequest, inImage: InImage): CopyItem[] {
  const destAsDir = req.dest.endsWith("/") || req.sources.length > 1;
  if (req.sources.length > 1 && !req.dest.endsWith("/")) {
    throw invalidArgument("When using COPY with more than one source file, the destination must be a directory and end with a /");
  }
  const dest = posix.normalize(req.dest).replace(/^\/+/, "").replace(/\/+$/, "");
  const at = (rel: string) => (dest && rel ? `${dest}/${rel}` : dest || rel);
  const owner = (st: Stats): Owner => req.owner ?? (req.keepOwners ? { uid: st.uid, gid: st.gid } : { uid: 0, gid: 0 });
  const entry = (name: string, st: Stats, host: string): Extract<CopyItem, { kind: "entry" }> | null => {
    const type = TYPE_OF[st.mode & S_IFMT];
    if (!type) return null; // sockets do not travel
    const o = owner(st);
    const mode = req.mode !== undefined && type !== "symlink" ? req.mode : st.mode & 0o7777;
    const base = { kind: "entry" as const, name, type, mode, uid: o.uid, gid: o.gid, mtime: seconds(st), size: 0 };
    if (type === "file") return { ...base, size: st.size, host, digest: fileDigest(host, st) };
    if (type === "symlink") return { ...base, linkname: readlinkSync(host) };
    if (type === "chardev" || type === "blockdev") return { ...base, devmajor: major(st.rdev), devminor: minor(st.rdev) };
    return base;
  };

  const items: CopyItem[] = [];
  for (const src of req.sources) {
    if (src.stat.isDirectory()) {
      // The directory's contents go into <dest>; <dest> itself gets the directory's metadata when the layer makes it.
      const top = dest !== "" && !inImage(`/${dest}`) ? entry(dest, src.stat, src.host) : null;
      if (top) items.push({ ...top, mode: req.mode ?? 0o755 });
      for (const e of walkTree(req.tree, src)) {
        const item = entry(at(e.rel), e.stat, e.host);
        if (item) items.push(item);
      }
      continue;
    }
    const base = posix.basename(src.rel);
    if (req.unpackArchives && src.stat.isFile() && isTarArchive(src.host)) {
      items.push({ kind: "archive", host: src.host, into: dest, owner: req.owner, digest: fileDigest(src.host, src.stat) });
      continue;
    }
    const intoDir = destAsDir || dest === "" || inImage(`/${dest}`) === "dir";
    const item = entry(intoDir ? at(base) : dest, src.stat, src.host);
    if (item) items.push(item);
  }
  return items;
}

/**
 * The cache key of what a COPY/ADD reads: every source entry's path, type,
 * mode, owner (when kept), link target and content digest; not mtimes,
 * which checkouts change. With the step before it in the key, this decides
 * the layer.
 */
export function copyKey(req: CopyRequest): string {
  const hash = new Bun.CryptoHasher("sha256");
  const add = (rel: string, st: Stats, host: string) => {
    const type = TYPE_OF[st.mode & S_IFMT] ?? "other";
    const owner = req.keepOwners ? `${st.uid}:${st.gid}` : "";
    const what = type === "file" ? fileDigest(host, st) : type === "symlink" ? readlinkSync(host) : type === "chardev" || type === "blockdev" ? String(st.rdev) : "";
    hash.update(`${type} ${JSON.stringify(rel)} ${(st.mode & 0o7777).toString(8)} ${owner} ${what}\n`);
  };
  for (const src of req.sources) {
    add(src.rel, src.stat, src.host);
    if (src.stat.isDirectory()) for (const e of walkTree(req.tree, src)) add(`${src.rel}/${e.rel}`, e.stat, e.host);
  }
  return hash.digest("hex");
}

/** The layer: a tar of the items, file contents read as it is written. */
export async function* copyLayer(items: CopyItem[]): AsyncGenerator<Uint8Array> {
  async function* entries(): AsyncGenerator<TarWriteEntry> {
    for (const i of items) {
      if (i.kind === "entry") {
        const { kind: _, host, digest: __, ...header } = i;
        yield host ? { ...header, body: readFile(host, i.size) } : header;
        continue;
      }
      yield* archiveEntries(i);
    }
  }
  yield* writeTar(entries());
}

/** An archive's entries, renamed under `into` (names that would leave it are refused). */
async function* archiveEntries(a: Extract<CopyItem, { kind: "archive" }>): AsyncGenerator<TarWriteEntry> {
  const under = (name: string) => {
    const clean = posix.normalize(`/${name}`).slice(1).replace(/\/+$/, "");
    if (posix.normalize(name.replace(/^\/+/, "")).startsWith("../")) throw invalidArgument(`ADD: archive entry "${name}" would leave the destination`);
    return a.into && clean ? `${a.into}/${clean}` : a.into || clean;
  };
  for await (const e of readTar(decompress(Bun.file(a.host).stream() as unknown as AsyncIterable<Uint8Array>))) {
    if (e.type === "unsupported") continue;
    const name = under(e.name);
    if (name === "" && e.type === "dir") continue;
    const owner = a.owner ?? { uid: e.uid, gid: e.gid };
    yield {
      name,
      type: e.type,
      mode: e.mode,
      uid: owner.uid,
      gid: owner.gid,
      mtime: Math.floor(e.mtime),
      size: e.type === "file" ? e.size : 0,
      linkname: e.type === "hardlink" ? under(e.linkname) : e.linkname,
      devmajor: e.devmajor,
      devminor: e.devminor,
      xattrs: e.xattrs.size ? e.xattrs : undefined,
      body: e.type === "file" ? e.body() : undefined,
    } as TarWriteEntry;
  }
}

async function* readFile(path: string, size: number): AsyncGenerator<Uint8Array> {
  const fd = openSync(path, "r");
  try {
    let left = size;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(left, 1 << 20));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) throw invalidArgument(`${path} changed while it was copied (it is shorter than when it was read)`);
      left -= n;
      yield buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/** Is this file a tar archive, plain or gzip-compressed (what ADD unpacks)? */
export function isTarArchive(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    let head: Buffer = Buffer.alloc(64 << 10);
    head = head.subarray(0, readSync(fd, head, 0, head.length, 0));
    const kind = detectCompression(head);
    if (kind === "gzip") {
      try {
        head = gunzipSync(head, { finishFlush: zlib.Z_SYNC_FLUSH }); // the start of it is enough
      } catch {
        return false;
      }
    } else if (kind !== "none") return false;
    return head.length >= 512 && isTarHeader(head.subarray(0, 512));
  } finally {
    closeSync(fd);
  }
}

function isTarHeader(b: Buffer): boolean {
  if (b.subarray(257, 262).toString("latin1") === "ustar") return true;
  // A v7 tar has no magic: its header checksum must add up.
  const stored = parseInt(b.subarray(148, 156).toString("latin1").replace(/\0.*$/, "").trim(), 8);
  if (Number.isNaN(stored)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : b[i]!;
  return sum === stored;
}
