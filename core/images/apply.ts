// Apply an OCI/Docker image layer (an uncompressed tar) onto a directory,
// as the OCI image spec (layer.md) and Docker describe it.
//
// Every path is resolved inside `root`, as if `root` were "/" (the rule of
// core/paths.ts, here fused with creating directories and a cache, for
// layers of thousands of entries): a symlink in
// a parent component is followed within the root (an absolute target
// restarts at the root, ".." stops at it), and the final component is never
// followed. Names that leave the root ("../x", "/x", "a/../../x") and hard
// links to outside are refused.
//
// Whiteouts (".wh.<name>", ".wh..wh..opq") become overlayfs' own markers
// (whiteouts: "overlay": a 0:0 character device, the trusted.overlay.opaque
// xattr) or are carried out on a full copy of the parent layer ("delete");
// "none" takes them for ordinary names (docker cp). As the OCI spec says,
// they hide only what the layers below have: what this layer wrote stays,
// whatever the order of the entries. Both modes give a container the same
// view ("overlay" given the `lowers`): hard links stay within the layer (the
// spec allows refusing links to files below; an overlay layer cannot hold
// them), a 0:0 character device (an overlay whiteout) is refused, and a
// directory that the layer only adds to or removes from keeps its owner,
// mode, xattrs and mtime.
//
// `into`, `owner` and `noOverwriteDirNonDir` make it the extractor of
// `docker cp` (PUT /containers/{id}/archive): names relative to a directory
// of the root, Docker's ownership and its refusal to replace a directory by
// a non-directory or the reverse.
import {
  closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync,
  mkdirSync, openSync, readdirSync, readlinkSync, rmdirSync, rmSync, statSync, symlinkSync, unlinkSync, writeSync, chmodSync,
} from "node:fs";
import type { Stats } from "node:fs";
import { posix } from "node:path";
import { BerthError, conflict, errnoCode, invalidArgument, notSupported, SysError } from "../errors.ts";
import { RESOLVE, S_IFCHR, type Sys } from "../sys/index.ts";
import { readTar, type TarEntry } from "./tar.ts";

export interface ApplyOptions {
  /**
   * "overlay": write overlayfs whiteouts (a layer of its own); "delete": remove what they hide (a full copy);
   * "none": no whiteouts, ".wh.*" names are ordinary files.
   */
  whiteouts: "overlay" | "delete" | "none";
  sys: Sys;
  /**
   * Unpack under this directory of the root (a path inside it, resolved in
   * it; it must exist) instead of at the root: names and hard link targets
   * are relative to it and may not leave it (symlinks met on the way are
   * still followed within the whole root, as docker cp does). A leading "/"
   * in a name is dropped, as Docker does, and the entry for the directory
   * itself ("." or "./") leaves it as it is.
   */
  into?: string;
  /** Give everything this owner instead of the archive's (Docker's ChownOpts). */
  owner?: { uid: number; gid: number };
  /** Without `owner`: the host owners of the archive's (a remapped container's ids shifted). */
  ids?: (uid: number, gid: number) => [number, number];
  /** Refuse to replace a directory by a non-directory or the reverse (Docker's NoOverwriteDirNonDir): a Conflict error. */
  noOverwriteDirNonDir?: boolean;
  /**
   * The root may change while we write (a running container, or another
   * one sharing its volume): every call then reaches its path through a
   * descriptor of the parent directory opened with openat2(RESOLVE_IN_ROOT),
   * so a directory swapped for a symlink meanwhile cannot lead out of it.
   */
  confine?: boolean;
  /**
   * "overlay": the directories of the layers below, nearest first, as
   * overlayfs stacks them. Paths are then resolved through what a container
   * sees, as in "delete" mode: a symlink below is followed (inside the root),
   * a directory below is copied up (owner, mode, xattrs, mtime) before
   * anything is written in it, and a whiteout with nothing to hide is left
   * out. Without it, the layers below are unknown: not looked at.
   */
  lowers?: string[];
}

export interface ApplyResult {
  /** Bytes of regular file content written. */
  size: number;
  /** Entries that could not be applied in full and were skipped or degraded (e.g. mknod refused in a user namespace). */
  warnings: string[];
}

const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const WH = ".wh.";
const OPAQUE = ".wh..wh..opq";
const MAX_HOPS = 40;
const OPAQUE_XATTR = "trusted.overlay.opaque";
const SPARSE_HINT = "image layers should not hold sparse files (OCI image-spec, layer.md): make the archive without --sparse";
const isWhiteout = (st: Stats) => st.isCharacterDevice() && st.rdev === 0;
const { O_WRONLY, O_CREAT, O_TRUNC, O_EXCL, O_NOFOLLOW, O_RDONLY, O_DIRECTORY } = constants;
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const CREATE_FILE = O_WRONLY | O_CREAT | O_TRUNC | O_EXCL | O_NOFOLLOW;
const OPEN_DIR = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;

/** glibc's dev_t encoding (gnu_dev_makedev), for majors and minors of any size. */
const makedev = (major: number, minor: number) =>
  (minor & 0xff) + (major & 0xfff) * 0x100 + Math.floor(minor / 0x100) * 0x100000 + Math.floor(major / 0x1000) * 2 ** 44;

export async function applyLayer(root: string, tar: AsyncIterable<Uint8Array>, opts: ApplyOptions): Promise<ApplyResult> {
  // The root itself may be reached through a symlink (/proc/<pid>/root): it is trusted.
  const st = statSync(root, { throwIfNoEntry: false });
  if (!st?.isDirectory()) throw invalidArgument(`cannot apply a layer onto ${root}: not a directory`);
  const a = new Applier(root.replace(/\/+$/, "") || "/", opts);
  try {
    for await (const entry of readTar(tar)) {
      try {
        await a.apply(entry);
      } catch (err) {
        throw inEntry(err, entry.name);
      }
    }
    a.finish();
  } finally {
    a.close();
  }
  return { size: a.size, warnings: a.warnings };
}

/**
 * rm -rf of `path` (one name in a held directory) by descriptors: each step
 * looks up one name in a directory held open, so a directory swapped for a
 * symlink meanwhile is removed as the symlink, never followed.
 */
function removeTree(path: string) {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOENT") return;
    if (code === "ELOOP" || code === "ENOTDIR") return unlinkSync(path);
    throw err;
  }
  try {
    for (const name of readdirSync(`/proc/self/fd/${fd}`)) {
      const child = `/proc/self/fd/${fd}/${name}`;
      if (lstatSync(child, { throwIfNoEntry: false })?.isDirectory()) removeTree(child);
      else unlinkSync(child);
    }
  } finally {
    closeSync(fd);
  }
  rmdirSync(path);
}

/** Name the entry in an error, keeping its type (fs errors become SysErrors). */
function inEntry(err: unknown, name: string): unknown {
  const prefix = `layer entry "${name}": `;
  if (err instanceof BerthError) {
    if (!err.message.includes(`"${name}"`)) err.message = prefix + err.message;
    return err;
  }
  const code = errnoCode(err);
  const e = err as { errno?: number; syscall?: string; path?: string; dest?: string; message?: string };
  if (code && typeof e.errno === "number") {
    const call = e.syscall ?? /, (\w+) '/.exec(e.message ?? "")?.[1] ?? "fs";
    const short = (p: string) => (p.length > 200 ? `${p.slice(0, 200)}…` : p);
    const subject = e.path === undefined ? undefined : e.dest === undefined ? short(e.path) : `${short(e.path)} -> ${short(e.dest)}`;
    // A name or link target too long for the filesystem is the layer's fault, not the host's.
    const sysErr = new SysError(call, Math.abs(e.errno), code, subject, code === "ENAMETOOLONG" ? "InvalidArgument" : undefined);
    sysErr.message = prefix + sysErr.message;
    return sysErr;
  }
  return err;
}

interface DirMeta {
  name: string;
  mode: number;
  mtime: number;
  depth: number;
}

class Applier {
  size = 0;
  readonly warnings: string[] = [];
  /** Raw (cleaned) parent paths → their resolved in-root path. */
  private readonly resolved = new Map<string, string>();
  /** Resolved paths known to be real directories. */
  private readonly dirs = new Set<string>([""]);
  /** Directory mode and mtime, applied at the end (children change a dir's mtime). */
  private readonly dirMeta = new Map<string, DirMeta>();
  /**
   * Layers: what this layer wrote, and the parents of it (umoci's
   * "upperPaths"): whiteouts and opaque directories never remove these, and
   * hard links may only point at these.
   */
  private readonly written: Set<string> | null;
  /** "overlay": the directories this layer made opaque. */
  private readonly opaque = new Set<string>();
  /** "overlay": symlinks of the layers below that resolving paths went through. */
  private readonly lowerLinks = new Set<string>();
  private readonly overlay: boolean;
  /** The resolved `into` directory ("" for the root). */
  private readonly into: string;
  /** With `confine`: the root, and parent directories (resolved paths) opened in it. */
  private readonly rootFd: number | undefined;
  private readonly dirFds = new Map<string, number>();

  constructor(
    private readonly root: string,
    private readonly opts: ApplyOptions,
  ) {
    if (opts.confine) this.rootFd = openSync(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    this.written = opts.whiteouts === "none" ? null : new Set();
    this.overlay = opts.whiteouts === "overlay";
    if (opts.whiteouts === "delete") this.keepTime("", statSync(root), "./");
    this.into = "";
    if (opts.into !== undefined) {
      const raw = posix.normalize(`/${opts.into}`).replace(/^\/+|\/+$/g, "");
      const dir = this.resolveDir(raw, false, opts.into);
      if (dir === null) throw invalidArgument(`cannot unpack into "/${raw}": not a directory in ${root}`);
      this.into = dir;
    }
  }

  private uid(e: TarEntry) {
    return this.opts.owner?.uid ?? (this.opts.ids ? this.opts.ids(e.uid, e.gid)[0] : e.uid);
  }

  private gid(e: TarEntry) {
    return this.opts.owner?.gid ?? (this.opts.ids ? this.opts.ids(e.uid, e.gid)[1] : e.gid);
  }

  /** The destination as Docker names it in its NoOverwriteDirNonDir errors. */
  private get dest() {
    return `/${this.into}`;
  }

  private abs(rel: string): string {
    if (this.rootFd !== undefined) {
      if (rel === "") return `/proc/self/fd/${this.rootFd}/.`;
      const slash = rel.lastIndexOf("/");
      return `/proc/self/fd/${this.dirFd(slash < 0 ? "" : rel.slice(0, slash))}/${rel.slice(slash + 1)}`;
    }
    return rel === "" ? this.root : this.root === "/" ? `/${rel}` : `${this.root}/${rel}`;
  }

  /** A descriptor of the directory at `rel`, opened inside the root whatever is at that path now. */
  private dirFd(rel: string): number {
    if (rel === "") return this.rootFd!;
    let fd = this.dirFds.get(rel);
    if (fd === undefined) {
      fd = this.opts.sys.openat2(this.rootFd!, rel, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS);
      this.dirFds.set(rel, fd);
    }
    return fd;
  }

  /** Forget the descriptors of `path` and what is under it (gone); the parent's, which abs(path) used, stays. */
  private dropDirFdsUnder(path: string) {
    for (const [rel, fd] of this.dirFds) {
      if (rel === path || rel.startsWith(`${path}/`)) {
        closeSync(fd);
        this.dirFds.delete(rel);
      }
    }
  }

  /** Forget the directory descriptors (paths abs() gave out before must not be used after). */
  private dropDirFds() {
    for (const fd of this.dirFds.values()) closeSync(fd);
    this.dirFds.clear();
  }

  close() {
    this.dropDirFds();
    if (this.rootFd !== undefined) closeSync(this.rootFd);
  }

  async apply(e: TarEntry) {
    if (this.dirFds.size > 256) this.dropDirFds();
    const inner = cleanName(e.name, this.opts.into !== undefined);
    const rel = this.into === "" ? inner : inner === "" ? this.into : `${this.into}/${inner}`;
    const slash = rel.lastIndexOf("/");
    const parentRaw = slash < 0 ? "" : rel.slice(0, slash);
    const base = rel.slice(slash + 1);

    if (this.opts.whiteouts !== "none" && inner !== "") {
      // aufs metadata (".wh..wh.plnk", ".wh..wh.aufs"): not part of the filesystem.
      if (inner.includes(".wh..wh.") && inner.split("/").some((c) => c.startsWith(".wh..wh.") && c !== OPAQUE)) return;
      if (base.startsWith(WH)) return this.whiteout(e, parentRaw, base);
    }

    if (inner === "") {
      if (e.type !== "dir") throw invalidArgument(`layer entry "${e.name}" would replace the root directory with a ${e.type}`);
      if (this.opts.into !== undefined) return; // Docker leaves the destination directory as it is
      lchownSync(this.abs(""), this.uid(e), this.gid(e));
      if (this.written) this.clearXattrs("", e);
      this.setXattrs(e, "");
      this.deferDir(e, "");
      return;
    }

    const parent = this.resolveDir(parentRaw, true, e.name)!;
    const path = parent === "" ? base : `${parent}/${base}`;
    const p = this.abs(path);

    switch (e.type) {
      case "file": {
        const fd = this.create(path, () => openSync(p, CREATE_FILE, 0o600));
        try {
          for await (const chunk of e.body()) {
            for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off);
          }
          this.size += e.size;
          // Order matters: chown clears setuid bits and security.capability; writes clear capabilities.
          fchownSync(fd, this.uid(e), this.gid(e));
          this.setXattrs(e, path);
          fchmodSync(fd, e.mode);
          futimesSync(fd, e.mtime, e.mtime);
        } finally {
          closeSync(fd);
        }
        break;
      }
      case "dir": {
        try {
          mkdirSync(p, 0o755);
        } catch (err) {
          if (errnoCode(err) !== "EEXIST") throw err;
          const st = lstatSync(p);
          if (!st.isDirectory()) {
            if (this.opts.noOverwriteDirNonDir) throw conflict(`cannot overwrite non-directory "/${path}" with directory "${this.dest}"`);
            this.remove(path, st.isDirectory(), st.isSymbolicLink());
            mkdirSync(p, 0o755);
            // This layer replaced what was below (a whiteout, a file): the new directory must not show its contents.
            if (this.overlay) this.setOpaque(path);
          } else if (this.written) {
            // OCI: "the existing path's attributes MUST be replaced by those of the entry", xattrs included.
            this.clearXattrs(path, e);
          }
        }
        this.dirs.add(path);
        lchownSync(p, this.uid(e), this.gid(e));
        this.setXattrs(e, path);
        this.deferDir(e, path);
        break;
      }
      case "symlink": {
        if (e.linkname === "") throw invalidArgument(`layer entry "${e.name}" is a symlink with an empty target`);
        this.create(path, () => symlinkSync(e.linkname, p));
        lchownSync(p, this.uid(e), this.gid(e));
        this.setXattrs(e, path);
        lutimesSync(p, e.mtime, e.mtime);
        break;
      }
      case "hardlink": {
        const target = this.linkTarget(e);
        if (target === path) break; // a link to itself: what is there already is the file
        this.create(path, () => linkSync(this.abs(target), p));
        lchownSync(p, this.uid(e), this.gid(e));
        this.setXattrs(e, path);
        const symlink = lstatSync(p).isSymbolicLink();
        if (!symlink) chmodSync(p, e.mode);
        lutimesSync(p, e.mtime, e.mtime);
        break;
      }
      case "chardev":
      case "blockdev":
      case "fifo": {
        if (e.type === "chardev" && e.devmajor === 0 && e.devminor === 0 && this.written) {
          throw invalidArgument(
            `layer entry "${e.name}" is a character device 0:0, which overlayfs takes for a whiteout`,
            'a layer deletes a file with a ".wh.<name>" entry',
          );
        }
        const fmt = e.type === "chardev" ? S_IFCHR : e.type === "blockdev" ? S_IFBLK : S_IFIFO;
        const dev = e.type === "fifo" ? 0 : makedev(e.devmajor, e.devminor);
        try {
          this.create(path, () => this.opts.sys.mknod(p, fmt | e.mode, dev));
        } catch (err) {
          if (!(err instanceof SysError && err.code === "EPERM")) throw err;
          this.warnings.push(`skipped ${e.type} "${e.name}": creating device nodes is not permitted here (a user namespace?)`);
          return;
        }
        lchownSync(p, this.uid(e), this.gid(e));
        this.setXattrs(e, path);
        chmodSync(p, e.mode); // the new node, not a symlink: nothing to follow
        lutimesSync(p, e.mtime, e.mtime);
        break;
      }
      default:
        if (e.typeflag === "S") throw notSupported(`layer entry "${e.name}" has tar type 'S', a GNU sparse file, which is not supported`, SPARSE_HINT);
        throw notSupported(`layer entry "${e.name}" has tar type '${printable(e.typeflag)}', which cannot be unpacked`);
    }
    this.touch(path);
    if (this.overlay) this.hidden(path);
  }

  /** Record that this layer wrote `path` (and so has its parents). */
  private touch(path: string) {
    if (!this.written) return;
    for (let p = path; p !== "" && !this.written.has(p); p = p.slice(0, Math.max(0, p.lastIndexOf("/")))) this.written.add(p);
  }

  /** Restore a directory's mode and mtime at the end, unless an entry sets them: what this layer does in it must not change them. */
  private keepTime(path: string, st: Stats, entry: string) {
    if (this.dirMeta.has(path)) return;
    this.dirMeta.set(path, { name: entry, mode: st.mode & 0o7777, mtime: st.mtimeMs / 1000, depth: path === "" ? 0 : path.split("/").length });
  }

  /** Apply directory modes and mtimes, deepest first. */
  finish() {
    const list = [...this.dirMeta.entries()].sort((a, b) => b[1].depth - a[1].depth);
    for (const [path, m] of list) {
      let fd: number;
      try {
        fd = openSync(this.abs(path), OPEN_DIR);
      } catch (err) {
        const code = errnoCode(err);
        if (code === "ENOENT" || code === "ENOTDIR" || code === "ELOOP") continue; // replaced later in the layer
        throw inEntry(err, m.name);
      }
      try {
        fchmodSync(fd, m.mode);
        futimesSync(fd, m.mtime, m.mtime);
      } catch (err) {
        throw inEntry(err, m.name);
      } finally {
        closeSync(fd);
      }
    }
  }

  private deferDir(e: TarEntry, path: string) {
    this.dirMeta.delete(path); // re-inserted: the last entry for a path wins
    this.dirMeta.set(path, { name: e.name, mode: e.mode, mtime: e.mtime, depth: path === "" ? 0 : path.split("/").length });
  }

  /** Remove the xattrs of an existing directory that the entry does not have (keeping overlay's markers and the LSM label). */
  private clearXattrs(path: string, e: TarEntry) {
    const p = this.abs(path);
    for (const name of this.opts.sys.llistxattr(p)) {
      if (e.xattrs.has(name) || name.startsWith("trusted.overlay.") || name === "security.selinux") continue;
      this.xattr(e.name, name, "not removed", () => this.opts.sys.lremovexattr(p, name));
    }
  }

  private setOpaque(dir: string) {
    this.opts.sys.lsetxattr(this.abs(dir), OPAQUE_XATTR, new TextEncoder().encode("y"));
    this.opaque.add(dir);
    this.hidden(dir);
  }

  private setXattrs(e: TarEntry, path: string) {
    for (const [name, value] of e.xattrs) {
      // Overlay metadata from a tar would forge whiteouts and opaque dirs.
      if (name.startsWith("trusted.overlay.")) continue;
      this.xattr(e.name, name, "not set", () => this.opts.sys.lsetxattr(this.abs(path), name, value));
    }
  }

  /** An xattr change; refused (EPERM in a user namespace) or unsupported, it is a warning. */
  private xattr(entry: string, name: string, what: string, call: () => void) {
    try {
      call();
    } catch (err) {
      if (err instanceof SysError && (err.code === "EPERM" || err.code === "EOPNOTSUPP" || err.code === "ENOTSUP")) {
        this.warnings.push(`layer entry "${entry}": extended attribute ${name} ${what}: ${err.code}`);
        return;
      }
      throw err;
    }
  }

  /** Run `make`; if something is in the way, remove it and run it again. */
  private create<T>(path: string, make: () => T): T {
    try {
      return make();
    } catch (err) {
      if (errnoCode(err) !== "EEXIST") throw err;
    }
    const st = lstatSync(this.abs(path));
    if (this.opts.noOverwriteDirNonDir && st.isDirectory()) throw conflict(`cannot overwrite directory "/${path}" with non-directory "${this.dest}"`);
    this.remove(path, st.isDirectory(), st.isSymbolicLink());
    return make();
  }

  /** Remove a resolved path and forget what the caches knew about it. */
  private remove(path: string, isDir: boolean, isSymlink: boolean) {
    if (path === "") throw invalidArgument("refusing to remove the root directory of the layer");
    if (isDir) {
      if (this.rootFd !== undefined) removeTree(this.abs(path));
      else rmSync(this.abs(path), { recursive: true, force: true });
      const under = `${path}/`;
      for (const d of this.dirs) if (d === path || d.startsWith(under)) this.dirs.delete(d);
      for (const d of this.dirMeta.keys()) if (d === path || d.startsWith(under)) this.dirMeta.delete(d);
      for (const d of this.opaque) if (d === path || d.startsWith(under)) this.opaque.delete(d);
      this.resolved.clear();
      this.dropDirFdsUnder(path);
    } else {
      unlinkSync(this.abs(path));
      if (isSymlink) {
        this.resolved.clear();
        this.dropDirFdsUnder(path);
      }
    }
  }

  /**
   * Resolve a cleaned directory path inside the root, following symlinks
   * within it; create missing directories when `create` ("below": only to
   * copy up a directory that a layer below has), else null.
   */
  private resolveDir(raw: string, create: boolean | "below", entry: string): string | null {
    if (raw === "") return "";
    const hit = this.resolved.get(raw);
    if (hit !== undefined) return hit;
    const slash = raw.lastIndexOf("/");
    const head = this.resolveDir(slash < 0 ? "" : raw.slice(0, slash), create, entry);
    if (head === null) return null;
    const out = this.walk(head, raw.slice(slash + 1), create, entry);
    if (out !== null) this.resolved.set(raw, out);
    return out;
  }

  /** Step from the resolved directory `from` through `name`, symlinks resolved in-root. */
  private walk(from: string, name: string, create: boolean | "below", entry: string): string | null {
    const stack = from === "" ? [] : from.split("/");
    const todo = [name]; // components still to walk, last one first
    let hops = 0;
    while (todo.length > 0) {
      const c = todo.pop()!;
      if (c === "" || c === ".") continue;
      if (c === "..") {
        stack.pop(); // ".." of the root is the root
        continue;
      }
      stack.push(c);
      const rel = stack.join("/");
      if (this.dirs.has(rel)) continue;
      const p = this.abs(rel);
      let st = lstatSync(p, { throwIfNoEntry: false });
      // "overlay": a whiteout of this layer (nothing is there any more), or what the layers below have.
      const whitedOut = st !== undefined && this.overlay && isWhiteout(st);
      let src = p;
      let below = false;
      if (whitedOut) st = undefined;
      else if (!st && this.overlay && this.opts.lowers) {
        const b = this.below(rel);
        if (b) [st, src, below] = [b.st, b.path, true];
      }
      if (!st) {
        if (create !== true) return null;
        if (whitedOut) unlinkSync(p);
        mkdirSync(p, 0o755);
        chmodSync(p, 0o755); // whatever the umask
        if (whitedOut) this.setOpaque(rel); // made again after this layer removed it: nothing of below shows
        this.dirs.add(rel);
        this.touch(rel);
      } else if (st.isDirectory()) {
        if (below) {
          if (!create) return null; // looking something up: it is not in this layer
          this.copyUp(rel, src, st, entry);
        } else if (this.opts.whiteouts === "delete") this.keepTime(rel, st, entry);
        this.dirs.add(rel);
      } else if (st.isSymbolicLink()) {
        if (++hops > MAX_HOPS) {
          throw invalidArgument(`layer entry "${entry}": too many levels of symbolic links (ELOOP) resolving "/${rel}" inside the layer`);
        }
        const target = readlinkSync(src);
        if (below) this.lowerLinks.add(rel);
        stack.pop();
        if (target.startsWith("/")) stack.length = 0;
        const parts = target.split("/");
        for (let i = parts.length - 1; i >= 0; i--) todo.push(parts[i]!);
      } else {
        if (create !== true) return null; // looking something up: nothing can be under a non-directory
        throw invalidArgument(`layer entry "${entry}": "/${rel}" is not a directory`);
      }
    }
    return stack.join("/");
  }

  /**
   * "overlay": what the layers below show at `rel` (its parent being a
   * directory of this layer), as overlayfs merges them: the nearest layer
   * that has it, unless a whiteout, a non-directory or an opaque directory
   * on the way hides the layers under it.
   */
  private below(rel: string): { st: Stats; path: string } | null {
    const parts = rel.split("/");
    for (let i = 0; i < parts.length; i++) if (this.opaque.has(parts.slice(0, i).join("/"))) return null;
    for (const layer of this.opts.lowers ?? []) {
      let absent = false;
      let opaque = false;
      for (let i = 1; i < parts.length && !absent; i++) {
        const dir = `${layer}/${parts.slice(0, i).join("/")}`;
        const st = lstatSync(dir, { throwIfNoEntry: false });
        if (!st) absent = true;
        else if (!st.isDirectory()) return null;
        else if (this.opts.sys.lgetxattr(dir, OPAQUE_XATTR)?.[0] === 0x79) opaque = true;
      }
      if (!absent) {
        const path = `${layer}/${rel}`;
        const st = lstatSync(path, { throwIfNoEntry: false });
        if (st) return isWhiteout(st) ? null : { st, path };
      }
      if (opaque) return null;
    }
    return null;
  }

  /** Make the directory a layer below has at `rel`, with its owner, xattrs, mode and mtime (overlayfs' copy-up). */
  private copyUp(rel: string, from: string, st: Stats, entry: string) {
    const p = this.abs(rel);
    mkdirSync(p, 0o755);
    lchownSync(p, st.uid, st.gid);
    for (const name of this.opts.sys.llistxattr(from)) {
      if (name.startsWith("trusted.overlay.")) continue;
      const value = this.opts.sys.lgetxattr(from, name);
      if (value) this.xattr(entry, name, "not copied up", () => this.opts.sys.lsetxattr(p, name, value));
    }
    this.keepTime(rel, st, entry);
  }

  /** Something of this layer now hides what the layers below have at `path`: forget what was resolved through their symlinks. */
  private hidden(path: string) {
    for (const l of this.lowerLinks) {
      if (path === "" || l === path || l.startsWith(`${path}/`)) {
        this.lowerLinks.clear();
        this.resolved.clear();
        return;
      }
    }
  }

  /** The in-root path a hard link points to; it must exist (in this layer, for a layer) and not be a directory. */
  private linkTarget(e: TarEntry): string {
    // Link targets are archive paths: relative to the root, a leading "/" included.
    const raw = e.linkname.replace(/^\/+/, "");
    const clean = e.linkname.includes("\0") ? ".." : posix.normalize(raw || ".");
    if (clean === ".." || clean.startsWith("../")) {
      throw invalidArgument(`layer entry "${e.name}" is a hard link to "${e.linkname}", which points outside the root filesystem`);
    }
    const inner = clean.replace(/\/+$/, "");
    if (inner === "." || inner === "") throw invalidArgument(`layer entry "${e.name}" is a hard link to the root directory`);
    const rel = this.into === "" ? inner : `${this.into}/${inner}`;
    const slash = rel.lastIndexOf("/");
    const parent = this.resolveDir(slash < 0 ? "" : rel.slice(0, slash), false, e.name);
    const target = parent === null ? null : parent === "" ? rel.slice(slash + 1) : `${parent}/${rel.slice(slash + 1)}`;
    const st = target === null ? undefined : lstatSync(this.abs(target), { throwIfNoEntry: false });
    if (st?.isDirectory()) throw invalidArgument(`layer entry "${e.name}" is a hard link to "${e.linkname}", which is a directory`);
    // A layer's links stay in the layer: an overlay layer cannot link to a file below it (nor to a whiteout).
    if (target === null || !st || (this.written && !this.written.has(target))) {
      throw invalidArgument(`layer entry "${e.name}" is a hard link to "${e.linkname}", which does not exist in ${this.written ? "this layer" : "the layer or below it"}`);
    }
    return target;
  }

  private whiteout(e: TarEntry, parentRaw: string, base: string) {
    // Only what the layers below have needs hiding (with them unknown, "overlay" assumes the parent is there).
    const dir = this.resolveDir(parentRaw, this.overlay ? (this.opts.lowers ? "below" : true) : false, e.name);
    if (dir === null) return; // nothing there to hide
    if (base === OPAQUE) return this.hideBelow(dir);
    const name = base.slice(WH.length);
    if (name === "" || name === "." || name === "..") throw invalidArgument(`layer entry "${e.name}" is a whiteout of an invalid name "${name}"`);
    const path = dir === "" ? name : `${dir}/${name}`;
    const st = lstatSync(this.abs(path), { throwIfNoEntry: false });
    if (st && this.written!.has(path)) {
      // This layer's own entry stays (OCI: whiteouts apply to the layers below): only what is below it goes.
      if (st.isDirectory()) this.hideBelow(path);
      return;
    }
    if (st) this.remove(path, st.isDirectory(), st.isSymbolicLink());
    if (this.overlay && (!this.opts.lowers || this.below(path))) {
      this.opts.sys.mknod(this.abs(path), S_IFCHR, 0);
      this.hidden(path);
    }
  }

  /** An opaque directory: what the layers below have in it is gone; what this layer wrote in it stays. */
  private hideBelow(dir: string) {
    this.clearOpaque(dir);
    if (this.overlay) this.setOpaque(dir);
  }

  /** Remove everything in `dir` that this layer did not write ("overlay": its copied-up directories and whiteouts). */
  private clearOpaque(dir: string) {
    const written = this.written!;
    const visit = (d: string) => {
      for (const de of readdirSync(this.abs(d), { withFileTypes: true })) {
        const rel = d === "" ? de.name : `${d}/${de.name}`;
        if (!written.has(rel)) this.remove(rel, de.isDirectory(), de.isSymbolicLink());
        else if (de.isDirectory()) visit(rel);
      }
    };
    visit(dir);
  }
}

/** A tar name as a clean path relative to the root ("" is the root); refuses names that leave it. */
function cleanName(name: string, dropLeadingSlash = false): string {
  if (name.includes("\0")) throw invalidArgument(`layer entry "${name}" has a NUL byte in its name`);
  if (dropLeadingSlash) name = name.replace(/^\/+/, "") || ".";
  if (name.startsWith("/")) {
    throw invalidArgument(`layer entry "${name}" has an absolute path, which points outside the root filesystem`, "layer paths are relative to the root");
  }
  const clean = posix.normalize(name);
  if (clean === ".." || clean.startsWith("../")) throw invalidArgument(`layer entry "${name}" points outside the root filesystem`);
  const rel = clean.replace(/\/+$/, "");
  return rel === "." ? "" : rel;
}

const printable = (flag: string) => (flag >= " " && flag <= "~" ? flag : `\\x${flag.charCodeAt(0).toString(16).padStart(2, "0")}`);
