// Storage drivers: unpacked image layers and a writable layer per container.
// overlay (kernel overlayfs) and vfs (plain copies) implement it; both pass
// test/conformance/storage.ts.
//
// Example: a container from a two-layer image
//   await d.createLayer(chainA, null, tarA);
//   await d.createLayer(chainB, chainA, tarB);
//   await d.createWritable(ctr, chainB);
//   const rootfs = await d.mount(ctr);   // run the container in rootfs
//   await d.unmount(ctr); await d.removeWritable(ctr);

export type TarStream = AsyncIterable<Uint8Array>;

/** A change of a container's filesystem against its image, as `docker diff` lists it. */
export interface Change {
  Path: string;
  /** 0 modified, 1 added, 2 deleted. */
  Kind: 0 | 1 | 2;
}

/** The ids of a remapped container (--userns-remap). */
export interface IdMapping {
  /** A file pinning the container's user namespace (for idmapped mounts). */
  userns: string;
  uids: import("../userns/remap.ts").IdRange[];
  gids: import("../userns/remap.ts").IdRange[];
}

export interface StorageDriver {
  /** Is the layer with this chain ID unpacked for this driver? */
  hasLayer(chainId: string): boolean;
  /**
   * Unpack an uncompressed layer tar on top of `parent`. All or nothing:
   * a failure or crash half-way leaves no layer behind. Resolves to the
   * unpacked size in bytes. Creating an existing layer is a no-op.
   */
  createLayer(chainId: string, parent: string | null, tar: TarStream): Promise<{ size: number }>;
  removeLayer(chainId: string): Promise<void>;
  /** Chain IDs ("sha256:...") of every complete layer: what a restarted engine checks against its state. */
  layers(): string[];
  /** Create the writable layer of container `id` on top of image layer `parent`. */
  createWritable(id: string, parent: string | null): Promise<void>;
  /**
   * Mount the container's root filesystem; returns its host path. Idempotent.
   * With `idmap` (a remapped container), files show the ids of its user
   * namespace: the image's root-owned files belong to the remapped root.
   */
  mount(id: string, idmap?: IdMapping): Promise<string>;
  /** Unmount it. Idempotent. */
  unmount(id: string): Promise<void>;
  /** Remove the writable layer (unmounting first). Removing a missing one succeeds. */
  removeWritable(id: string): Promise<void>;
  /** IDs of every writable layer: what a restarted engine checks against its containers. */
  writables(): string[];
  /** Bytes used by the writable layer of `id`. */
  writableSize(id: string): Promise<number>;
  /** What the container changed in its filesystem, against its image. */
  changes(id: string): Promise<Change[]>;
}
