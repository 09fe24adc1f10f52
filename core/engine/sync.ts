// Writing a developer's files into a running container (compose watch's
// sync actions, fast cp): put host paths at container paths, remove
// container paths, through the container's own view of its files.
//
// `root` is /proc/<pid>/root of the container's PID 1: it reaches the
// container's volumes and tmpfs mounts, and never an overlay's upperdir
// (writing under a mounted overlay is undefined, see ARCHITECTURE.md).
//
// Safety. Every target is resolved inside `root` as if it were "/". The
// directory that holds a target is opened with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS) relative to a descriptor of the root, so the kernel
// itself keeps the lookup in the root (absolute symlinks restart at it, ".."
// stops at it, /proc magic links are refused), atomically against a
// container changing its files meanwhile. Without openat2 (Linux < 5.6, or
// a seccomp filter refusing it) the same walk is done here one component at a
// time, each directory held by a descriptor and opened O_NOFOLLOW, symlinks
// read and walked by hand within the root. What is done in the directory
// then goes through /proc/self/fd/<dirfd>/<name>: the kernel looks <name> up
// in the directory held, and creating, renaming, unlinking and rmdir never
// follow a final symlink; files are created O_EXCL|O_NOFOLLOW and their
// owner and mode are set on the descriptor. So a symlink the container plants
// anywhere (a parent, the target itself, inside a tree being removed), or a
// directory it swaps for a symlink between two calls or during one, can
// redirect nothing out of the root. Parents are followed the container's
// way (a symlinked parent leads where it leads in the container); the last
// component is replaced, never followed.
//
// Speed. Directory descriptors are cached for one call, so a batch opens each
// parent once; a file costs about ten system calls.
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  renameSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type Stats,
} from "node:fs";
import { posix } from "node:path";
import { BerthError, errnoCode, failedPrecondition, invalidArgument, isBerthError, notFound, SysError, unavailable } from "../errors.ts";
import { RESOLVE, type Sys } from "../sys/index.ts";
import { libcSys } from "../sys/libc.ts";

/** One host file (or directory, or symlink) to put at an absolute path inside the container. */
export interface SyncWrite {
  source: string;
  target: string;
}

export interface SyncOptions {
  /** Owner of what is created (the container's user, resolved by the caller): default 0:0. */
  uid?: number;
  gid?: number;
  /** The syscall layer (tests swap it to exercise the fallback walk). */
  sys?: Sys;
}

/** The root to write through: /proc/<pid>/root of the container's PID 1 (it reaches its volumes and tmpfs mounts too). */
export function containerRoot(pid: number): string {
  if (!Number.isInteger(pid) || pid <= 0) throw invalidArgument(`no container root for pid ${pid}: the container is not running`);
  return `/proc/${pid}/root`;
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants;
const O_CLOEXEC = 0o2000000;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
const MAX_HOPS = 40;
/** Directory descriptors one call keeps open at most. */
const MAX_CACHED = 256;

let tmpCounter = 0;
const copyBuffer = Buffer.allocUnsafe(1 << 20);

const codeOf = (err: unknown): string | undefined => (err instanceof SysError ? err.code : errnoCode(err));
const at = (fd: number, name: string) => `/proc/self/fd/${fd}/${name}`;

/** A failed step on `path` (a container path) as a BerthError saying what to do. */
function failure(err: unknown, action: string, path: string): BerthError {
  if (isBerthError(err) && !(err instanceof SysError)) return err;
  const code = codeOf(err) ?? "";
  const what = `cannot ${action} ${path} in the container`;
  switch (code) {
    case "EROFS":
      return failedPrecondition(`${what}: its filesystem is read-only there`, "write under a volume or tmpfs mount, or run the container without --read-only");
    case "ENOSPC":
    case "EDQUOT":
      return failedPrecondition(`${what}: no space left on its filesystem`, "free space in the container's volume, tmpfs or storage");
    case "EISDIR":
      return failedPrecondition(`${what}: the container has a directory there`, `remove ${path} in the container first, or sync a directory`);
    case "ENOTDIR":
      return failedPrecondition(`${what}: a parent of it is not a directory in the container`, `remove the file that stands where a parent directory of ${path} should be`);
    case "ELOOP":
      return invalidArgument(`${what}: too many levels of symbolic links (or a /proc magic link) on the way`, `remove the symlinks on the path ${path} in the container`);
    case "EACCES":
    case "EPERM":
      return new BerthError("PermissionDenied", `${what}: permission denied`, "check the container's mounts and file attributes (immutable files, read-only binds)");
    case "EBUSY":
      return new BerthError("Conflict", `${what}: it is a mount point (a volume or tmpfs)`, "its content was removed; the mount itself stays until the container is recreated");
    case "ENOTEMPTY":
    case "EEXIST":
      return new BerthError("Conflict", `${what}: the container changed it meanwhile`, "retry the sync");
    case "ENAMETOOLONG":
      return invalidArgument(`${what}: file name too long`);
    default:
      return new BerthError("Internal", `${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A container path checked and cleaned: its directory's components and its last name ("" for "/"). */
function splitTarget(target: string): { clean: string; dir: string[]; base: string } {
  if (typeof target !== "string" || !target.startsWith("/")) {
    throw invalidArgument(`sync target ${JSON.stringify(target)} is not an absolute path in the container`, "give container paths from its root, as /app/src/index.js");
  }
  if (target.includes("\0")) throw invalidArgument(`sync target ${JSON.stringify(target)} holds a NUL byte`);
  const clean = posix.normalize(target).replace(/\/+$/, "") || "/";
  if (clean === "/") return { clean, dir: [], base: "" };
  const parts = clean.slice(1).split("/");
  const base = parts.pop()!;
  return { clean, dir: parts, base };
}

/**
 * One call's view of the container root: a descriptor of it and of the
 * directories looked up under it (by container path).
 */
class Root {
  private readonly rootFd: number;
  private readonly dirs = new Map<string, number>();
  private readonly cachedFds = new Set<number>();
  private readonly sys: Sys;
  /** Paths this call writes or removes: directories under them are never cached (they may be replaced). */
  private readonly volatile: Set<string>;

  constructor(root: string, sys: Sys, targets: Set<string>) {
    this.sys = sys;
    this.volatile = targets;
    try {
      // The root itself is trusted: /proc/<pid>/root is a link the kernel must follow.
      this.rootFd = openSync(root, DIR_FLAGS);
    } catch (err) {
      const code = codeOf(err);
      if (code === "ENOENT" || code === "ESRCH") throw unavailable(`cannot open the container's root ${root}: the container is not running`, "start the container, then sync again");
      throw new BerthError("Internal", `cannot open the container's root ${root}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  close() {
    for (const fd of this.dirs.values()) closeSync(fd);
    this.dirs.clear();
    this.cachedFds.clear();
    closeSync(this.rootFd);
  }

  /**
   * A descriptor of the directory at `parts` (symlinks on the way followed
   * inside the root, the last one too), created (0755, uid:gid) if missing
   * when `create`. `release` it after use.
   */
  dir(parts: string[], create: false): number | undefined;
  dir(parts: string[], create: true, uid: number, gid: number): number;
  dir(parts: string[], create: boolean, uid = 0, gid = 0): number | undefined {
    if (parts.length === 0) return this.rootFd;
    const key = `/${parts.join("/")}`;
    const cached = this.dirs.get(key);
    if (cached !== undefined) return cached;
    let fd: number;
    try {
      fd = this.resolve(key);
    } catch (err) {
      const code = codeOf(err);
      if (code !== "ENOENT") {
        if (!create && code === "ENOTDIR") return undefined;
        throw err;
      }
      if (!create) return undefined;
      fd = this.makeDir(parts, uid, gid);
    }
    if (this.cacheable(parts)) {
      if (this.dirs.size >= MAX_CACHED) {
        const [oldKey, oldFd] = this.dirs.entries().next().value as [string, number];
        this.dirs.delete(oldKey);
        this.cachedFds.delete(oldFd);
        closeSync(oldFd);
      }
      this.dirs.set(key, fd);
      this.cachedFds.add(fd);
    }
    return fd;
  }

  /** Done with a descriptor from dir(): closes it unless cached. */
  release(fd: number | undefined) {
    if (fd === undefined || fd === this.rootFd || this.cachedFds.has(fd)) return;
    closeSync(fd);
  }

  private cacheable(parts: string[]): boolean {
    if (this.volatile.size === 0) return true;
    let p = "";
    for (const c of parts) {
      p += `/${c}`;
      if (this.volatile.has(p)) return false;
    }
    return true;
  }

  /** Create the missing directory `parts` (its parents first). */
  private makeDir(parts: string[], uid: number, gid: number): number {
    const parent = this.dir(parts.slice(0, -1), true, uid, gid);
    const name = parts[parts.length - 1]!;
    const path = at(parent, name);
    try {
      try {
        mkdirSync(path, 0o755);
      } catch (err) {
        if (codeOf(err) !== "EEXIST") throw err;
        // Made meanwhile, or a symlink that leads nowhere in the container.
        try {
          return this.resolve(`/${parts.join("/")}`);
        } catch (again) {
          if (codeOf(again) === "ENOENT") {
            throw failedPrecondition(
              `cannot create the directory /${parts.join("/")} in the container: a symlink there leads to nothing`,
              `remove the symlink /${parts.join("/")} in the container, or create what it leads to`,
            );
          }
          throw again;
        }
      }
      const fd = openSync(path, DIR_FLAGS | O_NOFOLLOW);
      try {
        fchownSync(fd, uid, gid);
        fchmodSync(fd, 0o755);
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      return fd;
    } finally {
      this.release(parent);
    }
  }

  private useOpenat2 = openat2Works;

  /** Open the directory at container path `path`, resolved in the root. */
  private resolve(path: string): number {
    if (this.useOpenat2) {
      for (let i = 0; ; i++) {
        try {
          return this.sys.openat2(this.rootFd, path, DIR_FLAGS, 0, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS);
        } catch (err) {
          const code = codeOf(err);
          // The kernel gives up on ".." while a rename or mount races the lookup.
          if (code === "EAGAIN" && i < 16) continue;
          if (code === "ENOSYS" || code === "EPERM" || code === "E2BIG") {
            this.useOpenat2 = false;
            if (this.sys === libcSys) openat2Works = false;
            break;
          }
          throw err;
        }
      }
    }
    return walkOpen(this.rootFd, path);
  }
}

/** Whether the kernel has openat2 (cleared the first time it says it has not). */
let openat2Works = true;

/** A SysError-like failure of the hand walk. */
const walkError = (code: string, path: string) => new SysError("walk", 0, code, path);

/**
 * Open the directory `path` under `rootFd` as if rootFd were "/", by hand:
 * each directory held by a descriptor and opened O_NOFOLLOW from the one
 * before; symlinks read and walked within the root (absolute ones restart
 * at it, ".." stops at it).
 */
export function walkOpen(rootFd: number, path: string): number {
  const stack: number[] = [];
  const top = () => (stack.length > 0 ? stack[stack.length - 1]! : rootFd);
  const todo = path.split("/").filter((c) => c !== "" && c !== ".").reverse();
  let hops = 0;
  try {
    while (todo.length > 0) {
      const c = todo.pop()!;
      if (c === "..") {
        if (stack.length > 0) closeSync(stack.pop()!);
        continue;
      }
      const p = at(top(), c);
      let fd: number;
      try {
        fd = openSync(p, DIR_FLAGS | O_NOFOLLOW);
      } catch (err) {
        const code = codeOf(err);
        if (code !== "ELOOP" && code !== "ENOTDIR") throw err;
        const st = lstatSync(p, { throwIfNoEntry: false });
        if (!st) throw walkError("ENOENT", path);
        if (!st.isSymbolicLink()) throw walkError("ENOTDIR", path);
        if (++hops > MAX_HOPS) throw walkError("ELOOP", path);
        const target = readlinkSync(p);
        if (target.startsWith("/")) while (stack.length > 0) closeSync(stack.pop()!);
        const parts = target.split("/");
        for (let i = parts.length - 1; i >= 0; i--) if (parts[i] !== "" && parts[i] !== ".") todo.push(parts[i]!);
        continue;
      }
      stack.push(fd);
    }
    if (stack.length === 0) return openSync(`/proc/self/fd/${rootFd}`, DIR_FLAGS);
    return stack.pop()!;
  } finally {
    for (const fd of stack) closeSync(fd);
  }
}

interface Counts {
  files: number;
  bytes: number;
}

interface Owner {
  uid: number;
  gid: number;
}

function tmpName(): string {
  return `.berth-sync.${process.pid}.${(tmpCounter = (tmpCounter + 1) % 0x7fffffff)}`;
}

/** Make a temp entry next to the target with `make` (exclusive), another name if one is left from before. */
function makeTemp(dirFd: number, make: (path: string) => number | void): { tmp: string; result: number | void } {
  for (let i = 0; ; i++) {
    const tmp = at(dirFd, i === 0 ? tmpName() : `${tmpName()}.${Math.random().toString(36).slice(2, 8)}`);
    try {
      return { tmp, result: make(tmp) };
    } catch (err) {
      if (codeOf(err) !== "EEXIST" || i >= 4) throw err;
    }
  }
}

/** Copy the regular file open as `src` to `name` in `dirFd`: a temp file renamed over it. */
function putFile(dirFd: number, name: string, src: number, st: Stats, owner: Owner, shown: string, counts: Counts) {
  let tmp: string;
  let out: number;
  try {
    const made = makeTemp(dirFd, (path) => openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600));
    tmp = made.tmp;
    out = made.result as number;
  } catch (err) {
    throw failure(err, "write", shown);
  }
  let written = 0;
  try {
    try {
      for (;;) {
        const n = readSync(src, copyBuffer, 0, copyBuffer.length, null);
        if (n === 0) break;
        for (let off = 0; off < n; ) off += writeSync(out, copyBuffer, off, n - off);
        written += n;
        // A short read up to the size it had: the end (saves a read; a file still growing is synced again by its next change).
        if (n < copyBuffer.length && written >= st.size) break;
      }
    } catch (err) {
      const code = codeOf(err);
      if (code === "EISDIR" || code === "EAGAIN") throw invalidArgument(`cannot sync ${shown}: its source changed from a regular file while it was copied`, "sync again");
      throw err;
    }
    // Owner first: chown clears set-id bits.
    fchownSync(out, owner.uid, owner.gid);
    fchmodSync(out, st.mode & 0o7777);
    closeSync(out);
    out = -1;
    renameSync(tmp, at(dirFd, name));
  } catch (err) {
    if (out >= 0) closeSync(out);
    try {
      unlinkSync(tmp);
    } catch {
      // never made, or already renamed
    }
    throw failure(err, "write", shown);
  }
  counts.files++;
  counts.bytes += written;
}

/** A symlink at `name` in `dirFd` with `text` as its target: made aside and renamed over what is there. */
function putSymlink(dirFd: number, name: string, text: string, owner: Owner, shown: string, counts: Counts) {
  let tmp: string;
  try {
    tmp = makeTemp(dirFd, (path) => symlinkSync(text, path)).tmp;
  } catch (err) {
    throw failure(err, "write", shown);
  }
  try {
    lchownSync(tmp, owner.uid, owner.gid);
    renameSync(tmp, at(dirFd, name));
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw failure(err, "write", shown);
  }
  counts.files++;
}

/** The directory `name` in `dirFd`, opened (made from `st`'s mode if missing; a symlink there replaced). */
function openOrMakeDir(dirFd: number, name: string, mode: number, owner: Owner, shown: string): number {
  const path = at(dirFd, name);
  for (let attempt = 0; attempt < 8; attempt++) {
    try {
      return openSync(path, DIR_FLAGS | O_NOFOLLOW);
    } catch (err) {
      const code = codeOf(err);
      if (code === "ELOOP" || code === "ENOTDIR") {
        const st = lstatSync(path, { throwIfNoEntry: false });
        if (st?.isSymbolicLink()) {
          try {
            unlinkSync(path);
          } catch (e) {
            if (codeOf(e) !== "ENOENT") throw failure(e, "replace the symlink", shown);
          }
          continue;
        }
        if (st && !st.isDirectory()) {
          throw failedPrecondition(`cannot write the directory ${shown} in the container: it has a file there`, `remove ${shown} in the container first`);
        }
        continue;
      }
      if (code !== "ENOENT") throw failure(err, "open", shown);
    }
    try {
      mkdirSync(path, 0o700);
    } catch (err) {
      if (codeOf(err) === "EEXIST") continue;
      throw failure(err, "create", shown);
    }
    let fd: number;
    try {
      fd = openSync(path, DIR_FLAGS | O_NOFOLLOW);
    } catch {
      continue; // swapped right after we made it
    }
    try {
      fchownSync(fd, owner.uid, owner.gid);
      fchmodSync(fd, mode & 0o7777);
    } catch (err) {
      closeSync(fd);
      throw failure(err, "create", shown);
    }
    return fd;
  }
  throw new BerthError("Conflict", `cannot write the directory ${shown} in the container: it keeps changing`, "retry the sync");
}

/**
 * Copy host path `source` to `name` in `dirFd`. The source is opened
 * O_NOFOLLOW (a symlink fails with ELOOP and is copied as a symlink) and
 * O_NONBLOCK (a pipe does not hang it), then told apart by fstat.
 */
function putEntry(dirFd: number, name: string, source: string, owner: Owner, shown: string, counts: Counts, top: boolean) {
  let src: number;
  try {
    src = openSync(source, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  } catch (err) {
    const code = codeOf(err);
    if (code === "ELOOP") {
      let text: string;
      try {
        text = readlinkSync(source);
      } catch (e) {
        if (codeOf(e) === "ENOENT" && !top) return;
        throw sourceError(e, source, shown);
      }
      putSymlink(dirFd, name, text, owner, shown, counts);
      return;
    }
    if (code === "ENOENT" && !top) return; // removed since its directory was read
    if ((code === "ENXIO" || code === "EOPNOTSUPP") && !top) return; // a socket
    throw sourceError(err, source, shown);
  }
  let st: Stats;
  try {
    st = fstatSync(src);
    if (st.isFile()) {
      putFile(dirFd, name, src, st, owner, shown, counts);
      return;
    }
  } finally {
    closeSync(src);
  }
  if (st.isDirectory()) {
    const fd = name === "" ? dirFd : openOrMakeDir(dirFd, name, st.mode, owner, shown);
    try {
      let entries: string[];
      try {
        entries = readdirSync(source);
      } catch (err) {
        throw sourceError(err, source, shown);
      }
      for (const e of entries) putEntry(fd, e, `${source}/${e}`, owner, shown === "/" ? `/${e}` : `${shown}/${e}`, counts, false);
    } finally {
      if (fd !== dirFd) closeSync(fd);
    }
  } else if (top) {
    throw invalidArgument(`cannot sync ${source} to ${shown}: only regular files, directories and symlinks can be synced`, "exclude sockets, pipes and devices from the watched paths");
  }
  // Sockets, pipes and devices inside a directory are skipped.
}

function sourceError(err: unknown, source: string, shown: string): BerthError {
  const code = codeOf(err);
  if (code === "ENOENT") return notFound(`cannot sync ${source} to ${shown}: it does not exist on the host`, "it was removed: sync a remove of the target instead");
  if (code === "EACCES" || code === "EPERM") return new BerthError("PermissionDenied", `cannot sync ${source} to ${shown}: the host file cannot be read`);
  if (code === "ENXIO" || code === "EOPNOTSUPP") return invalidArgument(`cannot sync ${source} to ${shown}: it is a socket; only regular files, directories and symlinks can be synced`, "exclude sockets from the watched paths");
  return new BerthError("Internal", `cannot sync ${source} to ${shown}: ${err instanceof Error ? err.message : String(err)}`);
}

/**
 * Copy host paths into the container. A regular file is written to a temp
 * file next to the target and renamed over it (readers never see a
 * half-written file; mode copied from the source; owner uid:gid); a
 * directory is copied recursively, merged into what is there (a directory
 * already there keeps its mode and owner; a new one gets the source's mode);
 * a symlink is copied as a symlink, its target text unchanged (host-side
 * symlinks are reproduced, never dereferenced). Missing parent directories
 * are created (0755, uid:gid). A symlink in the container at a target is
 * replaced, not followed; a directory there is not replaced by a file or a
 * symlink (FailedPrecondition: remove it first). Sockets, pipes and devices
 * inside a synced directory are skipped. `files` counts regular files and
 * symlinks written, `bytes` their content.
 */
export async function syncWrite(root: string, writes: SyncWrite[], opts: SyncOptions = {}): Promise<{ files: number; bytes: number }> {
  const owner = { uid: opts.uid ?? 0, gid: opts.gid ?? 0 };
  const jobs = writes.map((w) => ({ source: w.source, ...splitTarget(w.target) }));
  const counts: Counts = { files: 0, bytes: 0 };
  if (jobs.length === 0) return counts;
  const r = new Root(root, opts.sys ?? libcSys, new Set(jobs.length > 1 ? jobs.map((j) => j.clean) : []));
  try {
    for (const j of jobs) {
      if (j.base === "" && !lstatSync(j.source, { throwIfNoEntry: false })?.isDirectory()) {
        throw invalidArgument(`cannot write ${j.source} as / in the container: only a directory can be synced to the root`);
      }
      let dirFd: number;
      try {
        dirFd = r.dir(j.dir, true, owner.uid, owner.gid);
      } catch (err) {
        throw failure(err, "write", j.clean);
      }
      try {
        putEntry(dirFd, j.base, j.source, owner, j.clean, counts, true);
      } finally {
        r.release(dirFd);
      }
    }
  } finally {
    r.close();
  }
  return counts;
}

/** Remove `name` in `dirFd` and all under it; the number of entries removed. */
function removeEntry(dirFd: number, name: string, shown: string): number {
  const path = at(dirFd, name);
  for (let attempt = 0; attempt < 8; attempt++) {
    try {
      unlinkSync(path);
      return 1;
    } catch (err) {
      const code = codeOf(err);
      if (code === "ENOENT") return 0;
      if (code !== "EISDIR" && code !== "EPERM") {
        // A read-only mount refuses the unlink before looking the name up: missing is still fine.
        if (!lstatSync(path, { throwIfNoEntry: false })) return 0;
        throw failure(err, "remove", shown);
      }
    }
    let fd: number;
    try {
      fd = openSync(path, DIR_FLAGS | O_NOFOLLOW);
    } catch (err) {
      const code = codeOf(err);
      if (code === "ENOENT") return 0;
      if (code === "ELOOP" || code === "ENOTDIR") continue; // swapped for a symlink or a file: unlink that
      throw failure(err, "remove", shown);
    }
    let n = 0;
    try {
      for (const e of readdirSync(`/proc/self/fd/${fd}`)) n += removeEntry(fd, e, `${shown}/${e}`);
    } finally {
      closeSync(fd);
    }
    try {
      rmdirSync(path);
      return n + 1;
    } catch (err) {
      const code = codeOf(err);
      if (code === "ENOENT") return n;
      // Filled or swapped meanwhile: go again.
      if (code === "ENOTEMPTY" || code === "ENOTDIR" || code === "EEXIST") continue;
      throw failure(err, "remove", shown);
    }
  }
  throw new BerthError("Conflict", `cannot remove ${shown} in the container: it keeps changing`, "retry the sync");
}

/**
 * Remove paths inside the container (files, symlinks, directories
 * recursively; a symlink is removed, never followed); a missing path, or one
 * under a missing directory, is fine. Returns the number of entries removed
 * (each file, symlink and directory counted).
 */
export async function syncRemove(root: string, targets: string[], opts: { sys?: Sys } = {}): Promise<number> {
  const jobs = targets.map(splitTarget);
  for (const j of jobs) if (j.base === "") throw invalidArgument("cannot remove / in the container", "remove what is under it instead");
  if (jobs.length === 0) return 0;
  const r = new Root(root, opts.sys ?? libcSys, new Set(jobs.length > 1 ? jobs.map((j) => j.clean) : []));
  let n = 0;
  try {
    for (const j of jobs) {
      let dirFd: number | undefined;
      try {
        dirFd = r.dir(j.dir, false);
      } catch (err) {
        throw failure(err, "remove", j.clean);
      }
      if (dirFd === undefined) continue;
      try {
        n += removeEntry(dirFd, j.base, j.clean);
      } finally {
        r.release(dirFd);
      }
    }
  } finally {
    r.close();
  }
  return n;
}
