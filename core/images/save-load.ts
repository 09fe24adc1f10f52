// `docker save` and `docker load`: image archives in Docker's format
// (manifest.json: as docker 20.10 writes it, or as 25+ writes it next to an
// OCI image layout) and in the OCI image layout alone (index.json).
//
// Saving streams blobs straight from the content store. Loading spools every
// file of the archive into the content store as it streams past (entries
// come in any order: manifest.json may be last), resolves the references
// once the archive has ended, verifies every layer against the config's
// diff IDs, and only then adds the images. What the load spooled and no
// image uses is deleted afterwards.
import { statSync } from "node:fs";
import { invalidArgument, notFound, notSupported } from "../errors.ts";
import type { ImageConfig, ImageRecord } from "../engine/types.ts";
import { decompress, detectCompression } from "./compression.ts";
import { familiarName, familiarRepository, normalize, parseReference } from "./reference.ts";
import { LAYER_TAR, type ImageStore, type LayerBlob } from "./store.ts";
import { readTar } from "./tar.ts";
import { writeTar, type TarWriteEntry } from "./tar-writer.ts";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const IMAGE_NAME = "io.containerd.image.name";
const REF_NAME = "org.opencontainers.image.ref.name";
/** Largest JSON document (manifest, index, config) read into memory. */
const MAX_JSON = 16 << 20;

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os?: string; architecture?: string };
  annotations?: Record<string, string>;
}

interface OciManifest {
  config: Descriptor;
  layers: Descriptor[];
}

/** An entry of Docker's manifest.json. */
interface DockerManifestItem {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

const blobName = (digest: string) => {
  if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw notSupported(`unsupported digest "${digest}": only sha256 is supported`);
  return `blobs/sha256/${digest.slice(7)}`;
};

// ------------------------------------------------------------------ save

interface Saved {
  image: ImageRecord;
  /** Familiar names ("bb:latest"). */
  tags: string[];
}

/**
 * The images `refs` name, with the tags each brings, as Docker picks them:
 * NAME:TAG brings that tag, a NAME without tag every tag of the
 * repository, an image ID none.
 */
function selectImages(store: ImageStore, refs: string[]): Saved[] {
  const out = new Map<string, Saved>();
  const add = (image: ImageRecord, tag?: string) => {
    const s = out.get(image.id) ?? out.set(image.id, { image, tags: [] }).get(image.id)!;
    if (tag && !s.tags.includes(tag)) s.tags.push(tag);
  };
  for (const ref of refs) {
    if (!ref.includes("@") && ref.lastIndexOf(":") <= ref.lastIndexOf("/")) {
      const repo = familiarRepository(parseReference(ref));
      const tagged = store.list().flatMap(({ image, tags }) => tags.filter((t) => familiarRepository(parseReference(t)) === repo).map((t) => [image, t] as const));
      for (const [image, t] of tagged) add(image, t);
      if (tagged.length > 0) continue;
    }
    const image = store.resolve(ref);
    const byId = image.id.slice(7).startsWith(ref.replace(/^sha256:/, ""));
    add(image, byId ? undefined : familiarName(parseReference(ref)));
  }
  return [...out.values()];
}

async function readJson<T>(path: string, what: string): Promise<T> {
  const file = Bun.file(path);
  if (file.size > MAX_JSON) throw invalidArgument(`${what} is too large for a JSON document (${file.size} bytes)`);
  try {
    return JSON.parse(await file.text()) as T;
  } catch (err) {
    throw invalidArgument(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * One tar archive of the images `refs` name, in the layout `docker save`
 * (25+) writes: blobs/sha256/<hex> for layers, configs and manifests (each
 * once), index.json and oci-layout (an OCI image layout), manifest.json and
 * repositories (Docker's format). Every image and blob is looked up before
 * the first chunk, so a missing one fails the save before any byte.
 * `onSaved` is told each image ID once its blobs are written.
 */
export async function* saveImages(store: ImageStore, refs: string[], onSaved?: (id: string) => void): AsyncGenerator<Uint8Array, void, undefined> {
  const images: (Saved & { manifest: OciManifest })[] = [];
  for (const { image, tags } of selectImages(store, refs)) {
    const missing = () => notFound(`a blob of image ${image.id} is missing from the content store`, "remove the image and import or load it again");
    if (!store.blobs.has(image.manifestDigest)) throw missing();
    const manifest = await readJson<OciManifest>(store.blobs.path(image.manifestDigest), `the manifest of image ${image.id}`);
    if (![manifest.config, ...manifest.layers].every((d) => store.blobs.has(d.digest))) throw missing();
    images.push({ image, tags, manifest });
  }
  yield* writeTar(archiveEntries(store, images, onSaved));
}

async function* archiveEntries(store: ImageStore, images: (Saved & { manifest: OciManifest })[], onSaved?: (id: string) => void): AsyncGenerator<TarWriteEntry> {
  // Fixed owner and times: the same images make the same archive.
  const meta = { mode: 0o644, uid: 0, gid: 0, mtime: 0 };
  const file = (name: string, body: Uint8Array | AsyncIterable<Uint8Array>, size: number): TarWriteEntry => ({ ...meta, name, type: "file", size, body });
  const json = (name: string, value: unknown) => {
    const bytes = Buffer.from(`${JSON.stringify(value)}\n`);
    return file(name, bytes, bytes.length);
  };
  yield { ...meta, mode: 0o755, name: "blobs", type: "dir" };
  yield { ...meta, mode: 0o755, name: "blobs/sha256", type: "dir" };

  const written = new Set<string>();
  const index: Descriptor[] = [];
  const manifestJson: DockerManifestItem[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const { image, tags, manifest } of images) {
    const layers = manifest.layers.map((l) => l.digest);
    for (const digest of [...layers, manifest.config.digest, image.manifestDigest]) {
      if (written.has(digest)) continue; // a layer shared by several images
      written.add(digest);
      yield file(blobName(digest), store.blobs.read(digest), statSync(store.blobs.path(digest)).size);
    }
    const descriptor: Descriptor = {
      mediaType: OCI_MANIFEST,
      digest: image.manifestDigest,
      size: statSync(store.blobs.path(image.manifestDigest)).size,
      platform: { os: image.config.os, architecture: image.config.architecture },
    };
    if (tags.length === 0) index.push(descriptor);
    for (const tag of tags) {
      const ref = parseReference(tag);
      index.push({ ...descriptor, annotations: { [IMAGE_NAME]: normalize(tag), [REF_NAME]: ref.tag! } });
      if (layers.length > 0) (repositories[familiarRepository(ref)] ??= {})[ref.tag!] = layers[layers.length - 1]!.slice(7);
    }
    manifestJson.push({ Config: blobName(manifest.config.digest), RepoTags: tags.length ? tags : null, Layers: layers.map(blobName) });
    onSaved?.(image.id);
  }
  yield json("index.json", { schemaVersion: 2, mediaType: OCI_INDEX, manifests: index });
  yield json("manifest.json", manifestJson);
  yield json("oci-layout", { imageLayoutVersion: "1.0.0" });
  if (Object.keys(repositories).length > 0) yield json("repositories", repositories);
}

// ------------------------------------------------------------------ load

/** A file of the archive, spooled into the content store. */
interface ArchiveFile {
  /** The path it was asked for by (for messages). */
  name: string;
  digest: string;
}

interface Plan {
  id: string;
  config: ImageConfig;
  layers: ArchiveFile[];
  tags: string[];
}

const traversal = (entry: string) => invalidArgument(`refusing to load the archive: "${entry}" leads out of it (path traversal)`);

/** `path`, relative to the archive directory `dir`, as a path from the archive's top; what leads out of it is refused. */
function archivePath(dir: string[], path: string, entry: string): string {
  if (path.startsWith("/")) throw traversal(entry);
  const parts = [...dir];
  for (const p of path.split("/")) {
    if (p === "" || p === ".") continue;
    if (p !== "..") parts.push(p);
    else if (parts.length === 0) throw traversal(entry);
    else parts.pop();
  }
  return parts.join("/");
}

/** The archive's files (as digests in the content store) and links, by path. */
class Archive {
  readonly files = new Map<string, string>();
  readonly links = new Map<string, string>();

  constructor(readonly store: ImageStore) {}

  has(path: string): boolean {
    return this.files.has(path) || this.links.has(path);
  }

  file(path: unknown): ArchiveFile {
    if (typeof path !== "string") throw invalidArgument(`invalid manifest in the archive: ${JSON.stringify(path)} is not a path`);
    let p = archivePath([], path, path);
    for (let hops = 0; !this.files.has(p); hops++) {
      const next = this.links.get(p);
      if (next === undefined || hops === 16) throw invalidArgument(`"${path}" is referenced in the archive but is not in it`);
      p = next;
    }
    return { name: path, digest: this.files.get(p)! };
  }

  json<T>(f: ArchiveFile): Promise<T> {
    return readJson<T>(this.store.blobs.path(f.digest), `"${f.name}" in the archive`);
  }
}

/** Spool every file of the archive into the content store; the digests of the blobs it made go into `spooled`. */
async function spool(store: ImageStore, tar: AsyncIterable<Uint8Array>, spooled: Set<string>): Promise<Archive> {
  const archive = new Archive(store);
  for await (const e of readTar(tar)) {
    const name = archivePath([], e.name, e.name);
    if (e.type === "file") {
      const { digest, created } = await store.blobs.ingest(e.body());
      if (created) spooled.add(digest);
      // A name that is a digest must be that one: blobs/sha256/<hex> (OCI), <hex>.json (Docker's configs).
      const named = /^blobs\/sha256\/([a-f0-9]{64})$|^([a-f0-9]{64})\.json$/.exec(name);
      if (named && digest !== `sha256:${named[1] ?? named[2]}`) {
        throw invalidArgument(`"${e.name}" in the archive does not match its digest: its content's sha256 is ${digest.slice(7)}`, "the archive is corrupt");
      }
      archive.files.set(name, digest);
    } else if (e.type === "symlink" || e.type === "hardlink") {
      // docker save before 25 links a layer.tar it has already written, rather than writing it again.
      archive.links.set(name, e.type === "symlink" ? archivePath(name.split("/").slice(0, -1), e.linkname, e.name) : archivePath([], e.linkname, e.name));
    }
    // Directories say nothing; no other type has a place in an image archive.
  }
  return archive;
}

/** What the image config in `config` needs and says, checked against the manifest's layers and tags. */
async function plan(a: Archive, config: ArchiveFile, layers: ArchiveFile[], tags: string[]): Promise<Plan> {
  const cfg = await a.json<ImageConfig>(config);
  if (!Array.isArray(cfg?.rootfs?.diff_ids)) throw invalidArgument(`"${config.name}" in the archive is not an image config: it has no rootfs.diff_ids`);
  if (cfg.os && cfg.os !== "linux") throw notSupported(`cannot load ${cfg.os} image ${config.digest}: berth runs linux images`);
  if (cfg.rootfs.diff_ids.length !== layers.length) {
    throw invalidArgument(`invalid manifest for image ${config.digest} in the archive: ${layers.length} layers, but its config has ${cfg.rootfs.diff_ids.length} diff_ids`);
  }
  for (const t of tags) {
    if (typeof t !== "string" || parseReference(t).digest) throw invalidArgument(`invalid tag ${JSON.stringify(t)} in the archive's manifest`);
  }
  return { id: config.digest, config: cfg, layers, tags };
}

/** Docker's format: manifest.json lists each image's config, layers and tags. */
async function dockerImages(a: Archive): Promise<Plan[]> {
  const items = await a.json<DockerManifestItem[]>(a.file("manifest.json"));
  if (!Array.isArray(items)) throw invalidArgument("invalid manifest.json in the archive: it is not a list");
  const plans: Plan[] = [];
  for (const m of items) {
    if (!Array.isArray(m?.Layers) || !Array.isArray(m.RepoTags ?? [])) throw invalidArgument("invalid manifest.json in the archive: an entry's Layers or RepoTags is not a list");
    plans.push(await plan(a, a.file(m.Config), m.Layers.map((l) => a.file(l)), m.RepoTags ?? []));
  }
  return plans;
}

/** An OCI image layout: index.json -> manifests (an index: its linux/amd64 one) -> config and layers. */
async function ociImages(a: Archive): Promise<Plan[]> {
  const index = await a.json<{ manifests?: Descriptor[] }>(a.file("index.json"));
  const plans: Plan[] = [];
  for (const desc of index.manifests ?? []) {
    const manifest = await imageManifest(a, desc);
    // The name: containerd's annotation, else a ref.name that is a full reference (a bare tag names no repository).
    const refName = desc.annotations?.[REF_NAME];
    const name = desc.annotations?.[IMAGE_NAME] ?? (refName && /[:/]/.test(refName) ? refName : undefined);
    plans.push(await plan(a, a.file(blobName(manifest.config.digest)), manifest.layers.map((l) => a.file(blobName(l.digest))), name ? [name] : []));
  }
  return plans;
}

async function imageManifest(a: Archive, desc: Descriptor, depth = 0): Promise<OciManifest> {
  const doc = await a.json<Partial<OciManifest> & { manifests?: Descriptor[] }>(a.file(blobName(desc.digest)));
  if (Array.isArray(doc.manifests)) {
    const next = doc.manifests.find((m) => m.platform?.os === "linux" && m.platform.architecture === "amd64");
    if (!next || depth === 4) throw notFound(`no linux/amd64 image in the image index ${desc.digest} of the archive`);
    return imageManifest(a, next, depth + 1);
  }
  if (!doc.config || !Array.isArray(doc.layers)) throw invalidArgument(`"${blobName(desc.digest)}" in the archive is neither an image manifest nor an index`);
  return doc as OciManifest;
}

/** Check each layer against its diff ID; the blob of a compressed layer is decompressed to check it. */
async function verifyLayers(store: ImageStore, p: Plan): Promise<LayerBlob[]> {
  const out: LayerBlob[] = [];
  for (const [i, layer] of p.layers.entries()) {
    const diffId = p.config.rootfs.diff_ids[i]!;
    if (layer.digest === diffId) {
      out.push({ blob: layer.digest, mediaType: LAYER_TAR });
      continue;
    }
    const hash = new Bun.CryptoHasher("sha256");
    for await (const chunk of decompress(store.blobs.read(layer.digest))) hash.update(chunk);
    const got = `sha256:${hash.digest("hex")}`;
    if (got !== diffId) {
      throw invalidArgument(`layer "${layer.name}" in the archive does not match image ${p.id}: its content's sha256 is ${got.slice(7)}, the config's diff_id is ${diffId}`, "the archive is corrupt");
    }
    // Not the diff ID itself, yet it decompresses to it: gzip or zstd (decompress refuses the others).
    const head = await Bun.file(store.blobs.path(layer.digest)).slice(0, 4).bytes();
    out.push({ blob: layer.digest, mediaType: `${LAYER_TAR}+${detectCompression(head)}` });
  }
  return out;
}

export interface LoadOptions {
  /** Told each image once it is added, with its report lines: a caller can stream them. */
  onLoaded?: (id: string, lines: string[]) => void | Promise<void>;
}

/**
 * Load the images of an archive `docker save` (any version) wrote, or of an
 * OCI image layout. Resolves to Docker's report: "Loaded image: NAME:TAG"
 * for each tag, "Loaded image ID: sha256:..." for an image without one.
 * Every archive is checked whole before the first image is added.
 */
export async function loadImages(store: ImageStore, tar: AsyncIterable<Uint8Array>, opts: LoadOptions = {}): Promise<{ loaded: string[] }> {
  const spooled = new Set<string>();
  try {
    const archive = await spool(store, tar, spooled);
    let plans: Plan[];
    if (archive.has("manifest.json")) plans = await dockerImages(archive);
    else if (archive.has("index.json")) plans = await ociImages(archive);
    else throw invalidArgument("no manifest.json or index.json in the archive", "is it an archive `docker save` wrote?");

    // One image listed under several names (OCI: a descriptor per tag) is added once.
    const byId = new Map<string, Plan>();
    for (const p of plans) {
      const seen = byId.get(p.id);
      if (seen) seen.tags.push(...p.tags.filter((t) => !seen.tags.includes(t)));
      else byId.set(p.id, p);
    }
    const verified: [Plan, LayerBlob[]][] = [];
    for (const p of byId.values()) verified.push([p, await verifyLayers(store, p)]);

    const loaded: string[] = [];
    for (const [p, layers] of verified) {
      await store.addImage(p.id, p.config, layers, p.tags);
      const lines = p.tags.length ? p.tags.map((t) => `Loaded image: ${familiarName(parseReference(t))}`) : [`Loaded image ID: ${p.id}`];
      loaded.push(...lines);
      await opts.onLoaded?.(p.id, lines);
    }
    return { loaded };
  } finally {
    // What the load brought and no image uses: unreferenced files, or all of it after a failure.
    const used = store.blobsInUse();
    for (const digest of spooled) if (!used.has(digest)) store.blobs.delete(digest);
  }
}
