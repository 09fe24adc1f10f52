// HTTP for the registry client: fetch with the system's CA store, redirects
// followed by hand (credentials never go to another origin), bounded
// retries with back-off for what is safe to send again, and the errors
// registries and token servers answer with.
import { existsSync, readFileSync } from "node:fs";
import { isBerthError, unavailable } from "../errors.ts";

export interface HttpRequest {
  method: string;
  headers: Record<string, string>;
  body?: Uint8Array | string;
}

// Where distributions keep their CA bundle (what `update-ca-certificates` and its kin write).
const CA_FILES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem"];
const caBundles = new Map<string, string>();

/**
 * The system's CA certificates, as Go and OpenSSL find them ($SSL_CERT_FILE
 * first): Bun's own store is Mozilla's alone, without the CAs an
 * administrator added. Undefined (Bun's store) when the system has none.
 */
function systemCa(): string | undefined {
  const file = process.env.SSL_CERT_FILE || CA_FILES.find((f) => existsSync(f));
  if (!file) return undefined;
  if (!caBundles.has(file)) caBundles.set(file, readFileSync(file, "utf8"));
  return caBundles.get(file);
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/** One request; redirects (blobs often live on a CDN) are followed without the Authorization header once they leave the origin. */
export async function send(url: string, req: HttpRequest): Promise<Response> {
  let { method, body } = req;
  const headers = { ...req.headers };
  for (let hops = 0; ; hops++) {
    const ca = url.startsWith("https:") ? systemCa() : undefined;
    const res = await fetch(url, { method, headers, body, redirect: "manual", ...(ca ? { tls: { ca } } : {}) });
    const location = res.headers.get("location");
    if (!REDIRECTS.has(res.status) || !location) return res;
    await res.body?.cancel();
    if (hops === MAX_REDIRECTS) throw unavailable(`${method} ${url}: more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, url);
    if (next.origin !== new URL(url).origin) delete headers.authorization;
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
      method = "GET";
      body = undefined;
    }
    url = next.href;
  }
}

/** 429 and 5xx but 501 (which will not change): worth asking again. */
export const transientStatus = (status: number) => status === 429 || (status >= 500 && status !== 501);

/** A failure of TLS verification: no retry mends it. */
const certificateFailure = (code: string) => /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|HOSTNAME_MISMATCH/.test(code);

/** The wait before retry `n` (0-based): 250 ms doubling to 4 s, with jitter so parallel downloads do not retry in step. */
export const backoff = (n: number) => Math.min(250 * 2 ** n, 4000) * (0.8 + Math.random() * 0.4);

/** Retry-After (seconds or a date), capped: a registry cannot make a pull wait for minutes. */
function retryAfter(res: Response, n: number): number {
  const value = res.headers.get("retry-after");
  const ms = value === null ? NaN : /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 10_000) : backoff(n);
}

export interface RetryPolicy {
  retries: number;
  /** Sent twice, it does no more than sent once: safe to send again. */
  idempotent: boolean;
  /** What the request is for, for messages ("manifest for docker.io/library/busybox:latest"). */
  subject: string;
  url: string;
}

/**
 * `attempt()`, retried with back-off on network errors and transient
 * statuses when the request is idempotent. Resolves to the last response
 * (a transient status once the retries are spent); a network error that
 * stays is an Unavailable error. BerthErrors `attempt` throws pass through.
 */
export async function withRetries(policy: RetryPolicy, attempt: () => Promise<Response>): Promise<Response> {
  for (let n = 0; ; n++) {
    let res: Response;
    try {
      res = await attempt();
    } catch (err) {
      if (isBerthError(err)) throw err;
      const code = String((err as { code?: unknown } | null)?.code ?? "");
      if (!certificateFailure(code) && policy.idempotent && n < policy.retries) {
        await Bun.sleep(backoff(n));
        continue;
      }
      throw networkError(err as Error, code, policy);
    }
    if (!transientStatus(res.status) || !policy.idempotent || n >= policy.retries) return res;
    await res.body?.cancel();
    await Bun.sleep(retryAfter(res, n));
  }
}

function networkError(err: Error, code: string, { subject, url }: RetryPolicy) {
  const origin = new URL(url).origin;
  if (certificateFailure(code)) {
    return unavailable(`${subject}: cannot verify the TLS certificate of ${origin}: ${code}`, "add the registry's CA certificate to the system's CA store (update-ca-certificates)");
  }
  return unavailable(`${subject}: cannot reach ${origin}: ${err.message}`, "check the network and that the registry is up; a registry without TLS must be listed in the insecure registries");
}

/** The body, or undefined (and the rest discarded) when it is larger than `max` bytes. */
export async function readLimited(res: Response, max: number): Promise<Uint8Array | undefined> {
  if (Number(res.headers.get("content-length") ?? 0) > max) {
    await res.body?.cancel();
    return undefined;
  }
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.length;
    if (size > max) return undefined; // leaving the loop cancels the body
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

export interface ErrorBody {
  /** The registry's error codes ("MANIFEST_UNKNOWN"), if it gave any. */
  codes: string[];
  /** "manifest unknown (MANIFEST_UNKNOWN)", a token server's message, or "HTTP 502 Bad Gateway". */
  text: string;
  /** The registry's messages alone. */
  messages: string[];
}

/**
 * What a failed response says: the distribution API's {"errors": [{code,
 * message, detail}]} (a detail that is text and not in `context` already,
 * such as the digest of a missing blob, is added), a token server's
 * {"details"} (Docker Hub) or OAuth2's {"error_description"}, else the status.
 */
export async function errorBody(res: Response, context = ""): Promise<ErrorBody> {
  const raw = await readLimited(res, 64 << 10).catch(() => undefined);
  let doc: { errors?: { code?: unknown; message?: unknown; detail?: unknown }[]; details?: unknown; error_description?: unknown; error?: unknown } | undefined;
  try {
    doc = raw?.length ? JSON.parse(new TextDecoder().decode(raw)) : undefined;
  } catch {
    // Not JSON: a proxy's page. The status says enough.
  }
  const codes: string[] = [];
  const messages: string[] = [];
  const parts: string[] = [];
  for (const e of Array.isArray(doc?.errors) ? doc.errors : []) {
    const code = typeof e?.code === "string" ? e.code : undefined;
    let message = typeof e?.message === "string" && e.message ? e.message : code?.toLowerCase().replaceAll("_", " ");
    if (message && typeof e.detail === "string" && e.detail && !context.includes(e.detail)) message += `: ${e.detail}`;
    if (code) codes.push(code);
    if (message) messages.push(message);
    if (message) parts.push(code ? `${message} (${code})` : message);
  }
  const other = [doc?.details, doc?.error_description, doc?.error].find((v): v is string => typeof v === "string" && v !== "");
  if (parts.length === 0 && other) {
    messages.push(other);
    parts.push(other);
  }
  return { codes, messages, text: parts.join("; ") || `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}` };
}
