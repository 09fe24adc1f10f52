// Pull an image from a registry: the manifest (the platform's, from an
// index), the config, then every layer berth lacks, downloaded in parallel
// and each unpacked as soon as it and the layers below it are in. Every
// blob is verified against its digest, every layer against its diff ID;
// what a failed pull downloaded is removed, and what a crash leaves the
// next daemon start collects.
import { invalidArgument, notSupported } from "../errors.ts";
import type { ImageConfig, ImageRecord } from "../engine/types.ts";
import { familiarName, parseReference } from "./reference.ts";
import { Registry, type Credentials, type RegistryOptions } from "./registry.ts";
import { chainIds, LAYER_TAR, repoDigestKey, type ImageStore } from "./store.ts";
import type { Progress } from "./progress.ts";
import { trace } from "../trace.ts";

const INDEX_TYPES = ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"];
/** Layers downloaded at once, as Docker does. */
const CONCURRENT_DOWNLOADS = 3;

export interface PullOptions {
  platform?: string;
  registry: RegistryOptions;
  credentials?: Credentials;
  progress: Progress;
}

export interface PullResult {
  image: ImageRecord;
  /** The manifest (or index) digest the reference named. */
  digest: string;
  upToDate: boolean;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export async function pullImage(store: ImageStore, refText: string, opts: PullOptions): Promise<PullResult> {
  const ref = parseReference(refText);
  const p = opts.progress;
  // Credentials go to the reference's own registry only, never to a mirror.
  const registry = new Registry(ref.domain, { ...opts.registry, credentials: (host) => (host === ref.domain ? opts.credentials : undefined) });
  p.status(`Pulling from ${ref.path}`, ref.digest ?? ref.tag);
  const top = await registry.manifest(ref.path, ref.digest ?? ref.tag!);
  let manifest = top;
  if (INDEX_TYPES.includes(top.mediaType)) {
    const chosen = Registry.selectPlatform(top.json, opts.platform);
    manifest = await registry.manifest(ref.path, chosen.digest);
  }
  const m = manifest.json as { config?: Descriptor; layers?: Descriptor[] };
  if (!m.config || !Array.isArray(m.layers)) throw invalidArgument(`the manifest of ${refText} (${manifest.digest}) has no config or layers`);
  const nameRef = ref.digest ? undefined : refText;
  // Docker's words: "up to date" when the name already meant this image.
  const before = tryResolve(store, refText)?.id;
  const done = (image: ImageRecord) => {
    store.record(image.id, nameRef, repoDigestKey(ref, top.digest));
    p.status(`Digest: ${top.digest}`);
    const upToDate = before === image.id;
    p.status(`Status: ${upToDate ? "Image is up to date" : "Downloaded newer image"} for ${familiarName(ref)}`);
    return { image, digest: top.digest, upToDate };
  };

  // Known already: only (re)name it.
  const known = store.blobs.has(m.config.digest) ? tryResolve(store, m.config.digest) : undefined;
  if (known && chainIds(known.config.rootfs.diff_ids).every((c) => store.hasUnpacked(c))) {
    for (const l of m.layers) p.status("Already exists", short(l.digest));
    return done(known);
  }

  const created: string[] = []; // blobs this pull added: removed if it fails
  const unpacked: string[] = []; // and layers
  try {
    const cfg = await store.blobs.ingest(await registry.blob(ref.path, m.config.digest, m.config.size), m.config.digest);
    if (cfg.created) created.push(cfg.digest);
    const config = JSON.parse(await new Response(store.blobs.read(m.config.digest) as unknown as ReadableStream).text()) as ImageConfig;
    checkPlatform(config, opts.platform, refText);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== m.layers.length) throw invalidArgument(`the image ${refText} is inconsistent: its manifest has ${m.layers.length} layers, its config ${diffIds.length} diff IDs`);
    const chains = chainIds(diffIds);
    const missing = chains.map((c) => !store.hasUnpacked(c));

    // Downloads run ahead, a few at a time; unpacking follows in layer order.
    const queue = m.layers.map((l, i) => ({ layer: l, i })).filter((x) => missing[x.i]);
    for (const [i, l] of m.layers.entries()) if (!missing[i]) p.status("Already exists", short(l.digest));
    for (const { layer } of queue) p.status("Pulling fs layer", short(layer.digest));
    const downloads = new Map<number, Promise<void>>();
    let next = 0;
    const startNext = () => {
      const item = queue[next++];
      if (!item) return;
      trace(`pull: download ${item.i} starts`);
      const d = download(store, registry, ref.path, item.layer, p).then((isNew) => {
        trace(`pull: download ${item.i} done`);
        if (isNew) created.push(item.layer.digest);
      });
      downloads.set(item.i, d);
      void d.catch(() => {}).finally(startNext);
    };
    for (let k = 0; k < CONCURRENT_DOWNLOADS; k++) startNext();
    for (const { layer, i } of queue) {
      await downloads.get(i);
      trace(`pull: unpack ${i} starts`);
      await store.unpackLayer(chains[i]!, i > 0 ? chains[i - 1]! : null, diffIds[i]!, { blob: layer.digest, mediaType: layer.mediaType || LAYER_TAR }, (n) => p.progress("Extracting", short(layer.digest), n, layer.size));
      unpacked.push(chains[i]!);
      trace(`pull: unpack ${i} done`);
      p.status("Pull complete", short(layer.digest));
    }
    const image = await store.addImage(m.config.digest, config, m.layers.map((l) => ({ blob: l.digest, mediaType: l.mediaType || LAYER_TAR })), []);
    for (const l of m.layers) store.noteBlobSource(l.digest, ref.domain, ref.path);
    return done(image);
  } catch (err) {
    await store.forget(unpacked, created);
    throw err;
  }
}

function tryResolve(store: ImageStore, id: string): ImageRecord | undefined {
  try {
    return store.resolve(id);
  } catch {
    return undefined;
  }
}

const short = (digest: string) => digest.replace(/^sha256:/, "").slice(0, 12);

function checkPlatform(config: ImageConfig, platform: string | undefined, refText: string) {
  const [os, arch] = (platform ?? "linux/amd64").split("/");
  if (config.os && config.os !== os) throw notSupported(`image ${refText} is for ${config.os}/${config.architecture}, not ${os}/${arch}`);
  if (config.architecture && arch && config.architecture !== arch) {
    throw notSupported(`image ${refText} is for ${config.os}/${config.architecture}, not ${os}/${arch}`, "give --platform to pull another one, if the image has it");
  }
}

/** Download one layer blob into the content store, verified; reports progress. Resolves true if the blob is new. */
async function download(store: ImageStore, registry: Registry, repo: string, layer: Descriptor, p: Progress): Promise<boolean> {
  if (store.blobs.has(layer.digest)) {
    p.status("Download complete", short(layer.digest));
    return false;
  }
  const id = short(layer.digest);
  const body = await registry.blob(repo, layer.digest, layer.size);
  let got = 0;
  async function* counted() {
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      got += chunk.length;
      p.progress("Downloading", id, got, layer.size);
      yield chunk;
    }
  }
  const r = await store.blobs.ingest(counted(), layer.digest);
  p.status("Verifying Checksum", id);
  p.status("Download complete", id);
  return r.created;
}

