// Push an image to a registry: each layer and the config only if the
// registry lacks it (HEAD first), mounted from another repository of the
// same registry when berth knows one that has it, else uploaded; then the
// manifest under the tag.
import { invalidArgument } from "../errors.ts";
import { familiarName, parseReference } from "./reference.ts";
import { Registry, type Credentials, type RegistryOptions } from "./registry.ts";
import { chainIds, repoDigestKey, type ImageStore } from "./store.ts";
import type { Progress } from "./progress.ts";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const CONCURRENT_UPLOADS = 5;

export interface PushOptions {
  registry: RegistryOptions;
  credentials?: Credentials;
  progress: Progress;
}

export async function pushImage(store: ImageStore, refText: string, opts: PushOptions): Promise<{ digest: string; size: number }> {
  const ref = parseReference(refText);
  if (ref.digest) throw invalidArgument(`cannot push a digest reference: "${refText}"`, "push a tag (NAME:TAG)");
  const image = store.resolve(refText);
  const p = opts.progress;
  // Credentials go to the reference's own registry only, never to a mirror.
  const registry = new Registry(ref.domain, { ...opts.registry, credentials: (host) => (host === ref.domain ? opts.credentials : undefined) });
  p.status(`The push refers to repository [${ref.domain}/${ref.path}]`);

  const blobs = chainIds(image.config.rootfs.diff_ids).map((chain) => {
    const row = store.layerRow(chain);
    return { digest: row.blob, size: row.blob_size };
  });
  for (const b of blobs) p.status("Preparing", short(b.digest));
  let next = 0;
  const worker = async () => {
    for (let b = blobs[next++]; b; b = blobs[next++]) await pushBlob(store, registry, ref.domain, ref.path, b, p);
  };
  await Promise.all(Array.from({ length: CONCURRENT_UPLOADS }, worker));
  const configSize = Bun.file(store.blobs.path(image.id)).size;
  await pushBlob(store, registry, ref.domain, ref.path, { digest: image.id, size: configSize }, p, false);

  const manifest = await new Response(store.blobs.read(image.manifestDigest) as unknown as ReadableStream).bytes();
  const digest = await registry.putManifest(ref.path, ref.tag!, manifest, OCI_MANIFEST);
  store.record(image.id, undefined, repoDigestKey(ref, digest));
  p.status(`${ref.tag}: digest: ${digest} size: ${manifest.length}`);
  return { digest, size: manifest.length };
}

const short = (digest: string) => digest.replace(/^sha256:/, "").slice(0, 12);

/** One blob: there already, mounted, or uploaded; `show` reports it as a layer. */
async function pushBlob(store: ImageStore, registry: Registry, domain: string, repo: string, b: { digest: string; size: number }, p: Progress, show = true) {
  const id = short(b.digest);
  const say = (s: string) => show && p.status(s, id);
  if (await registry.hasBlob(repo, b.digest)) {
    say("Layer already exists");
  } else {
    let mounted = false;
    for (const from of store.blobSources(b.digest, domain).filter((r) => r !== repo)) {
      if (await registry.mountBlob(repo, b.digest, from)) {
        say(`Mounted from ${familiarName(parseReference(`${domain}/${from}`)).replace(/:latest$/, "")}`);
        mounted = true;
        break;
      }
    }
    if (!mounted) {
      await registry.uploadBlob(repo, b.digest, b.size, () => {
        let sent = 0;
        const it = store.blobs.read(b.digest)[Symbol.asyncIterator]();
        // Pulled by the upload as it sends: never more than a chunk ahead.
        return new ReadableStream<Uint8Array>({
          async pull(ctl) {
            const n = await it.next();
            if (n.done) return ctl.close();
            sent += n.value.length;
            if (show) p.progress("Pushing", id, sent, b.size);
            ctl.enqueue(n.value);
          },
        });
      });
      say("Pushed");
    }
  }
  store.noteBlobSource(b.digest, domain, repo);
}
