// The fuse-overlay driver: the overlay driver's layers and writable layers
// (same layout, same kernel-style whiteouts, see ../overlay/overlay.ts), a
// container's root mounted by Debian's fuse-overlayfs, the union in user
// space, instead of the kernel's overlayfs.
//
// fuse-overlayfs reads the layers' 0:0 character devices and
// trusted.overlay.opaque as the kernel does. In the upper directory it writes
// the same, and also: a ".wh..wh..opq" file (and a ".wh..opq" whiteout) in
// every directory it makes opaque, a user.fuseoverlayfs.origin xattr on
// copied-up files, and, where it cannot mknod or set trusted.* xattrs,
// ".wh.NAME" whiteout files and user.fuseoverlayfs.opaque/user.overlay.opaque.
// changes() reads all of these as fuse-overlayfs does.
//
// The mount is a fuse-overlayfs process (it daemonizes once the mount is
// ready); unmount() unmounts, lazily when busy or when the process died
// ("Transport endpoint is not connected"), and waits for the process to go.
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import type { Change, IdMapping } from "../../../core/contracts/storage.ts";
import { overlayChanges } from "../../../core/engine/changes.ts";
import { errnoCode, notFound, SysError } from "../../../core/errors.ts";
import { parseMountinfo } from "../../../core/host.ts";
import type { Sys } from "../../../core/sys/index.ts";
import { MNT_DETACH } from "../../../core/sys/index.ts";
import { idmapLowers, OverlayDriver, removeStaged } from "../overlay/overlay.ts";

const FUSE_OVERLAYFS = "/usr/bin/fuse-overlayfs";
const OPAQUE_XATTRS = ["trusted.overlay.opaque", "user.overlay.opaque", "user.fuseoverlayfs.opaque"];
const OPAQUE_FILE = ".wh..wh..opq";
const WH = ".wh.";

type MountState = "none" | "live" | "dead";

export class FuseOverlayDriver extends OverlayDriver {
  constructor(dir: string, sys: Sys) {
    super(dir, sys);
  }

  override async mount(id: string, idmap?: IdMapping): Promise<string> {
    const rw = `${this.dir}/rw/${id}`;
    const merged = `${rw}/merged`;
    if (!existsSync(`${rw}/parent`)) throw notFound(`fuse-overlay: container ${id} has no writable layer`);
    const state = mountState(merged);
    if (state === "live" && (!idmap || existsSync(`${rw}/idmapped`))) return merged;
    if (state !== "none") await this.unmount(id);
    const image = this.imageDirs(id);
    if (image.length === 0) image.push(`${this.dir}/empty`);
    // A remapped container: fuse-overlayfs reads idmapped layers as the kernel's overlay does (see
    // idmapLowers); it holds each layer open, so the staged mounts are detached once it is up.
    const staged = idmap ? idmapLowers(this.sys, rw, image, idmap) : [];
    try {
      await this.#start(id, rw, merged, staged.length ? staged : image);
      if (idmap) writeFileSync(`${rw}/idmapped`, "");
    } finally {
      removeStaged(this.sys, `${rw}/idmap`, staged);
    }
    return merged;
  }

  async #start(id: string, rw: string, merged: string, lowers: string[]) {
    // fuse-overlayfs splits lowerdir= on ":" and its options on ","; the layer directories are hex.
    for (const p of [...lowers, rw]) {
      if (/[:,]/.test(p)) throw new Error(`fuse-overlay: ${p}: a storage path with ":" or "," cannot be given to fuse-overlayfs`);
    }
    // dev: device files in the image work, as under the kernel's overlay (FUSE mounts default to nodev).
    const opts = `dev,lowerdir=${lowers.join(":")},upperdir=${rw}/diff,workdir=${rw}/work`;
    const p = Bun.spawn([FUSE_OVERLAYFS, "-o", opts, merged], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    if (code !== 0 || mountState(merged) !== "live") {
      await this.unmount(id).catch(() => {});
      const why = err.split("\n").filter((l) => l && !l.startsWith("unknown argument ignored")).join("; ");
      throw new Error(`fuse-overlay: fuse-overlayfs could not mount ${merged} (exit ${code})${why ? `: ${why}` : ""}`);
    }
  }

  override async unmount(id: string) {
    const merged = `${this.dir}/rw/${id}/merged`;
    const daemons = fuseDaemons(merged);
    // Stacked mounts (a mount raced another) come off one by one.
    for (let i = 0; i < 8 && mountState(merged) !== "none"; i++) {
      try {
        this.sys.umount(merged);
      } catch (err) {
        const code = err instanceof SysError ? err.code : errnoCode(err);
        if (code === "EINVAL" || code === "ENOENT") continue; // raced: not mounted any more
        if (code === "EBUSY" || code === "ENOTCONN") this.sys.umount(merged, MNT_DETACH);
        else throw err;
      }
    }
    if (mountState(merged) !== "none") throw new Error(`fuse-overlay: ${merged} is still mounted`);
    rmSync(`${this.dir}/rw/${id}/idmapped`, { force: true });
    await reap([...new Set([...daemons, ...fuseDaemons(merged)])]);
  }

  override async changes(id: string): Promise<Change[]> {
    const rw = `${this.dir}/rw/${id}`;
    if (!existsSync(`${rw}/parent`)) throw notFound(`fuse-overlay: container ${id} has no writable layer`);
    const lowers = this.imageDirs(id);
    const sys = fuseView(this.sys);
    const isOpaque = (p: string) => sys.lgetxattr(p, "trusted.overlay.opaque")?.[0] === 0x79;
    const out = new Map<string, Change>();
    for (const c of overlayChanges(`${rw}/diff`, lowers, sys) as Change[]) {
      const at = c.Path.lastIndexOf("/");
      const name = c.Path.slice(at + 1);
      if (!name.startsWith(WH)) {
        out.set(c.Path, c);
        continue;
      }
      // fuse-overlayfs' own markers: never the container's files (it hides ".wh." names from the container).
      if (name === OPAQUE_FILE || name === ".wh..opq") continue;
      // A ".wh.NAME" file: NAME is deleted, if the image had it.
      const path = `${c.Path.slice(0, at)}/${name.slice(WH.length)}`;
      if (inImage(lowers, path, isOpaque) && !out.has(path)) out.set(path, { Path: path, Kind: 2 });
    }
    return [...out.values()].sort(byPath);
  }
}

/** `sys` with fuse-overlayfs' notion of an opaque directory behind "trusted.overlay.opaque". */
function fuseView(sys: Sys): Sys {
  const view = Object.create(sys) as Sys;
  view.lgetxattr = (path: string, name: string) => {
    if (name !== "trusted.overlay.opaque") return sys.lgetxattr(path, name);
    // As fuse-overlayfs: the first opaque xattr there says; without one, the ".wh..wh..opq" file.
    for (const x of OPAQUE_XATTRS) {
      const v = sys.lgetxattr(path, x);
      if (v !== null) return v;
    }
    return lstatSync(`${path}/${OPAQUE_FILE}`, { throwIfNoEntry: false }) ? new Uint8Array([0x79]) : null;
  };
  return view;
}

/** Does the image (its layer directories, nearest first) have `path`, seen as a container sees it? */
function inImage(lowers: string[], path: string, isOpaque: (p: string) => boolean): boolean {
  const parts = path.split("/").filter(Boolean);
  let view = lowers;
  for (const [i, part] of parts.entries()) {
    const next: string[] = [];
    for (const d of view) {
      const p = `${d}/${part}`;
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (i === parts.length - 1) return !(st.isCharacterDevice() && st.rdev === 0);
      if (!st.isDirectory()) break; // a whiteout, a file or a symlink hides the layers below
      next.push(p);
      if (isOpaque(p)) break;
    }
    view = next;
  }
  return false;
}

/** Component-wise order, as overlayChanges lists: a directory right before what is in it. */
function byPath(a: Change, b: Change): number {
  const pa = a.Path.split("/");
  const pb = b.Path.split("/");
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return pa[i]! < pb[i]! ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** Is a FUSE filesystem mounted at `path`, and does its process still answer? */
function mountState(path: string): MountState {
  const mounted = parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8")).some((m) => m.mountpoint === path);
  if (!mounted) return "none";
  try {
    statSync(path);
    return "live";
  } catch (err) {
    if (errnoCode(err) === "ENOTCONN") return "dead";
    return "live"; // mounted; an unmount will tell
  }
}

/** The live fuse-overlayfs processes serving `mountpoint` (their last argument). */
function fuseDaemons(mountpoint: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").filter(Boolean);
      if (argv.length > 0 && argv[0]!.endsWith("fuse-overlayfs") && argv[argv.length - 1] === mountpoint) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

/** Is `pid` still running (not gone, not a zombie)? */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Wait for fuse-overlayfs processes to exit after their unmount; terminate, then kill, ones that linger. */
async function reap(pids: number[]) {
  const wait = async (ms: number) => {
    for (const end = Date.now() + ms; Date.now() < end; ) {
      if (!pids.some(alive)) return true;
      await Bun.sleep(10);
    }
    return !pids.some(alive);
  };
  if (pids.length === 0 || (await wait(2000))) return;
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    for (const pid of pids.filter(alive)) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone
      }
    }
    if (await wait(2000)) return;
  }
  throw new Error(`fuse-overlay: fuse-overlayfs (pid ${pids.filter(alive).join(", ")}) did not exit`);
}
