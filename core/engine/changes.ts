// What a container changed in its root filesystem (`docker diff`,
// GET /containers/{id}/changes): [{ Path, Kind }] with Kind 0 Modified,
// 1 Added, 2 Deleted, in walk order (a directory before what is in it,
// names sorted).
//
// overlayChanges reads an overlay writable layer (the upper directory)
// against the image's layers, as moby's OverlayChanges does (pkg/archive,
// changes.go and changes_linux.go):
//   - what is in upper and in the image is Modified, what is only in upper
//     is Added (and so is everything under an Added directory);
//   - a directory that is in both and has the same size, mode and mtime is
//     not listed for itself (it is only there because of its children);
//   - when something is Added or Deleted, every directory above it that is
//     not listed yet is listed as Modified;
//   - a whiteout (a 0:0 character device) is Deleted.
// Where berth differs from moby, it does so to say what the container sees:
//   - an opaque directory (trusted.overlay.opaque=y: removed and made again)
//     is Modified, and what the image had in it and upper does not is
//     Deleted (moby lists the directory as Deleted and says nothing of
//     its old content);
//   - "in the image" means visible through the image's layers: whiteouts and
//     opaque directories of the lower layers are honoured (moby only asks
//     whether any lower layer has the path), and lookups never follow a
//     symlink (moby's os.Stat does);
//   - a whiteout of something the image does not have is not listed.
// Directories renamed with overlayfs' redirect_dir feature are refused
// (NotSupported): berth mounts without it, as its kernel default is off.
//
// naiveChanges compares two complete trees (vfs: the container's copy and
// the image's), as moby's ChangesDirs does: a path in both is Modified if
// its lstat differs in mode, uid, gid or rdev, or, for a non-directory, in
// size or mtime, or if its symlink target or extended attributes differ; a
// directory with anything listed under it is listed as Modified; a Deleted
// directory is listed alone, its content is not.
import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from "node:fs";
import { invalidArgument, notSupported } from "../errors.ts";
import type { Sys } from "../sys/index.ts";
import { libcSys } from "../sys/libc.ts";

export const ChangeKind = { Modified: 0, Added: 1, Deleted: 2 } as const;
export type ChangeKind = (typeof ChangeKind)[keyof typeof ChangeKind];

export interface Change {
  Path: string;
  Kind: ChangeKind;
}

/** Mount points berth makes for its own files: not the container's changes (Docker keeps them in an init layer). */
const ENGINE_FILES = new Set(["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"]);

/** A container's own changes: without berth's /etc files, nor a directory "changed" only because berth made them in it. */
export function withoutEngineFiles<C extends { Path: string; Kind: number }>(all: C[]): C[] {
  const dropped = all.filter((x) => ENGINE_FILES.has(x.Path)).map((x) => x.Path);
  const kept = all.filter((x) => !ENGINE_FILES.has(x.Path));
  const under = (dir: string, p: string) => p.startsWith(`${dir}/`);
  return kept.filter((x) => !(x.Kind === 0 && dropped.some((d) => under(x.Path, d)) && !kept.some((y) => under(x.Path, y.Path))));
}

const S_IFMT = 0o170000;
const S_IFCHR = 0o020000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const NS = 1_000_000_000n;

const isDir = (st: BigIntStats) => (Number(st.mode) & S_IFMT) === S_IFDIR;
const isWhiteout = (st: BigIntStats) => (Number(st.mode) & S_IFMT) === S_IFCHR && st.rdev === 0n;
const lstat = (p: string) => lstatSync(p, { bigint: true, throwIfNoEntry: false });

/** Go's sameFsTime: equal, or the same second with one side lacking nanoseconds. */
function sameFsTime(a: bigint, b: bigint): boolean {
  if (a === b) return true;
  const sa = a / NS;
  const sb = b / NS;
  return sa === sb && (a % NS === 0n || b % NS === 0n);
}

/** Component-wise order: a directory right before what is in it, names sorted. */
function byPath(a: Change, b: Change): number {
  const pa = a.Path.split("/");
  const pb = b.Path.split("/");
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return pa[i]! < pb[i]! ? -1 : 1;
  }
  return pa.length - pb.length;
}

const sortedNames = (dir: string) => readdirSync(dir).sort();
const join = (dir: string, name: string) => (dir === "/" ? `/${name}` : `${dir}/${name}`);

/** Docker's rule for recording changes, with the parent-directory bookkeeping of moby's changes(). */
class Recorder {
  readonly list: Change[] = [];
  private readonly changedDirs = new Set<string>();

  record(path: string, kind: ChangeKind, dir: boolean) {
    if (dir) this.changedDirs.add(path);
    if (kind !== ChangeKind.Modified) {
      // Every directory above an addition or a deletion that is not listed yet is, as Modified.
      for (let parent = path.slice(0, path.lastIndexOf("/")); parent !== ""; parent = parent.slice(0, parent.lastIndexOf("/"))) {
        if (this.changedDirs.has(parent)) continue;
        this.list.push({ Path: parent, Kind: ChangeKind.Modified });
        this.changedDirs.add(parent);
      }
    }
    this.list.push({ Path: path, Kind: kind });
  }
}

/**
 * The changes recorded in an overlay upper directory. `lowerDirs` are the
 * image's layer directories, nearest first (the order of overlayfs'
 * lowerdir=).
 */
export function overlayChanges(upperDir: string, lowerDirs: string[], sys: Sys = libcSys): Change[] {
  const rec = new Recorder();
  const xattr = (p: string, name: string) => {
    const v = sys.lgetxattr(p, name);
    return v === null ? null : Buffer.from(v).toString("latin1");
  };
  const opaque = (p: string) => xattr(p, "trusted.overlay.opaque") === "y";

  /** The image's entry `name` in a directory seen through `view` (its layer directories, nearest first). */
  const lookup = (view: string[], name: string): BigIntStats | null => {
    for (const d of view) {
      const st = lstat(`${d}/${name}`);
      if (!st) continue;
      return isWhiteout(st) ? null : st;
    }
    return null;
  };

  /** The layer directories that make up the image's directory `name` under `view`. */
  const childView = (view: string[], name: string): string[] => {
    const out: string[] = [];
    for (const d of view) {
      const p = `${d}/${name}`;
      const st = lstat(p);
      if (!st) continue;
      if (!isDir(st)) break; // a whiteout, a file or a symlink hides the layers below
      out.push(p);
      if (opaque(p)) break;
    }
    return out;
  };

  /** What the image has in a directory seen through `view`. */
  const imageNames = (view: string[]): string[] => {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const d of view) {
      for (const n of readdirSync(d)) {
        if (seen.has(n)) continue;
        seen.add(n);
        if (lookup(view, n)) out.push(n);
      }
    }
    return out.sort();
  };

  const visit = (path: string, upper: string, view: string[], isOpaque: boolean) => {
    const names = sortedNames(upper);
    for (const name of names) {
      const p = `${upper}/${name}`;
      const st = lstat(p);
      if (!st) continue;
      const cpath = join(path, name);
      const img = lookup(view, name);
      if (isWhiteout(st)) {
        if (img) rec.record(cpath, ChangeKind.Deleted, false);
        continue;
      }
      if (!isDir(st)) {
        rec.record(cpath, img ? ChangeKind.Modified : ChangeKind.Added, false);
        continue;
      }
      if (xattr(p, "trusted.overlay.redirect") !== null) {
        throw notSupported(`overlay: ${cpath} in ${upperDir} was renamed with overlayfs' redirect_dir, which berth cannot diff`, "mount overlayfs with redirect_dir=off");
      }
      const op = opaque(p);
      const sub = img && isDir(img) ? childView(view, name) : [];
      if (!img) rec.record(cpath, ChangeKind.Added, true);
      else if (op || !isDir(img) || st.size !== img.size || st.mode !== img.mode || !sameFsTime(st.mtimeNs, img.mtimeNs)) {
        rec.record(cpath, ChangeKind.Modified, true);
      }
      visit(cpath, p, sub, op);
    }
    if (isOpaque) {
      // What the image had here and upper does not: gone.
      const inUpper = new Set(names);
      for (const n of imageNames(view)) if (!inUpper.has(n)) rec.record(join(path, n), ChangeKind.Deleted, false);
    }
  };

  const rootOpaque = opaque(upperDir);
  visit("/", upperDir, lowerDirs, rootOpaque);
  return rec.list.sort(byPath);
}

/** moby's statDifferent, and the symlink's target. */
function differs(a: BigIntStats, b: BigIntStats, aPath: string, bPath: string, ids: IdsOf = (u, g) => [u, g]): boolean {
  const [uid, gid] = ids(a.uid, a.gid);
  if (a.mode !== b.mode || uid !== b.uid || gid !== b.gid || a.rdev !== b.rdev) return true;
  if (isDir(a)) return false; // a directory's size and mtime say nothing (moby#9874)
  if (!sameFsTime(a.mtimeNs, b.mtimeNs) || a.size !== b.size) return true;
  return (Number(a.mode) & S_IFMT) === S_IFLNK && readlinkSync(aPath) !== readlinkSync(bPath);
}

/** The image's ids of a file of the container's tree (a shifted copy's are the remapped ones). */
export type IdsOf = (uid: bigint, gid: bigint) => [bigint, bigint];

/** The changes between a container's full tree and its image's (the vfs driver). */
export function naiveChanges(rwRoot: string, imageRoot: string, sys: Sys = libcSys, ids?: IdsOf): Change[] {
  const changes: Change[] = [];
  /** All extended attributes, as one comparable string. */
  const xattrs = (p: string) => {
    const names = sys.llistxattr(p);
    if (names.length === 0) return "";
    return names
      .sort()
      .map((n) => `${n}=${Buffer.from(sys.lgetxattr(p, n) ?? new Uint8Array()).toString("hex")}`)
      .join("\n");
  };

  /** moby's addChanges: `path` exists in the new tree; `oldSt` is the old tree's entry there, if any. */
  const addChanges = (path: string, newSt: BigIntStats, oldSt: BigIntStats | null, added: boolean) => {
    const at = changes.length;
    const newHost = path === "/" ? rwRoot : `${rwRoot}${path}`;
    const oldHost = path === "/" ? imageRoot : `${imageRoot}${path}`;
    if (!oldSt) {
      changes.push({ Path: path, Kind: ChangeKind.Added });
      added = true;
    }
    if (!isDir(newSt)) return;
    const oldNames = oldSt && isDir(oldSt) ? new Set(sortedNames(oldHost)) : new Set<string>();
    for (const name of sortedNames(newHost)) {
      const child = join(path, name);
      const cst = lstat(`${newHost}/${name}`);
      if (!cst) continue;
      const old = oldNames.has(name) ? lstat(`${oldHost}/${name}`) : null;
      oldNames.delete(name);
      let childAdded = false;
      if (old && (differs(cst, old, `${newHost}/${name}`, `${oldHost}/${name}`, ids) || xattrs(`${newHost}/${name}`) !== xattrs(`${oldHost}/${name}`))) {
        changes.push({ Path: child, Kind: ChangeKind.Modified });
        childAdded = true;
      }
      addChanges(child, cst, old ?? null, childAdded);
    }
    for (const name of [...oldNames].sort()) changes.push({ Path: join(path, name), Kind: ChangeKind.Deleted });
    // A directory with changes under it is listed, before them.
    if (changes.length > at && !added && path !== "/") changes.splice(at, 0, { Path: path, Kind: ChangeKind.Modified });
  };

  const newRoot = lstat(rwRoot);
  const oldRoot = lstat(imageRoot);
  if (!newRoot || !isDir(newRoot)) throw invalidArgument(`cannot list changes: ${rwRoot} is not a directory`);
  if (!oldRoot || !isDir(oldRoot)) throw invalidArgument(`cannot list changes: ${imageRoot} is not a directory`);
  addChanges("/", newRoot, oldRoot, false);
  return changes.sort(byPath);
}
