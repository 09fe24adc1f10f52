// File-system helpers shared by the storage drivers.
import { lstatSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { randomHex } from "../../core/ids.ts";
import { errnoCode, SysError } from "../../core/errors.ts";
import type { Sys } from "../../core/sys/index.ts";
import { MNT_DETACH } from "../../core/sys/index.ts";

/**
 * The directory name of a layer: the hex of its chain ID ("sha256:" dropped,
 * since overlayfs separates lower directories with ":").
 */
export const layerDir = (chainId: string) => chainId.replace(/^sha256:/, "");

/** Chain IDs of the layer directories under `dir` that `complete` says are whole. */
export function listLayerDirs(dir: string, complete: (path: string) => boolean): string[] {
  return readdirSync(dir)
    .filter((n) => /^[a-f0-9]{64}$/.test(n) && complete(`${dir}/${n}`))
    .map((n) => `sha256:${n}`);
}

/** A fresh temporary name next to `dir`'s final place, for build-then-rename. */
export const tempName = (parent: string) => `${parent}/.tmp-${randomHex(6)}`;

/** Rename into place; if someone else finished first, keep theirs and drop ours. */
export function renameOrDiscard(tmp: string, final: string) {
  try {
    renameSync(tmp, final);
  } catch (err) {
    const code = errnoCode(err);
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Build a directory under a temporary name next to `final`, then rename it
 * into place: a failure or crash half-way leaves no `final` behind (and the
 * temporary directory is removed on failure).
 */
export async function buildAtomically<T>(parent: string, final: string, build: (tmp: string) => Promise<T>): Promise<T> {
  const tmp = tempName(parent);
  try {
    const result = await build(tmp);
    renameOrDiscard(tmp, final);
    return result;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Is `path` the root of a mount? (It sits on another device than its parent.) */
export function isMountPoint(path: string): boolean {
  try {
    return statSync(path).dev !== statSync(`${path}/..`).dev;
  } catch {
    return false;
  }
}

/** Unmount if mounted; a busy mount is detached (lazy), never left behind. */
export function unmountIfMounted(sys: Sys, path: string) {
  if (!isMountPoint(path)) return;
  try {
    sys.umount(path);
  } catch (err) {
    if (err instanceof SysError && err.code === "EINVAL") return; // raced: not mounted any more
    if (err instanceof SysError && err.code === "EBUSY") return sys.umount(path, MNT_DETACH);
    throw err;
  }
}

/** Bytes used by the files under `dir` (hard links counted once). */
export function diskUsage(dir: string): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = `${d}/${n}`;
      const st = lstatSync(p, { bigint: false });
      if (st.isDirectory()) walk(p);
      else if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
        total += st.size;
      } else total += st.size;
    }
  };
  walk(dir);
  return total;
}

/** Copy a directory tree preserving everything (owners, modes, xattrs, links, times). */
export async function copyTree(src: string, dst: string) {
  const cp = Bun.spawn(["cp", "-a", "--reflink=auto", "--", src, dst], { stdio: ["ignore", "ignore", "pipe"] });
  const err = await new Response(cp.stderr).text();
  if ((await cp.exited) !== 0) throw new Error(`copying ${src} to ${dst} failed: ${err.trim()}`);
}
