// The overlay driver: each image layer is a directory of its changes with
// whiteouts in overlayfs' own format (0:0 character devices, the
// trusted.overlay.opaque xattr); a container's root is an overlay mount of
// its image layers under a writable upper directory.
//
//   <dir>/<chain-id>/diff      a layer's files
//   <dir>/<chain-id>/lower     its ancestors' chain ids, nearest first
//   <dir>/rw/<id>/{diff,work,merged,parent}   a container's writable layer
import { existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import type { Change, IdMapping, StorageDriver, TarStream } from "../../../core/contracts/storage.ts";
import { overlayChanges } from "../../../core/engine/changes.ts";
import { notFound } from "../../../core/errors.ts";
import { applyLayer } from "../../../core/images/apply.ts";
import { MNT_DETACH, type Sys } from "../../../core/sys/index.ts";
import { SysError } from "../../../core/errors.ts";
import { idmapMounts } from "../../../core/userns/pin.ts";
import { toHost } from "../../../core/userns/remap.ts";
import { buildAtomically, diskUsage, isMountPoint, layerDir, listLayerDirs, unmountIfMounted } from "../fsutil.ts";

export class OverlayDriver implements StorageDriver {
  constructor(
    protected readonly dir: string,
    protected readonly sys: Sys,
  ) {
    mkdirSync(`${dir}/rw`, { recursive: true, mode: 0o700 });
    mkdirSync(`${dir}/empty`, { recursive: true, mode: 0o755 });
  }

  hasLayer(chainId: string): boolean {
    return existsSync(`${this.dir}/${layerDir(chainId)}/lower`);
  }

  async createLayer(chainId: string, parent: string | null, tar: TarStream) {
    if (this.hasLayer(chainId)) {
      for await (const _ of tar); // the caller's stream still has to be consumed
      return { size: diskUsage(`${this.dir}/${layerDir(chainId)}/diff`) };
    }
    const ancestors = parent ? [parent, ...this.lowerOf(parent)] : [];
    return buildAtomically(this.dir, `${this.dir}/${layerDir(chainId)}`, async (tmp) => {
      mkdirSync(`${tmp}/diff`, { recursive: true, mode: 0o755 });
      // Paths resolve through the layers below as a container sees them (their symlinks, their directories).
      const lowers = ancestors.map((c) => `${this.dir}/${layerDir(c)}/diff`);
      const { size } = await applyLayer(`${tmp}/diff`, tar, { whiteouts: "overlay", sys: this.sys, lowers });
      // An opaque root (".wh..wh..opq" at the top) hides every layer below; overlayfs ignores the marker on a layer's root.
      const opaqueRoot = this.sys.lgetxattr(`${tmp}/diff`, "trusted.overlay.opaque")?.[0] === 0x79;
      // Written last: its presence marks a complete layer.
      writeFileSync(`${tmp}/lower`, (opaqueRoot ? [] : ancestors).join("\n"));
      return { size };
    });
  }

  writables(): string[] {
    return existsSync(`${this.dir}/rw`) ? readdirSync(`${this.dir}/rw`) : [];
  }

  layers(): string[] {
    return listLayerDirs(this.dir, (p) => existsSync(`${p}/lower`));
  }

  async removeLayer(chainId: string) {
    rmSync(`${this.dir}/${layerDir(chainId)}`, { recursive: true, force: true });
  }

  async createWritable(id: string, parent: string | null) {
    if (parent && !this.hasLayer(parent)) throw notFound(`overlay: layer ${parent} is not unpacked`);
    const rw = `${this.dir}/rw/${id}`;
    for (const d of ["diff", "work", "merged"]) mkdirSync(`${rw}/${d}`, { recursive: true, mode: 0o755 });
    writeFileSync(`${rw}/parent`, parent ?? "");
  }

  async mount(id: string, idmap?: IdMapping): Promise<string> {
    const rw = `${this.dir}/rw/${id}`;
    const merged = `${rw}/merged`;
    if (!existsSync(`${rw}/parent`)) throw notFound(`overlay: container ${id} has no writable layer`);
    if (isMountPoint(merged)) {
      if (!idmap || existsSync(`${rw}/idmapped`)) return merged;
      await this.unmount(id); // mounted for the host (docker cp of a stopped container): not what its root must see
    }
    const lowers = this.imageDirs(id);
    if (lowers.length === 0) lowers.push(`${this.dir}/empty`);
    const staged = idmap ? idmapLowers(this.sys, rw, lowers, idmap) : [];
    try {
      // redirect_dir off: renamed directories are copied up whole, so `docker diff` can read them.
      const data = `lowerdir=${(staged.length ? staged : lowers).join(":")},upperdir=${rw}/diff,workdir=${rw}/work,redirect_dir=off`;
      this.sys.mount("overlay", merged, "overlay", 0, data);
      if (idmap) writeFileSync(`${rw}/idmapped`, "");
    } finally {
      // overlayfs holds private clones of its layers: the staged mounts can go at once.
      removeStaged(this.sys, `${rw}/idmap`, staged);
    }
    return merged;
  }

  async unmount(id: string) {
    unmountIfMounted(this.sys, `${this.dir}/rw/${id}/merged`);
    rmSync(`${this.dir}/rw/${id}/idmapped`, { force: true });
    const staged = `${this.dir}/rw/${id}/idmap`; // only left by a crash mid-mount; removeWritable must not recurse into one
    if (existsSync(staged)) removeStaged(this.sys, staged, readdirSync(staged).map((n) => `${staged}/${n}`));
  }

  async removeWritable(id: string) {
    await this.unmount(id);
    rmSync(`${this.dir}/rw/${id}`, { recursive: true, force: true });
  }

  async writableSize(id: string) {
    return diskUsage(`${this.dir}/rw/${id}/diff`);
  }

  async changes(id: string) {
    const rw = `${this.dir}/rw/${id}`;
    if (!existsSync(`${rw}/parent`)) throw notFound(`overlay: container ${id} has no writable layer`);
    return overlayChanges(`${rw}/diff`, this.imageDirs(id), this.sys) as Change[];
  }

  /** The layer directories of container `id`'s image, nearest first (overlayfs' lowerdir= order); none for scratch. */
  protected imageDirs(id: string): string[] {
    const parent = readFileSync(`${this.dir}/rw/${id}/parent`, "utf8");
    return parent ? [parent, ...this.lowerOf(parent)].map((c) => `${this.dir}/${layerDir(c)}/diff`) : [];
  }

  private lowerOf(chainId: string): string[] {
    const text = readFileSync(`${this.dir}/${layerDir(chainId)}/lower`, "utf8");
    return text ? text.split("\n") : [];
  }
}

/**
 * A remapped container's layers: each image layer through an idmapped mount
 * (on-disk root shows as the remapped root), so layers stay shared and
 * nothing is copied or chowned. overlayfs takes idmapped layers (Linux 5.19)
 * but cannot itself be idmapped (mount_setattr gives EINVAL), and an
 * idmapped upper layer would store the container's files as root on disk:
 * the upper layer stays a plain directory, so what root in the container
 * writes is owned by the remapped root on the host too. Returns the staged
 * mounts, nearest first.
 */
export function idmapLowers(sys: Sys, rw: string, lowers: string[], idmap: IdMapping): string[] {
  const dir = `${rw}/idmap`;
  removeStaged(sys, dir, existsSync(dir) ? readdirSync(dir).map((n) => `${dir}/${n}`) : []); // a crash's leftovers
  const targets = lowers.map((_, i) => `${dir}/${i}`);
  for (const t of targets) mkdirSync(t, { recursive: true, mode: 0o700 });
  try {
    idmapMounts(idmap.userns, lowers.map((l, i) => [l, targets[i]!]));
  } catch (err) {
    removeStaged(sys, dir, targets);
    throw err;
  }
  // The container's / is the upper layer's root: the remapped root owns it.
  const upper = `${rw}/diff`;
  const st = lstatSync(upper);
  const uid = toHost(idmap.uids, st.uid);
  const gid = toHost(idmap.gids, st.gid);
  if (uid !== undefined && gid !== undefined) lchownSync(upper, uid, gid); // else already shifted
  return targets;
}

/** Unmount staged layers and remove their (then empty) directories; never recursively: they may still be mounted. */
export function removeStaged(sys: Sys, dir: string, targets: string[]) {
  for (const t of targets) {
    detach(sys, t);
    rmdirSync(t);
  }
  if (existsSync(dir)) rmdirSync(dir);
}

/** Unmount a staged layer (a bind of the same filesystem: isMountPoint cannot tell); not mounted is fine. */
function detach(sys: Sys, path: string) {
  try {
    sys.umount(path, MNT_DETACH);
  } catch (err) {
    if (!(err instanceof SysError && err.code === "EINVAL")) throw err;
  }
}
