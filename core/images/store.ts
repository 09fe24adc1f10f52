// Images: configs and manifests in the content store, names and layer
// metadata in the state database, unpacked layers in the storage driver.
import { statSync } from "node:fs";
import type { StorageDriver } from "../contracts/storage.ts";
import { conflict, invalidArgument, notFound } from "../errors.ts";
import type { ImageConfig, ImageRecord } from "../engine/types.ts";
import type { LayerRow, StateDB } from "../state/db.ts";
import { ContentStore, sha256 } from "./blobs.ts";
import { applyChanges } from "./changes.ts";
import { decompress } from "./compression.ts";
import { familiarName, fullName, normalize, parseReference, type Reference } from "./reference.ts";

export const LAYER_TAR = "application/vnd.oci.image.layer.v1.tar";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

/** The key a pulled or pushed manifest digest is kept under: "docker.io/library/x@sha256:...". */
export const repoDigestKey = (ref: Reference, digest: string) => `${ref.domain}/${ref.path}@${digest}`;

/** Chain IDs of a list of diff IDs (OCI image spec, config.md). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]} ${d}`));
  return out;
}

/** A layer of an image being added: its blob in the content store, as it came. */
export interface LayerBlob {
  blob: string;
  mediaType: string;
}

export interface ImportOptions {
  /** Repository[:tag] to give the image. */
  ref?: string;
  /** Dockerfile instructions applied to the config (`--change`). */
  changes?: string[];
  message?: string;
  /** Shown in the history comment: a file name or "-". */
  source: string;
}

export class ImageStore {
  constructor(
    private readonly db: StateDB,
    readonly blobs: ContentStore,
    private readonly driver: StorageDriver,
    /**
     * The other storage drivers that hold layers under this root (a daemon
     * that ran with another --storage-driver before): their containers keep
     * using them, and a layer no image needs any more goes from each.
     */
    private readonly otherDrivers: () => Promise<StorageDriver[]> = async () => [],
  ) {}

  /** An image by name[:tag], full or short ID. */
  resolve(nameOrId: string): ImageRecord {
    const hex = nameOrId.replace(/^sha256:/, "");
    if (/^[a-f0-9]{12,64}$/.test(hex)) {
      const found = this.db.findImages(hex);
      if (found.length === 1) return found[0]!;
      if (found.length > 1) throw conflict(`image ID prefix "${nameOrId}" is ambiguous: it matches ${found.length} images`);
    }
    let key: string;
    try {
      key = normalize(nameOrId);
    } catch (err) {
      if (/^sha256:/.test(nameOrId)) throw notFound(`No such image: ${nameOrId}`);
      throw err;
    }
    const ref = parseReference(nameOrId);
    const id = ref.digest ? this.db.getRepoDigest(repoDigestKey(ref, ref.digest)) : this.db.getTag(key);
    const img = id ? this.db.getImage(id) : undefined;
    if (!img) throw notFound(`No such image: ${familiarName(parseReference(nameOrId))}`, "import or pull it first (berth import FILE NAME:TAG)");
    return img;
  }

  list(): { image: ImageRecord; tags: string[] }[] {
    return this.db.listImages().map((image) => ({ image, tags: this.db.tagsOf(image.id).map((t) => familiarName(parseReference(t))) }));
  }

  /** RepoDigests as Docker shows them: "busybox@sha256:...". */
  repoDigestsOf(imageId: string): string[] {
    return this.db.repoDigestsOf(imageId).map((r) => familiarName(parseReference(r)));
  }

  tagsOf(imageId: string): string[] {
    return this.db.tagsOf(imageId).map((t) => familiarName(parseReference(t)));
  }

  tag(imageId: string, ref: string) {
    const r = parseReference(ref);
    if (r.digest) throw invalidArgument(`cannot tag with a digest reference: "${ref}"`);
    this.db.setTag(fullName(r), imageId);
  }

  /** Import a root filesystem tarball (plain, gzip or zstd) as a one-layer image. */
  async import(src: AsyncIterable<Uint8Array>, opts: ImportOptions): Promise<ImageRecord> {
    if (opts.ref) parseReference(opts.ref); // reject a bad name before reading anything
    const { digest: diffId } = await this.blobs.ingest(decompress(src));
    const created = new Date().toISOString();
    const config: ImageConfig = {
      architecture: "amd64",
      os: "linux",
      created,
      config: applyChanges({}, opts.changes ?? []),
      rootfs: { type: "layers", diff_ids: [diffId] },
      history: [{ created, comment: opts.message || `Imported from ${opts.source}` }],
    };
    const id = await this.blobs.put(JSON.stringify(config));
    return this.addImage(id, config, [{ blob: diffId, mediaType: LAYER_TAR }], opts.ref ? [opts.ref] : []);
  }

  /**
   * Add an image whose config blob (`id`) and layer blobs (verified against
   * the config's diff IDs) are in the content store: unpack the layers the
   * driver lacks, then record layers, manifest, image and tags in one
   * transaction. A failure takes back the layers it unpacked.
   */
  async addImage(id: string, config: ImageConfig, layers: LayerBlob[], tags: string[], parent?: string): Promise<ImageRecord> {
    const chains = chainIds(config.rootfs.diff_ids);
    const unpacked: string[] = [];
    let manifestDigest: string | undefined;
    try {
      const rows: LayerRow[] = [];
      for (const [i, chain] of chains.entries()) {
        const { blob, mediaType } = layers[i]!;
        const parent = i > 0 ? chains[i - 1]! : null;
        // A layer berth has already keeps its row (and blob): the same content by its chain ID.
        const row = this.db.getLayer(chain) ?? { chain_id: chain, diff_id: config.rootfs.diff_ids[i]!, parent, blob, media_type: mediaType, blob_size: statSync(this.blobs.path(blob)).size, size: 0 };
        if (!this.driver.hasLayer(chain)) {
          const { size } = await this.driver.createLayer(chain, parent, decompress(this.blobs.read(blob)));
          unpacked.push(chain);
          row.size ||= size;
        }
        rows.push(row);
      }
      const manifest = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: id, size: statSync(this.blobs.path(id)).size },
        layers: rows.map((r) => ({ mediaType: r.media_type, digest: r.blob, size: r.blob_size })),
      };
      manifestDigest = await this.blobs.put(JSON.stringify(manifest));
      const record: ImageRecord = { id, config, manifestDigest, size: rows.reduce((n, r) => n + r.size, 0), created: config.created ?? new Date().toISOString(), ...(parent ? { parent } : {}) };
      this.db.tx(() => {
        for (const r of rows) this.db.putLayer(r);
        this.db.putImage(record);
        for (const t of tags) this.tag(id, t);
      });
      return record;
    } catch (err) {
      for (const chain of unpacked.reverse()) await this.driver.removeLayer(chain);
      // A manifest names its config: no other image can be using it.
      if (manifestDigest && !this.db.getImage(id)) this.blobs.delete(manifestDigest);
      throw err;
    }
  }

  /** Every blob an image or layer refers to. */
  blobsInUse(): Set<string> {
    const images = this.db.listImages();
    return new Set([...images.flatMap((i) => [i.id, i.manifestDigest]), ...this.db.listLayers().map((l) => l.blob)]);
  }

  /** Is the layer unpacked for the driver (and known to the state)? */
  hasUnpacked(chainId: string): boolean {
    return this.driver.hasLayer(chainId) && this.db.getLayer(chainId) !== undefined;
  }

  /**
   * Unpack a layer blob of the content store onto `parent`, checking that its
   * uncompressed bytes are `diffId` (a mismatch removes the layer again).
   * `onProgress` gets the compressed bytes read so far.
   */
  async unpackLayer(chainId: string, parent: string | null, diffId: string, layer: LayerBlob, onProgress?: (bytes: number) => void) {
    if (this.hasUnpacked(chainId)) return;
    const blob = layer.blob;
    const hash = new Bun.CryptoHasher("sha256");
    let read = 0;
    const blobs = this.blobs;
    async function* counted() {
      for await (const chunk of blobs.read(blob)) {
        read += chunk.length;
        onProgress?.(read);
        yield chunk;
      }
    }
    async function* hashed() {
      for await (const chunk of decompress(counted())) {
        hash.update(chunk);
        yield chunk;
      }
    }
    const { size } = await this.driver.createLayer(chainId, parent, hashed());
    const got = `sha256:${hash.digest("hex")}`;
    if (got !== diffId) {
      await this.driver.removeLayer(chainId);
      throw invalidArgument(`layer ${blob} does not match the image: its content is ${got}, the image's config says ${diffId}`, "the registry or archive holds a corrupt image: push it again");
    }
    this.db.putLayer({ chain_id: chainId, diff_id: diffId, parent, blob, media_type: layer.mediaType, blob_size: statSync(this.blobs.path(blob)).size, size });
  }

  /** Undo what a failed pull added: its layers and blobs that no image uses (another pull may share them). */
  async forget(chains: string[], blobs: string[]) {
    const used = new Set(this.db.listImages().flatMap((i) => chainIds(i.config.rootfs.diff_ids)));
    for (const c of chains.reverse()) {
      if (used.has(c)) continue;
      this.db.deleteLayer(c);
      await this.removeUnpacked(c);
    }
    const inUse = this.blobsInUse();
    for (const d of blobs) if (!inUse.has(d)) this.blobs.delete(d);
  }

  /** Name a pulled or pushed image: its tag (when the reference had one) and its repository digest. */
  record(imageId: string, tagRef: string | undefined, repoDigest: string) {
    this.db.tx(() => {
      if (tagRef) this.tag(imageId, tagRef);
      this.db.setRepoDigest(repoDigest, imageId);
    });
  }

  /** A registry repository holds this blob (for cross-repository mounts when pushing elsewhere on it). */
  noteBlobSource(digest: string, domain: string, repo: string) {
    this.db.addBlobSource(digest, domain, repo);
  }

  /** A layer's row; NotFound if berth does not know it. */
  layerRow(chainId: string): LayerRow {
    const row = this.db.getLayer(chainId);
    if (!row || !this.blobs.has(row.blob)) throw notFound(`layer ${chainId} is missing from the content store`, "pull or import the image again");
    return row;
  }

  blobSources(digest: string, domain: string): string[] {
    return this.db.blobSources(digest, domain);
  }

  /** Make sure every layer of `image` is unpacked for the driver; returns the top chain ID. */
  async ensureUnpacked(image: ImageRecord): Promise<string | null> {
    const chains = chainIds(image.config.rootfs.diff_ids);
    let parent: string | null = null;
    for (const chain of chains) {
      if (!this.driver.hasLayer(chain)) {
        const row = this.db.getLayer(chain);
        if (!row || !this.blobs.has(row.blob)) throw notFound(`layer ${chain} of image ${image.id} is missing from the content store`, "pull or import the image again");
        await this.driver.createLayer(chain, parent, decompress(this.blobs.read(row.blob)));
      }
      parent = chain;
    }
    return parent;
  }

  /**
   * `rmi`: untag `nameOrId`, and delete the image once nothing names or
   * uses it. Returns Docker's report lines ("Untagged: ...", "Deleted: ...").
   * @param usedBy container IDs using an image, and whether each runs
   */
  async remove(nameOrId: string, force: boolean, usedBy: (imageId: string) => { id: string; running: boolean }[]): Promise<string[]> {
    const image = this.resolve(nameOrId);
    const byId = image.id.replace(/^sha256:/, "").startsWith(nameOrId.replace(/^sha256:/, ""));
    const tags = this.db.tagsOf(image.id);
    const users = usedBy(image.id);
    const short = image.id.slice(7, 19);
    const report: string[] = [];

    const children = this.db.childrenOf(image.id);
    if (!byId) {
      const key = normalize(nameOrId);
      // An image other images were built on stays, untagged, as their parent (Docker keeps intermediate images).
      if (tags.length > 1 || (users.length > 0 && force) || children.length > 0) {
        this.db.deleteTag(key);
        return [`Untagged: ${familiarName(parseReference(key))}`];
      }
      if (users.length > 0) {
        throw conflict(`conflict: unable to remove repository reference "${nameOrId}" (must force) - container ${users[0]!.id.slice(0, 12)} is using its referenced image ${short}`);
      }
    } else {
      const running = users.find((u) => u.running);
      if (running) throw conflict(`conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${running.id.slice(0, 12)}`);
      if (!force && users.length > 0) throw conflict(`conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${users[0]!.id.slice(0, 12)}`);
      if (children.length > 0) throw conflict(`conflict: unable to delete ${short} (cannot be forced) - image has dependent child images`);
      if (!force && tags.length > 1) throw conflict(`conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`);
    }

    for (const t of tags) report.push(`Untagged: ${familiarName(parseReference(t))}`);
    // Then its untagged parents that nothing else uses, as Docker deletes a build's intermediate images with it.
    const deleted: ImageRecord[] = [];
    this.db.tx(() => {
      for (let img: ImageRecord | undefined = image; img; ) {
        this.db.deleteImage(img.id);
        deleted.push(img);
        const parent: ImageRecord | undefined = img.parent ? this.db.getImage(img.parent) : undefined;
        const unused: boolean = !!parent && this.db.tagsOf(parent.id).length === 0 && this.db.childrenOf(parent.id).length === 0 && usedBy(parent.id).length === 0;
        img = unused ? parent : undefined;
      }
    });
    for (const img of deleted) report.push(`Deleted: ${img.id}`);
    await this.pruneLayers();
    for (const img of deleted) {
      this.blobs.delete(img.id);
      this.blobs.delete(img.manifestDigest);
    }
    return report;
  }

  /** Build intermediates: untagged images that other images were built on (`images` hides them without -a). */
  intermediates(): Set<string> {
    const parents = this.db.parentIds();
    return new Set([...parents].filter((id) => this.db.tagsOf(id).length === 0));
  }

  /** Delete layers (metadata, blob, unpacked tree) no image refers to any more. */
  /**
   * Daemon start: remove what no image refers to (what an interrupted pull,
   * load or commit left): layer records, unpacked layers the state does not
   * know, blobs. Returns how many of each went.
   */
  async collectGarbage(): Promise<{ layers: number; blobs: number }> {
    const before = this.db.listLayers().length;
    await this.pruneLayers();
    const known = new Set(this.db.listLayers().map((l) => l.chain_id));
    let layers = before - known.size;
    for (const driver of [this.driver, ...(await this.otherDrivers())]) {
      for (const c of driver.layers()) {
        if (known.has(c)) continue;
        await driver.removeLayer(c);
        layers++;
      }
    }
    const inUse = this.blobsInUse();
    let blobs = 0;
    for (const d of this.blobs.list()) {
      if (inUse.has(d)) continue;
      this.blobs.delete(d);
      blobs++;
    }
    return { layers, blobs };
  }

  /** Remove a layer's unpacked tree from every driver that has one. */
  private async removeUnpacked(chainId: string) {
    for (const driver of [this.driver, ...(await this.otherDrivers())]) {
      if (driver.hasLayer(chainId)) await driver.removeLayer(chainId);
    }
  }

  private async pruneLayers() {
    const used = new Set(this.db.listImages().flatMap((i) => chainIds(i.config.rootfs.diff_ids)));
    const usedBlobs = new Set(this.db.listLayers().filter((l) => used.has(l.chain_id)).map((l) => l.blob));
    for (const layer of this.db.listLayers()) {
      if (used.has(layer.chain_id)) continue;
      this.db.deleteLayer(layer.chain_id);
      await this.removeUnpacked(layer.chain_id);
      if (!usedBlobs.has(layer.blob)) this.blobs.delete(layer.blob);
    }
  }
}
