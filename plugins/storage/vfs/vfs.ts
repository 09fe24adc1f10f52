// The vfs driver: every layer and every container is a full copy of its
// root filesystem. Slow and large, but needs nothing from the kernel.
//
//   <dir>/<chain-id>/        a layer's complete tree (parent + its diff)
//   <dir>/rw/<id>/rootfs     a container's tree
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { Change, IdMapping, StorageDriver, TarStream } from "../../../core/contracts/storage.ts";
import { naiveChanges } from "../../../core/engine/changes.ts";
import { notFound } from "../../../core/errors.ts";
import { applyLayer } from "../../../core/images/apply.ts";
import type { Sys } from "../../../core/sys/index.ts";
import { shiftTree, unshifter } from "../shift.ts";
import { buildAtomically, copyTree, diskUsage, layerDir, listLayerDirs } from "../fsutil.ts";

export class VfsDriver implements StorageDriver {
  constructor(
    private readonly dir: string,
    private readonly sys: Sys,
  ) {
    mkdirSync(`${dir}/rw`, { recursive: true, mode: 0o700 });
  }

  writables(): string[] {
    return existsSync(`${this.dir}/rw`) ? readdirSync(`${this.dir}/rw`) : [];
  }

  layers(): string[] {
    return listLayerDirs(this.dir, () => true); // complete once renamed into place
  }

  hasLayer(chainId: string): boolean {
    return existsSync(`${this.dir}/${layerDir(chainId)}`);
  }

  async createLayer(chainId: string, parent: string | null, tar: TarStream) {
    if (this.hasLayer(chainId)) {
      for await (const _ of tar);
      return { size: diskUsage(`${this.dir}/${layerDir(chainId)}`) };
    }
    if (parent && !this.hasLayer(parent)) throw notFound(`vfs: parent layer ${parent} is not unpacked`);
    return buildAtomically(this.dir, `${this.dir}/${layerDir(chainId)}`, async (tmp) => {
      if (parent) await copyTree(`${this.dir}/${layerDir(parent)}`, tmp);
      else mkdirSync(tmp, { mode: 0o755 });
      const { size } = await applyLayer(tmp, tar, { whiteouts: "delete", sys: this.sys });
      return { size };
    });
  }

  async removeLayer(chainId: string) {
    rmSync(`${this.dir}/${layerDir(chainId)}`, { recursive: true, force: true });
  }

  async createWritable(id: string, parent: string | null) {
    if (parent && !this.hasLayer(parent)) throw notFound(`vfs: layer ${parent} is not unpacked`);
    const rw = `${this.dir}/rw/${id}`;
    mkdirSync(rw, { recursive: true, mode: 0o700 });
    if (parent) await copyTree(`${this.dir}/${layerDir(parent)}`, `${rw}/rootfs`);
    else mkdirSync(`${rw}/rootfs`, { mode: 0o755 });
    writeFileSync(`${rw}/parent`, parent ?? "");
  }

  async mount(id: string, idmap?: IdMapping) {
    const rootfs = `${this.dir}/rw/${id}/rootfs`;
    if (!existsSync(rootfs)) throw notFound(`vfs: container ${id} has no writable layer`);
    // A shifted copy, not an idmapped mount: see shift.ts. Without idmap it stays as it is (docker cp of a running one).
    if (idmap) shiftTree(rootfs, `${this.dir}/rw/${id}/shifted`, idmap);
    return rootfs;
  }

  async unmount(_id: string) {
    // Nothing is mounted: the rootfs is a plain directory.
  }

  async removeWritable(id: string) {
    rmSync(`${this.dir}/rw/${id}`, { recursive: true, force: true });
  }

  async writableSize(id: string) {
    return diskUsage(`${this.dir}/rw/${id}/rootfs`);
  }

  /** A full copy has no record of what changed: compare it with the image's tree. */
  async changes(id: string) {
    const rw = `${this.dir}/rw/${id}`;
    if (!existsSync(`${rw}/parent`)) throw notFound(`vfs: container ${id} has no writable layer`);
    const parent = readFileSync(`${rw}/parent`, "utf8");
    const empty = `${this.dir}/.empty`;
    mkdirSync(empty, { recursive: true });
    return naiveChanges(`${rw}/rootfs`, parent ? `${this.dir}/${layerDir(parent)}` : empty, this.sys, unshifter(`${rw}/shifted`)) as Change[];
  }
}
