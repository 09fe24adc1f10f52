// The OCI distribution client berth pulls and pushes with (the registry
// HTTP API v2 as Docker's client speaks it): manifests and indexes, blobs
// verified as they stream in and resumed after a broken connection,
// uploads, cross-repository mounts. Reads of docker.io go to its mirrors
// first. Authentication is in registry-auth.ts, retries and redirects in
// registry-http.ts.
import { BerthError, internal, invalidArgument, isKind, notFound, notSupported, unavailable, type ErrorKind } from "../errors.ts";
import { sha256 } from "./blobs.ts";
import { DEFAULT_DOMAIN } from "./reference.ts";
import { Auth, unauthorized, type Credentials } from "./registry-auth.ts";
import { backoff, errorBody, readLimited, send, transientStatus, withRetries } from "./registry-http.ts";

export type { Credentials } from "./registry-auth.ts";

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
const MANIFEST_TYPES = [OCI_MANIFEST, DOCKER_MANIFEST];
const INDEX_TYPES = [OCI_INDEX, DOCKER_MANIFEST_LIST];
const SCHEMA1 = /^application\/vnd\.docker\.distribution\.manifest\.v1\+(prettyjws|json)$/;
/** Docker's limit, and the least the OCI spec has registries accept. */
const MAX_MANIFEST = 4 << 20;
/** Uploads: a blob up to this size goes in one PUT; a larger one in PATCHes of this size (the memory an upload holds). */
const UPLOAD_CHUNK = 16 << 20;
const DOCKER_HUB_API = "https://registry-1.docker.io";
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const TAG = /^\w[\w.-]{0,127}$/;

export interface RegistryOptions {
  /** Reached over plain HTTP: these hosts (host:port, as a reference names them), and always localhost, 127.0.0.0/8 and ::1. */
  insecure?: string[];
  /** For docker.io only: mirror base URLs tried in order before docker.io itself (Docker's registry-mirrors). */
  mirrors?: string[];
  /** Asked once per host: the registry's domain, and each mirror's host:port. */
  credentials?: (domain: string) => Credentials | undefined;
  /** Transient failures (network errors, 5xx, 429) retried this many times with back-off (default 3). */
  retries?: number;
  userAgent?: string;
}

export interface Manifest {
  mediaType: string;
  digest: string;
  bytes: Uint8Array;
  /** Parsed; checked only for the fields that make it a manifest (config, layers) or an index (manifests). */
  json: any;
}

export interface Descriptor {
  digest: string;
  mediaType: string;
  size: number;
}

/** One base URL the API is reached at: the registry, or one of docker.io's mirrors. */
interface Endpoint {
  /** e.g. "https://registry-1.docker.io", "http://127.0.0.1:5000/prefix" */
  base: string;
  origin: string;
  /** For messages: "docker.io", a mirror's host. */
  name: string;
  auth: Auth;
}

interface Call {
  method: string;
  /** Under /v2/ of the endpoint, or `url` (an upload's Location). */
  path?: string;
  url?: string;
  scopes: string[];
  /** What it is for, in messages: "manifest for docker.io/library/busybox:latest". */
  subject: string;
  /** The statuses that are success; any other is an error. */
  expect: number[];
  idempotent: boolean;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Read the body (up to this many bytes) within the retries: a connection that breaks mid-body is retried too. */
  buffer?: number;
}

const pullScope = (repo: string) => `repository:${repo}:pull`;
const pushScope = (repo: string) => `repository:${repo}:pull,push`;

/** The kind of a registry error code, whatever the status it comes with; other codes go by the status. */
const KIND_OF_CODE: Record<string, ErrorKind> = {
  BLOB_UNKNOWN: "NotFound",
  BLOB_UPLOAD_UNKNOWN: "NotFound",
  MANIFEST_UNKNOWN: "NotFound",
  NAME_UNKNOWN: "NotFound",
  UNSUPPORTED: "NotSupported",
  // A manifest pushed before its blobs.
  MANIFEST_BLOB_UNKNOWN: "FailedPrecondition",
};

function kindOfStatus(status: number): ErrorKind {
  if (status === 404) return "NotFound";
  if (status === 401 || status === 403) return "PermissionDenied";
  if (status === 405 || status === 501) return "NotSupported";
  if (status === 409) return "Conflict";
  if (transientStatus(status)) return "Unavailable";
  return status >= 400 && status < 500 ? "InvalidArgument" : "Internal";
}

function checkDigest(digest: string) {
  if (!DIGEST.test(digest)) throw invalidArgument(`invalid digest "${digest}": berth handles sha256 digests (sha256:<64 hex digits>)`);
}

/** The API's base for a registry domain: https, but plain http for loopback and the insecure registries. */
function apiBase(domain: string, insecure: string[]): string {
  if (domain === DEFAULT_DOMAIN) return DOCKER_HUB_API;
  const host = domain.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
  const plain = host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || insecure.includes(domain);
  return `${plain ? "http" : "https"}://${domain}`;
}

export class Registry {
  private readonly home: Endpoint;
  /** Where reads come from, in order: docker.io's mirrors, then the registry itself. */
  private readonly sources: Endpoint[];
  /** Mirrors that failed to answer: not asked again by this client. */
  private readonly down = new Set<Endpoint>();
  private readonly retries: number;
  private readonly userAgent: string;

  /** `domain` as parseReference gives it: "docker.io", "ghcr.io", "127.0.0.1:5000". */
  constructor(
    readonly domain: string,
    opts: RegistryOptions = {},
  ) {
    this.retries = opts.retries ?? 3;
    this.userAgent = opts.userAgent ?? "berth";
    const endpoint = (base: string, name: string): Endpoint => {
      let url: URL;
      try {
        url = new URL(base);
      } catch {
        throw invalidArgument(`invalid registry address "${base}"`);
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") throw invalidArgument(`invalid registry address "${base}": it must be http:// or https://`);
      return { base: base.replace(/\/+$/, ""), origin: url.origin, name, auth: new Auth(name, opts.credentials?.(name), this.retries, this.userAgent) };
    };
    this.home = endpoint(apiBase(domain, opts.insecure ?? []), domain);
    const mirrors = domain === DEFAULT_DOMAIN ? (opts.mirrors ?? []) : [];
    this.sources = [...mirrors.map((m) => endpoint(m, URL.canParse(m) ? new URL(m).host : m)), this.home];
  }

  /** Check the credentials as `docker login` does: GET /v2/, answering the challenge. */
  async ping(): Promise<void> {
    const res = await this.request(this.home, { method: "GET", path: "", scopes: [], subject: `registry ${this.domain}`, expect: [200], idempotent: true });
    await res.body?.cancel();
  }

  /**
   * A manifest or index by tag or digest, with its media type and digest
   * (checked when asked by digest). OCI and Docker schema 2 manifests and
   * lists; schema 1 is refused.
   */
  async manifest(repo: string, ref: string): Promise<Manifest> {
    const byDigest = ref.includes(":");
    if (byDigest) checkDigest(ref);
    else if (!TAG.test(ref)) throw invalidArgument(`invalid tag "${ref}"`);
    const subject = `manifest for ${this.domain}/${repo}${byDigest ? "@" : ":"}${ref}`;
    return this.fromSources(async (ep) => {
      const res = await this.request(ep, {
        method: "GET",
        path: `${repo}/manifests/${ref}`,
        headers: { accept: [...MANIFEST_TYPES, ...INDEX_TYPES].join(", ") },
        scopes: [pullScope(repo)],
        subject,
        expect: [200],
        idempotent: true,
        buffer: MAX_MANIFEST,
      });
      const bytes = await res.bytes();
      const digest = sha256(bytes);
      if (byDigest && digest !== ref) throw invalidArgument(`${subject}: the registry sent a manifest whose digest is ${digest}`, "the registry's copy is corrupt, or something on the way altered it");
      let json;
      try {
        json = JSON.parse(new TextDecoder().decode(bytes));
      } catch (err) {
        throw invalidArgument(`${subject} is not valid JSON: ${(err as Error).message}`);
      }
      const mediaType = manifestType(res.headers.get("content-type"), json);
      if (SCHEMA1.test(mediaType) || json?.schemaVersion === 1) {
        throw notSupported(`${subject} is a Docker image manifest schema 1, which berth does not support`, "push the image again with a current docker or skopeo: they write schema 2");
      }
      const isIndex = INDEX_TYPES.includes(mediaType);
      if (!isIndex && !MANIFEST_TYPES.includes(mediaType)) throw notSupported(`${subject} has media type "${mediaType}": it is no image manifest or index`);
      if (isIndex ? !Array.isArray(json?.manifests) : typeof json?.config?.digest !== "string" || !Array.isArray(json.layers)) {
        throw invalidArgument(`${subject} is not a valid ${isIndex ? "image index" : "image manifest"}: it has no ${isIndex ? "manifests" : "config or layers"}`);
      }
      return { mediaType, digest, bytes, json };
    });
  }

  /**
   * The entry of an index (or manifest list) for `platform` ("linux/amd64",
   * "linux/arm64/v8"; variants normalised as containerd does: arm64 is
   * arm64/v8, arm is arm/v7). NotFound lists the platforms the index has.
   */
  static selectPlatform(index: { manifests?: unknown }, platform = "linux/amd64"): Descriptor {
    const [os, architecture, variant, extra] = platform.split("/");
    if (!os || !architecture || extra !== undefined) throw invalidArgument(`invalid platform "${platform}": expected os/arch[/variant], such as linux/arm64/v8`);
    if (!Array.isArray(index?.manifests)) throw invalidArgument("not an image index: it has no manifests");
    const entries = index.manifests as { digest?: unknown; mediaType?: unknown; size?: unknown; platform?: Platform }[];
    const want = platformKey({ os, architecture, variant });
    const found = entries.find((m) => m?.platform && platformKey(m.platform) === want);
    if (!found) {
      // unknown/unknown: the attestations BuildKit adds.
      const have = entries.map((m) => m?.platform).filter((p): p is Platform => !!p?.os && p.os !== "unknown");
      const list = have.map((p) => [p.os, p.architecture, p.variant].filter(Boolean).join("/")).join(", ");
      throw notFound(`no matching manifest for ${platform} in the manifest list entries: the image is for ${list || "no platform"}`);
    }
    if (typeof found.digest !== "string" || !DIGEST.test(found.digest) || typeof found.size !== "number") {
      throw invalidArgument(`the index entry for ${platform} is invalid: ${JSON.stringify({ digest: found.digest, size: found.size })}`);
    }
    return { digest: found.digest, mediaType: typeof found.mediaType === "string" ? found.mediaType : OCI_MANIFEST, size: found.size };
  }

  /**
   * A blob's bytes as they stream in. The stream fails, rather than end,
   * if they do not hash to `digest` or their count differs from `size`.
   */
  async blob(repo: string, digest: string, size?: number): Promise<ReadableStream<Uint8Array>> {
    checkDigest(digest);
    const subject = `blob ${digest} in ${this.domain}/${repo}`;
    return this.fromSources(async (ep) => {
      const get = (range?: string) =>
        this.request(ep, {
          method: "GET",
          path: `${repo}/blobs/${digest}`,
          scopes: [pullScope(repo)],
          subject,
          expect: range ? [200, 206] : [200],
          idempotent: true,
          headers: range ? { range } : undefined,
        });
      const first = await get();
      const length = first.headers.get("content-length");
      if (size !== undefined && length !== null && Number(length) !== size) {
        await first.body?.cancel();
        throw invalidArgument(`${subject}: the registry has ${length} bytes, the manifest says ${size}`);
      }
      // Resumed by a Range request where the registry takes them, else from the start.
      const ranges = /\bbytes\b/.test(first.headers.get("accept-ranges") ?? "");
      return verifiedStream(first, { subject, digest, size: size ?? (length === null ? undefined : Number(length)) }, (from) => get(ranges ? `bytes=${from}-` : undefined), this.retries);
    });
  }

  /** Whether the registry has the blob in `repo` (HEAD). */
  async hasBlob(repo: string, digest: string): Promise<boolean> {
    checkDigest(digest);
    const subject = `blob ${digest} in ${this.domain}/${repo}`;
    const res = await this.request(this.home, { method: "HEAD", path: `${repo}/blobs/${digest}`, scopes: [pullScope(repo)], subject, expect: [200, 404], idempotent: true });
    return res.status === 200;
  }

  /** Mount a blob of `fromRepo` (same registry) into `repo`: true if the registry did, false if the blob must be uploaded. */
  async mountBlob(repo: string, digest: string, fromRepo: string): Promise<boolean> {
    checkDigest(digest);
    const res = await this.request(this.home, {
      method: "POST",
      path: `${repo}/blobs/uploads/?mount=${digest}&from=${encodeURIComponent(fromRepo)}`,
      scopes: [pushScope(repo), pullScope(fromRepo)],
      subject: `mount of blob ${digest} from ${this.domain}/${fromRepo} into ${repo}`,
      expect: [201, 202],
      // Sent twice, it mounts once, or opens one more upload (which the registry purges).
      idempotent: true,
    });
    await res.body?.cancel();
    if (res.status === 201) return true;
    // 202: the registry opened an upload instead; it is not wanted.
    const location = res.headers.get("location");
    if (location) await this.abandon(new URL(location, res.url).href, pushScope(repo));
    return false;
  }

  /**
   * Upload a blob: POST, then PUT ?digest= with the bytes (PATCHes before
   * it for a blob larger than a chunk). The bytes are checked against
   * `size` and `digest` before the PUT, and the registry's answer after it.
   * A failed upload is begun again with a new `body()`, within the retries.
   */
  async uploadBlob(repo: string, digest: string, size: number, body: () => ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    checkDigest(digest);
    const subject = `upload of blob ${digest} to ${this.domain}/${repo}`;
    for (let n = 0; ; n++) {
      try {
        return await this.upload(repo, digest, size, body, subject);
      } catch (err) {
        if (!isKind(err, "Unavailable") || n >= this.retries) throw err;
        await Bun.sleep(backoff(n));
      }
    }
  }

  /** Put a manifest under a tag (or its digest); resolves to its digest, checked against the registry's. */
  async putManifest(repo: string, ref: string, bytes: Uint8Array, mediaType: string): Promise<string> {
    const digest = sha256(bytes);
    if (ref.includes(":") && ref !== digest) throw invalidArgument(`cannot put a manifest under digest ${ref}: its digest is ${digest}`);
    if (!ref.includes(":") && !TAG.test(ref)) throw invalidArgument(`invalid tag "${ref}"`);
    const subject = `push of manifest ${this.domain}/${repo}:${ref}`;
    const res = await this.request(this.home, {
      method: "PUT",
      path: `${repo}/manifests/${ref}`,
      headers: { "content-type": mediaType },
      body: bytes,
      scopes: [pushScope(repo)],
      subject,
      expect: [201],
      idempotent: true,
    });
    await res.body?.cancel();
    const stored = res.headers.get("docker-content-digest");
    if (stored && stored !== digest) throw internal(`${subject}: the registry stored it as ${stored}, not ${digest}`);
    return digest;
  }

  // ---------------------------------------------------------------- internals

  private async upload(repo: string, digest: string, size: number, body: () => ReadableStream<Uint8Array> | Uint8Array, subject: string): Promise<void> {
    const call = { scopes: [pushScope(repo)], subject, idempotent: false };
    const started = await this.request(this.home, { ...call, method: "POST", path: `${repo}/blobs/uploads/`, expect: [202] });
    await started.body?.cancel();
    let at = uploadLocation(started, subject);
    try {
      const hash = new Bun.CryptoHasher("sha256");
      let offset = 0;
      // Every chunk but the last goes by PATCH; the last (all of a small blob) with the PUT.
      let last: Uint8Array | undefined;
      // Made once the upload is open; leaving the loop early cancels it.
      for await (const chunk of chunks(body(), UPLOAD_CHUNK)) {
        const end = offset + chunk.length;
        if (last || end > size) throw invalidArgument(`${subject}: the blob has more than the ${size} bytes announced`);
        hash.update(chunk);
        if (end === size) {
          last = chunk;
          continue;
        }
        const res = await this.request(this.home, { ...call, method: "PATCH", url: at, headers: { "content-type": "application/octet-stream", "content-range": `${offset}-${end - 1}` }, body: chunk, expect: [202] });
        await res.body?.cancel();
        const range = res.headers.get("range");
        if (range && range.replace(/^bytes=/, "") !== `0-${end - 1}`) throw unavailable(`${subject}: after ${end} bytes the registry holds ${range}`);
        at = uploadLocation(res, subject);
        offset = end;
      }
      if (!last && size > 0) throw invalidArgument(`${subject}: the blob has ${offset} bytes, not the ${size} announced`);
      const got = `sha256:${hash.digest("hex")}`;
      if (got !== digest) throw invalidArgument(`${subject}: the bytes given hash to ${got}`);
      const put = new URL(at);
      put.searchParams.set("digest", digest);
      const res = await this.request(this.home, { ...call, method: "PUT", url: put.href, headers: { "content-type": "application/octet-stream" }, body: last ?? new Uint8Array(0), expect: [201] });
      await res.body?.cancel();
      const stored = res.headers.get("docker-content-digest");
      if (stored && stored !== digest) throw internal(`${subject}: the registry stored it as ${stored}`);
    } catch (err) {
      await this.abandon(at, pushScope(repo));
      throw err;
    }
  }

  /** Cancel an upload berth will not finish (best effort: the registry purges stale ones anyway). */
  private async abandon(url: string, scope: string) {
    try {
      const res = await this.request(this.home, { method: "DELETE", url, scopes: [scope], subject: `cancel of upload ${url}`, expect: [204, 404], idempotent: false });
      await res.body?.cancel();
    } catch {
      // Left for the registry's purge.
    }
  }

  /** A read from the first source that answers it. As with Docker, any failure at a mirror moves on to the next source. */
  private async fromSources<T>(read: (ep: Endpoint) => Promise<T>): Promise<T> {
    const sources = this.sources.filter((ep) => !this.down.has(ep));
    for (const ep of sources.slice(0, -1)) {
      try {
        return await read(ep);
      } catch (err) {
        if (isKind(err, "Unavailable")) this.down.add(ep);
      }
    }
    return read(sources.at(-1)!);
  }

  /** A call, authenticated and retried; a status it does not expect is an error. */
  private async request(ep: Endpoint, c: Call): Promise<Response> {
    const url = c.url ?? `${ep.base}/v2/${c.path}`;
    const res = await withRetries({ retries: this.retries, idempotent: c.idempotent, subject: c.subject, url }, async () => {
      const res = await this.authorized(ep, url, c);
      if (c.buffer === undefined || !c.expect.includes(res.status)) return res;
      const bytes = await readLimited(res, c.buffer);
      if (!bytes) throw invalidArgument(`${c.subject} is larger than ${c.buffer} bytes`);
      return new Response(bytes, { status: res.status, headers: res.headers });
    });
    if (c.expect.includes(res.status)) return res;
    const body = await errorBody(res, c.subject);
    if (res.status === 401) throw unauthorized(ep.name, body.messages, ep.auth.hasCredentials);
    const kind = body.codes.map((code) => KIND_OF_CODE[code]).find(Boolean) ?? kindOfStatus(res.status);
    const hint = res.status === 429 ? "the registry limits how many requests it takes: wait, or log in for a higher limit" : undefined;
    throw new BerthError(kind, `${c.subject}${kind === "NotFound" ? " not found" : ""}: ${body.text}`, hint);
  }

  /** Send with the endpoint's credentials; after a 401 that says how to authenticate, once more. */
  private async authorized(ep: Endpoint, url: string, c: Call): Promise<Response> {
    // Credentials go to the endpoint's own origin only (an upload's Location may lead elsewhere).
    const ours = new URL(url).origin === ep.origin;
    // Blobs are hashed as they come, and resumed by byte offset: no transfer compression.
    const headers = { "user-agent": this.userAgent, "accept-encoding": "identity", ...c.headers };
    const attempt = async () => {
      const auth = ours ? await ep.auth.header(c.scopes) : undefined;
      return { auth, res: await send(url, { method: c.method, headers: auth ? { ...headers, authorization: auth } : headers, body: c.body }) };
    };
    const first = await attempt();
    if (first.res.status !== 401 || !ours || !ep.auth.challenged(first.res.headers.get("www-authenticate"), c.scopes, first.auth)) return first.res;
    await first.res.body?.cancel();
    return (await attempt()).res;
  }
}

interface Platform {
  os?: string;
  architecture?: string;
  variant?: string;
}

const ARCH_ALIASES: Record<string, [string, string?]> = { x86_64: ["amd64"], "x86-64": ["amd64"], aarch64: ["arm64"], armhf: ["arm", "v7"], armel: ["arm", "v6"], i386: ["386"] };
/** The variant an architecture means when it names none. */
const DEFAULT_VARIANT: Record<string, string> = { amd64: "v1", arm64: "v8", arm: "v7" };

/** "os/arch/variant", normalised: linux/aarch64 and linux/arm64/8 are both linux/arm64/v8. */
function platformKey(p: Platform): string {
  const [arch, aliasVariant] = ARCH_ALIASES[p.architecture?.toLowerCase() ?? ""] ?? [p.architecture?.toLowerCase() ?? ""];
  let variant = (p.variant || aliasVariant || DEFAULT_VARIANT[arch] || "").toLowerCase();
  if (/^\d+$/.test(variant)) variant = `v${variant}`;
  return `${p.os?.toLowerCase()}/${arch}/${variant}`;
}

/** The media type of a manifest: its Content-Type, else the one it names, else what its shape says (OCI 1.0 let it out). */
function manifestType(contentType: string | null, json: { mediaType?: unknown; manifests?: unknown } | undefined): string {
  const header = contentType?.split(";")[0]!.trim().toLowerCase();
  if (header && !["application/json", "text/plain", "application/octet-stream"].includes(header)) return header;
  if (typeof json?.mediaType === "string") return json.mediaType;
  return Array.isArray(json?.manifests) ? OCI_INDEX : OCI_MANIFEST;
}

/** Where an upload goes on: the answer's Location, resolved against the request's URL. */
function uploadLocation(res: { headers: Headers; url: string }, subject: string): string {
  const location = res.headers.get("location");
  if (!location) throw unavailable(`${subject}: the registry answered without the upload's Location`);
  return new URL(location, res.url).href;
}

/** `body` in pieces of `n` bytes (the last one shorter). */
async function* chunks(body: ReadableStream<Uint8Array> | Uint8Array, n: number): AsyncGenerator<Uint8Array> {
  if (body instanceof Uint8Array) {
    for (let off = 0; off < body.length; off += n) yield body.subarray(off, off + n);
    return;
  }
  let parts: Uint8Array[] = [];
  let fill = 0;
  for await (let part of body) {
    while (fill + part.length >= n) {
      parts.push(part.subarray(0, n - fill));
      part = part.subarray(n - fill);
      yield Buffer.concat(parts);
      parts = [];
      fill = 0;
    }
    if (part.length > 0) {
      parts.push(part);
      fill += part.length;
    }
  }
  if (fill > 0) yield Buffer.concat(parts);
}

/**
 * The body of `first`, hashed as it passes: the stream errors, rather than
 * end, unless the bytes hash to `digest` (and number `size`, when known). A
 * connection that breaks (or ends short of `size`) is taken up again by
 * `again(offset)`: a 206 goes on from the offset; a 200 starts over, and
 * the bytes already passed on are skipped.
 */
function verifiedStream(first: Response, check: { subject: string; digest: string; size?: number }, again: (offset: number) => Promise<Response>, retries: number): ReadableStream<Uint8Array> {
  const { subject, digest, size } = check;
  const hash = new Bun.CryptoHasher("sha256");
  let reader = first.body!.getReader();
  let received = 0;
  let skip = 0;
  let breaks = 0;
  const resume = async (cause: string) => {
    if (breaks >= retries) throw unavailable(`${subject}: the download broke ${breaks + 1} times, the last at byte ${received} (${cause})`);
    await Bun.sleep(backoff(breaks++));
    const res = await again(received);
    const range = res.headers.get("content-range");
    if (res.status === 206 && !range?.startsWith(`bytes ${received}-`)) {
      await res.body?.cancel();
      throw unavailable(`${subject}: asked to resume at byte ${received}, the registry sent ${range}`);
    }
    skip = res.status === 206 ? 0 : received;
    reader = res.body!.getReader();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        for (;;) {
          let r: Awaited<ReturnType<typeof reader.read>>;
          try {
            r = await reader.read();
          } catch (err) {
            await resume((err as Error).message);
            continue;
          }
          if (r.done) {
            if (size !== undefined && received < size) {
              await resume(`the connection ended after ${received} of ${size} bytes`);
              continue;
            }
            const got = `sha256:${hash.digest("hex")}`;
            if (got !== digest) throw invalidArgument(`${subject}: digest mismatch: the bytes received hash to ${got}`, "the registry's copy is corrupt, or something on the way altered it");
            controller.close();
            return;
          }
          let chunk = r.value;
          if (skip > 0) {
            const n = Math.min(skip, chunk.length);
            skip -= n;
            chunk = chunk.subarray(n);
            if (chunk.length === 0) continue;
          }
          received += chunk.length;
          if (size !== undefined && received > size) throw invalidArgument(`${subject}: the registry sent more than the ${size} bytes expected`);
          hash.update(chunk);
          controller.enqueue(chunk);
          return;
        }
      } catch (err) {
        await reader.cancel().catch(() => {});
        controller.error(err);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
