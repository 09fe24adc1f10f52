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
// "none" takes them for ordinary names (docker cp).
//
// `into`, `owner` and `noOverwriteDirNonDir` make it the extractor of
// `docker cp` (PUT /containers/{id}/archive): names relative to a directory
// of the root, Docker's ownership and its refusal to replace a directory by
// a non-directory or the reverse.
import {
  closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync,
  mkdirSync, openSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, unlinkSync, writeSync, chmodSync,
} from "node:fs";
import { posix } from "node:path";
import { BerthError, conflict, errnoCode, invalidArgument, notSupported, SysError } from "../errors.ts";
import { S_IFCHR, type Sys } from "../sys/index.ts";
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
  /** Refuse to replace a directory by a non-directory or the reverse (Docker's NoOverwriteDirNonDir): a Conflict error. */
  noOverwriteDirNonDir?: boolean;
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
const { O_WRONLY, O_CREAT, O_TRUNC, O_EXCL, O_NOFOLLOW, O_RDONLY, O_DIRECTORY } = constants;
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
  for await (const entry of readTar(tar)) {
    try {
      await a.apply(entry);
    } catch (err) {
      throw inEntry(err, entry.name);
    }
  }
  a.finish();
  return { size: a.size, warnings: a.warnings };
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
    const sysErr = new SysError(call, Math.abs(e.errno), code, subject);
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
  /** What this layer wrote ("delete" mode: opaque dirs keep these). */
  private readonly written: Set<string> | null;
  /** The resolved `into` directory ("" for the root). */
  private readonly into: string;

  constructor(
    private readonly root: string,
    private readonly opts: ApplyOptions,
  ) {
    this.written = opts.whiteouts === "delete" ? new Set() : null;
    this.into = "";
    if (opts.into !== undefined) {
      const raw = posix.normalize(`/${opts.into}`).replace(/^\/+|\/+$/g, "");
      const dir = this.resolveDir(raw, false, opts.into);
      if (dir === null) throw invalidArgument(`cannot unpack into "/${raw}": not a directory in ${root}`);
      this.into = dir;
    }
  }

  private uid(e: TarEntry) {
    return this.opts.owner?.uid ?? e.uid;
  }

  private gid(e: TarEntry) {
    return this.opts.owner?.gid ?? e.gid;
  }

  /** The destination as Docker names it in its NoOverwriteDirNonDir errors. */
  private get dest() {
    return `/${this.into}`;
  }

  private abs(rel: string): string {
    return rel === "" ? this.root : this.root === "/" ? `/${rel}` : `${this.root}/${rel}`;
  }

  async apply(e: TarEntry) {
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
      lchownSync(this.root, this.uid(e), this.gid(e));
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
        throw notSupported(`layer entry "${e.name}" has tar type '${printable(e.typeflag)}', which cannot be unpacked`);
    }
    this.written?.add(path);
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

  private setXattrs(e: TarEntry, path: string) {
    for (const [name, value] of e.xattrs) {
      // Overlay metadata from a tar would forge whiteouts and opaque dirs.
      if (name.startsWith("trusted.overlay.")) continue;
      try {
        this.opts.sys.lsetxattr(this.abs(path), name, value);
      } catch (err) {
        if (err instanceof SysError && (err.code === "EPERM" || err.code === "EOPNOTSUPP" || err.code === "ENOTSUP")) {
          this.warnings.push(`layer entry "${e.name}": extended attribute ${name} not set: ${err.code}`);
          continue;
        }
        throw err;
      }
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
      rmSync(this.abs(path), { recursive: true, force: true });
      const under = `${path}/`;
      for (const d of this.dirs) if (d === path || d.startsWith(under)) this.dirs.delete(d);
      for (const d of this.dirMeta.keys()) if (d === path || d.startsWith(under)) this.dirMeta.delete(d);
      this.resolved.clear();
    } else {
      unlinkSync(this.abs(path));
      if (isSymlink) this.resolved.clear();
    }
  }

  /**
   * Resolve a cleaned directory path inside the root, following symlinks
   * within it; create missing directories when `create`, else null.
   */
  private resolveDir(raw: string, create: boolean, entry: string): string | null {
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
  private walk(from: string, name: string, create: boolean, entry: string): string | null {
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
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (!st) {
        if (!create) return null;
        mkdirSync(p, 0o755);
        chmodSync(p, 0o755); // whatever the umask
        this.dirs.add(rel);
        this.written?.add(rel);
      } else if (st.isDirectory()) {
        this.dirs.add(rel);
      } else if (st.isSymbolicLink()) {
        if (++hops > MAX_HOPS) {
          throw invalidArgument(`layer entry "${entry}": too many levels of symbolic links (ELOOP) resolving "/${rel}" inside the layer`);
        }
        const target = readlinkSync(p);
        stack.pop();
        if (target.startsWith("/")) stack.length = 0;
        const parts = target.split("/");
        for (let i = parts.length - 1; i >= 0; i--) todo.push(parts[i]!);
      } else {
        if (!create) return null; // looking something up: nothing can be under a non-directory
        throw invalidArgument(`layer entry "${entry}": "/${rel}" is not a directory`);
      }
    }
    return stack.join("/");
  }

  /** The in-root path a hard link points to; it must exist and not be a directory. */
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
    if (target === null || !st) {
      throw invalidArgument(`layer entry "${e.name}" is a hard link to "${e.linkname}", which does not exist in the layer or below it`);
    }
    if (st.isDirectory()) throw invalidArgument(`layer entry "${e.name}" is a hard link to "${e.linkname}", which is a directory`);
    return target;
  }

  private whiteout(e: TarEntry, parentRaw: string, base: string) {
    const overlay = this.opts.whiteouts === "overlay";
    const dir = this.resolveDir(parentRaw, overlay, e.name);
    if (dir === null) return; // "delete": nothing there to hide
    if (base === OPAQUE) {
      if (overlay) this.opts.sys.lsetxattr(this.abs(dir), "trusted.overlay.opaque", new TextEncoder().encode("y"));
      else this.clearOpaque(dir);
      return;
    }
    const name = base.slice(WH.length);
    if (name === "" || name === "." || name === "..") throw invalidArgument(`layer entry "${e.name}" is a whiteout of an invalid name "${name}"`);
    const path = dir === "" ? name : `${dir}/${name}`;
    const st = lstatSync(this.abs(path), { throwIfNoEntry: false });
    if (st) this.remove(path, st.isDirectory(), st.isSymbolicLink());
    if (overlay) this.opts.sys.mknod(this.abs(path), S_IFCHR, 0);
  }

  /** "delete" mode opaque directory: remove everything in it that this layer did not write. */
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
