// The overlay driver: each image layer is a directory of its changes with
// whiteouts in overlayfs' own format (0:0 character devices, the
// trusted.overlay.opaque xattr); a container's root is an overlay mount of
// its image layers under a writable upper directory.
//
//   <dir>/<chain-id>/diff      a layer's files
//   <dir>/<chain-id>/lower     its ancestors' chain ids, nearest first
//   <dir>/rw/<id>/{diff,work,merged,parent}   a container's writable layer
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { Change, StorageDriver, TarStream } from "../../../core/contracts/storage.ts";
import { overlayChanges } from "../../../core/engine/changes.ts";
import { notFound } from "../../../core/errors.ts";
import { applyLayer } from "../../../core/images/apply.ts";
import type { Sys } from "../../../core/sys/index.ts";
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

  async mount(id: string): Promise<string> {
    const rw = `${this.dir}/rw/${id}`;
    const merged = `${rw}/merged`;
    if (!existsSync(`${rw}/parent`)) throw notFound(`overlay: container ${id} has no writable layer`);
    if (isMountPoint(merged)) return merged;
    const lowers = this.imageDirs(id);
    if (lowers.length === 0) lowers.push(`${this.dir}/empty`);
    // redirect_dir off: renamed directories are copied up whole, so `docker diff` can read them.
    const data = `lowerdir=${lowers.join(":")},upperdir=${rw}/diff,workdir=${rw}/work,redirect_dir=off`;
    this.sys.mount("overlay", merged, "overlay", 0, data);
    return merged;
  }

  async unmount(id: string) {
    unmountIfMounted(this.sys, `${this.dir}/rw/${id}/merged`);
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
