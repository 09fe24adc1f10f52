// A container's files as the Docker Engine API hands them out: stat, get and
// put an archive at a path (`docker cp`, /containers/{id}/archive), and the
// whole root filesystem as a tar (`docker export`).
//
// `root` is the container's root filesystem as the host sees it: a mounted
// rootfs, or /proc/<pid>/root of a running container (its volumes and tmpfs
// mounts included). Every path is resolved inside `root` as if it were "/":
// symlinks met on the way are followed within it (an absolute target
// restarts at `root`, ".." stops there), never out of it. Reading holds each
// directory by a file descriptor and reaches what is under it through
// /proc/self/fd/<fd>/<name>, so a running container that swaps a directory
// for a symlink while it is read cannot lead berth out of its root.
//
// Paths follow Docker's rules (daemon/archive.go, pkg/archive/copy.go): the
// path is absolute in the container and cleaned, but a trailing "/" or "/."
// is kept. The last component is not followed unless the path ends in "/"
// or "/." (then it must be a directory); PUT follows it always.
import { closeSync, constants, lstatSync, openSync, readlinkSync, type BigIntStats } from "node:fs";
import { posix } from "node:path";
import { errnoCode, invalidArgument, notFound } from "../errors.ts";
import { applyLayer, type ApplyResult } from "../images/apply.ts";
import type { IdsMap } from "../userns/remap.ts";
import { tarDirectory } from "../images/tar-writer.ts";
import type { Sys } from "../sys/index.ts";
import { libcSys } from "../sys/libc.ts";
import { rfc3339Nano } from "../time.ts";

export { rfc3339Nano };

/** Docker's ContainerPathStat: the X-Docker-Container-Path-Stat header (base64 of its JSON). */
export interface ContainerPathStat {
  name: string;
  size: number;
  /** A Go os.FileMode: permission bits and Go's type and special-bit flags. */
  mode: number;
  /** RFC 3339 with nanoseconds, UTC (Go's time.RFC3339Nano). */
  mtime: string;
  /** For a symlink, what it leads to, fully resolved inside the container, as an absolute path; else "". */
  linkTarget: string;
}

export interface PutArchiveOptions {
  /** Refuse to replace a directory by a non-directory or the reverse. */
  noOverwriteDirNonDir: boolean;
  /** Keep the archive's owners; without it everything belongs to root (0:0). */
  copyUIDGID: boolean;
  sys: Sys;
  /** The container's name, for error messages. */
  container?: string;
  /** A remapped container's host ids of its own (root is then its remapped root). */
  ids?: IdsMap;
}

// Go's os.FileMode bits.
export const GO_MODE = {
  dir: 2 ** 31,
  symlink: 2 ** 27,
  device: 2 ** 26,
  namedPipe: 2 ** 25,
  socket: 2 ** 24,
  setuid: 2 ** 23,
  setgid: 2 ** 22,
  charDevice: 2 ** 21,
  sticky: 2 ** 20,
} as const;

/** A Linux st_mode as Go's os.FileMode (as os.Lstat reports it). */
export function goFileMode(stMode: number): number {
  let m = stMode & 0o777;
  switch (stMode & 0o170000) {
    case 0o060000: m += GO_MODE.device; break;
    case 0o020000: m += GO_MODE.device + GO_MODE.charDevice; break;
    case 0o040000: m += GO_MODE.dir; break;
    case 0o010000: m += GO_MODE.namedPipe; break;
    case 0o120000: m += GO_MODE.symlink; break;
    case 0o140000: m += GO_MODE.socket; break;
  }
  if (stMode & 0o4000) m += GO_MODE.setuid;
  if (stMode & 0o2000) m += GO_MODE.setgid;
  if (stMode & 0o1000) m += GO_MODE.sticky;
  return m;
}

/**
 * A container path as Docker takes it: absolute, cleaned, with a trailing
 * "/" or "/." kept (archive.PreserveTrailingDotOrSeparator), split into the
 * directory to resolve and the last element ("" after a trailing "/").
 */
export function dockerPath(path: string): { abs: string; dir: string[]; base: string } {
  let abs = posix.normalize(`/${path}`);
  if (abs.length > 1) abs = abs.replace(/\/+$/, "");
  const dotted = path === "." || path.endsWith("/.");
  if (posix.basename(abs) !== "." && dotted) abs = `${abs === "/" ? "" : abs}/.`;
  if (!abs.endsWith("/") && path.endsWith("/")) abs = `${abs}/`;
  const slash = abs.lastIndexOf("/");
  const dir = abs.slice(0, slash).split("/").filter((c) => c !== "");
  return { abs, dir, base: abs.slice(slash + 1) };
}

/** Go's filepath.Base: the last element, trailing slashes ignored; "/" for the root. */
function goBase(abs: string): string {
  const trimmed = abs.replace(/\/+$/, "");
  if (trimmed === "") return "/";
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;
const O_CLOEXEC = 0o2000000;
const MAX_HOPS = 40;

class WalkError extends Error {
  constructor(
    readonly code: "ENOENT" | "ENOTDIR" | "ELOOP",
    /** The component was the last one asked for. */
    readonly last: boolean,
  ) {
    super(code);
  }
}

/**
 * A walk inside a root by directory file descriptors: the current directory
 * is always held open, and each step looks one name up in it (never
 * following a symlink the kernel's way: targets are read and walked here).
 */
class RootWalk {
  private readonly fds: number[];
  /** The current directory's components, inside the root. */
  readonly parts: string[] = [];

  constructor(root: string) {
    // The root itself is trusted: /proc/<pid>/root is a symlink the kernel must follow.
    this.fds = [openSync(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)];
  }

  get fd(): number {
    return this.fds[this.fds.length - 1]!;
  }

  /** A host path naming `name` in the current directory (not followed), or the directory itself. */
  at(name?: string): string {
    return name === undefined ? `/proc/self/fd/${this.fd}/.` : `/proc/self/fd/${this.fd}/${name}`;
  }

  private up() {
    if (this.parts.length === 0) return; // ".." of the root is the root
    closeSync(this.fds.pop()!);
    this.parts.pop();
  }

  private toRoot() {
    while (this.parts.length > 0) this.up();
  }

  /**
   * Walk into `components`, each a directory (symlinks followed in the
   * root). With `lenient`, a missing component and what follows it are
   * taken as they are (as Go's FollowSymlinkInScope does) and returned.
   */
  enter(components: string[], lenient = false): string[] {
    const todo = components.filter((c) => c !== "" && c !== ".").reverse();
    let hops = 0;
    while (todo.length > 0) {
      const c = todo.pop()!;
      if (c === "" || c === ".") continue;
      if (c === "..") {
        this.up();
        continue;
      }
      const last = !todo.some((t) => t !== "" && t !== ".");
      const p = this.at(c);
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (st?.isSymbolicLink()) {
        if (++hops > MAX_HOPS) throw new WalkError("ELOOP", last);
        const target = readlinkSync(p);
        if (target.startsWith("/")) this.toRoot();
        const parts = target.split("/");
        for (let i = parts.length - 1; i >= 0; i--) if (parts[i] !== "" && parts[i] !== ".") todo.push(parts[i]!);
        continue;
      }
      if (!st || !st.isDirectory()) {
        if (lenient) {
          const rest: string[] = [c];
          while (todo.length > 0) {
            const t = todo.pop()!;
            if (t === "..") {
              if (rest.length > 0) rest.pop();
              else this.up();
            } else if (t !== "" && t !== ".") rest.push(t);
          }
          return rest;
        }
        throw new WalkError(st ? "ENOTDIR" : "ENOENT", last);
      }
      let fd: number;
      try {
        fd = openSync(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      } catch (err) {
        const code = errnoCode(err);
        // Replaced since the lstat: look again (bounded like symlinks).
        if ((code === "ELOOP" || code === "ENOTDIR" || code === "ENOENT") && ++hops <= MAX_HOPS) {
          todo.push(c);
          continue;
        }
        throw err;
      }
      this.fds.push(fd);
      this.parts.push(c);
    }
    return [];
  }

  close() {
    for (const fd of this.fds.splice(0)) closeSync(fd);
  }
}

const notFoundIn = (path: string, container?: string) =>
  notFound(`Could not find the file ${path} in container${container ? ` ${container}` : ""}`);

/**
 * Walk to what `path` names: its directory entered, and the host path of the
 * object (not followed unless the path ends in "/" or "/.").
 */
function locate(walk: RootWalk, path: string, container?: string): { abs: string; hostPath: string; st: BigIntStats } {
  const { abs, dir, base } = dockerPath(path);
  try {
    walk.enter(dir);
  } catch (err) {
    if (err instanceof WalkError) {
      if (err.code === "ELOOP") throw invalidArgument(`too many levels of symbolic links resolving ${path} in the container`);
      throw notFoundIn(path, container);
    }
    throw err;
  }
  const hostPath = base === "" || base === "." ? walk.at() : walk.at(base);
  const st = lstatSync(hostPath, { bigint: true, throwIfNoEntry: false });
  if (!st) throw notFoundIn(path, container);
  return { abs, hostPath, st };
}

/** HEAD /containers/{id}/archive: what is at `path`. */
export function statPath(root: string, path: string, container?: string): ContainerPathStat {
  const walk = new RootWalk(root);
  let found: { abs: string; st: BigIntStats };
  try {
    found = locate(walk, path, container);
  } finally {
    walk.close();
  }
  const { abs, st } = found;
  let linkTarget = "";
  if ((Number(st.mode) & 0o170000) === 0o120000) {
    // Resolved in full, the last component too, from the root (as Docker's GetResourcePath).
    const all = new RootWalk(root);
    try {
      const rest = all.enter(abs.split("/"), true);
      linkTarget = `/${[...all.parts, ...rest].join("/")}`;
    } catch (err) {
      if (err instanceof WalkError && err.code === "ELOOP") throw invalidArgument(`too many levels of symbolic links resolving ${path} in the container`);
      throw err;
    } finally {
      all.close();
    }
  }
  return {
    name: goBase(abs),
    size: Number(st.size),
    mode: goFileMode(Number(st.mode)),
    mtime: rfc3339Nano(st.mtimeNs),
    linkTarget,
  };
}

/** Extended attributes that do not travel: overlayfs' own (they would forge whiteouts). */
const portableXattr = (name: string) => !name.startsWith("trusted.overlay.");

/**
 * GET /containers/{id}/archive: a tar of `path`, the entry itself named by
 * its base name (".": the content of a directory given as "dir/."), what is
 * under it below that name. A symlink is archived as a symlink unless the
 * path ends in "/" or "/.". Errors (NotFound) come with the first chunk;
 * nothing is opened before the stream is read.
 */
export async function* getArchive(root: string, path: string, sys: Sys = libcSys, container?: string, ids?: IdsMap): AsyncGenerator<Uint8Array, void, undefined> {
  const walk = new RootWalk(root);
  try {
    const { abs, hostPath } = locate(walk, path, container);
    // Docker renames the archived base to the asked one: "/link/" whose link leads to "/a/b" gives "link/...".
    let rebase = goBase(abs);
    if (rebase === "/") rebase = ".";
    yield* tarDirectory(hostPath, {
      sys,
      rename: (rel) => (rel === "" ? rebase : `${rebase}/${rel}`),
      xattrs: portableXattr,
      ids,
    });
  } finally {
    walk.close();
  }
}

/**
 * PUT /containers/{id}/archive: unpack `tar` into the existing directory
 * `path` (its last component followed, as Docker does). NotFound if it does
 * not exist; InvalidArgument if it is not a directory. Entries are confined
 * to the root (names that leave the directory are refused; symlinks are
 * followed within the root); ".wh." names are ordinary files.
 */
export async function putArchive(root: string, path: string, tar: AsyncIterable<Uint8Array>, opts: PutArchiveOptions): Promise<ApplyResult> {
  const { abs } = dockerPath(path);
  const walk = new RootWalk(root);
  let into: string;
  try {
    walk.enter(abs.split("/"));
    into = walk.parts.join("/");
  } catch (err) {
    if (err instanceof WalkError) {
      if (err.code === "ENOTDIR" && err.last) throw invalidArgument("extraction point is not a directory");
      if (err.code === "ELOOP") throw invalidArgument(`too many levels of symbolic links resolving ${path} in the container`);
      throw notFoundIn(path, opts.container);
    }
    throw err;
  } finally {
    walk.close();
  }
  return applyLayer(root, tar, {
    whiteouts: "none",
    sys: opts.sys,
    into,
    owner: opts.copyUIDGID ? undefined : opts.ids ? { uid: opts.ids(0, 0)[0], gid: opts.ids(0, 0)[1] } : { uid: 0, gid: 0 },
    ids: opts.ids,
    noOverwriteDirNonDir: opts.noOverwriteDirNonDir,
    // A running container is frozen meanwhile, but another one may share its volumes.
    confine: true,
  });
}

/**
 * GET /containers/{id}/export: the whole root filesystem, names relative to
 * it ("bin/", "bin/sh"; no entry for the root itself), as `docker export`.
 * Give the mounted rootfs: what is mounted over it (volumes, /proc, /dev)
 * is not berth's to export, and a mounted rootfs has none of it.
 */
export function exportRootfs(root: string, sys: Sys, ids?: IdsMap): AsyncGenerator<Uint8Array, void, undefined> {
  return tarDirectory(`${root.replace(/\/+$/, "")}/.`, { sys, xattrs: portableXattr, ids });
}
