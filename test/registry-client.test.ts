// The OCI distribution client (core/images/registry.ts) against real
// registries: Debian's docker-registry (distribution 2.8) started per
// group on 127.0.0.1, plain, with htpasswd, and with token auth from a
// token server here; a proxy here for transient failures; mirrors for
// docker.io, over plain HTTP and TLS. Nothing but 127.0.0.1 is contacted.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import type { BerthError } from "../core/errors.ts";
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST, Registry } from "../core/images/registry.ts";
import { parseChallenges } from "../core/images/registry-auth.ts";
import { blobDataPath, freePort, startRegistry, type TestRegistry } from "./helpers/docker-registry.ts";
import { tarBytes } from "./helpers/tar-writer.ts";

const enc = new TextEncoder();
const sha = (b: Uint8Array | string) => `sha256:${new Bun.CryptoHasher("sha256").update(b).digest("hex")}`;
const bytesOf = async (s: ReadableStream<Uint8Array>) => new Uint8Array(await new Response(s).arrayBuffer());
const json = (v: unknown) => enc.encode(JSON.stringify(v));
const thrown = (f: () => unknown): BerthError => {
  try {
    f();
  } catch (err) {
    return err as BerthError;
  }
  throw new Error("it did not throw");
};
/** `n` random bytes (getRandomValues fills 64 KiB at most). */
function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) crypto.getRandomValues(out.subarray(off, off + 65536));
  return out;
}
const sh = (cmd: string[]) => {
  const r = Bun.spawnSync(cmd, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr}`);
  return r.stdout.toString();
};

interface TestImage {
  config: Uint8Array;
  layer: Uint8Array;
  manifest: Uint8Array;
  mediaType: string;
}

/** A one-layer image: OCI, or Docker schema 2 (with a gzipped layer, as Docker pushes). */
function makeImage(arch: string, variant: string | undefined, format: "oci" | "docker"): TestImage {
  const tar = tarBytes([{ name: "etc/hello", body: `hello from ${arch}\n` }]);
  const layer = format === "docker" ? Bun.gzipSync(tar as Uint8Array<ArrayBuffer>) : tar;
  const config = json({ architecture: arch, ...(variant ? { variant } : {}), os: "linux", config: { Cmd: ["/bin/hello"] }, rootfs: { type: "layers", diff_ids: [sha(tar)] }, history: [{ created_by: "test" }] });
  const types =
    format === "oci"
      ? { manifest: OCI_MANIFEST, config: "application/vnd.oci.image.config.v1+json", layer: "application/vnd.oci.image.layer.v1.tar" }
      : { manifest: DOCKER_MANIFEST, config: "application/vnd.docker.container.image.v1+json", layer: "application/vnd.docker.image.rootfs.diff.tar.gzip" };
  const manifest = json({
    schemaVersion: 2,
    mediaType: types.manifest,
    config: { mediaType: types.config, digest: sha(config), size: config.length },
    layers: [{ mediaType: types.layer, digest: sha(layer), size: layer.length }],
  });
  return { config, layer, manifest, mediaType: types.manifest };
}

async function pushImage(reg: Registry, repo: string, img: TestImage, tag: string): Promise<string> {
  for (const blob of [img.config, img.layer]) await reg.uploadBlob(repo, sha(blob), blob.length, () => blob);
  return reg.putManifest(repo, tag, img.manifest, img.mediaType);
}

/** A self-signed certificate for 127.0.0.1 (TLS) that also signs tokens. */
function selfSigned(dir: string) {
  sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`, "-days", "2", "-subj", "/CN=berth-test", "-addext", "subjectAltName=IP:127.0.0.1"]);
  return { key: `${dir}/key.pem`, cert: `${dir}/cert.pem` };
}

const pemBody = (pem: string) => pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");

// ------------------------------------------------------------------ plain

describe("a plain registry", () => {
  let R: TestRegistry;
  beforeAll(async () => {
    R = await startRegistry();
  });
  afterAll(() => R?.stop());

  test("OCI and Docker manifests, an index and a manifest list go up and come back", async () => {
    const reg = new Registry(R.domain);
    const amd = makeImage("amd64", undefined, "oci");
    const arm = makeImage("arm64", "v8", "docker");
    expect(await reg.hasBlob("app", sha(amd.layer))).toBe(false);
    const amdDigest = await pushImage(reg, "app", amd, "amd64");
    const armDigest = await pushImage(reg, "app", arm, "arm64");
    expect(amdDigest).toBe(sha(amd.manifest));
    expect(armDigest).toBe(sha(arm.manifest));
    expect(await reg.hasBlob("app", sha(amd.layer))).toBe(true);
    expect(await reg.hasBlob("app", sha(arm.config))).toBe(true);

    const entries = [
      { mediaType: OCI_MANIFEST, digest: amdDigest, size: amd.manifest.length, platform: { architecture: "amd64", os: "linux" } },
      { mediaType: DOCKER_MANIFEST, digest: armDigest, size: arm.manifest.length, platform: { architecture: "arm64", os: "linux", variant: "v8" } },
    ];
    const index = json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries });
    const list = json({ schemaVersion: 2, mediaType: DOCKER_MANIFEST_LIST, manifests: entries });
    expect(await reg.putManifest("app", "multi", index, OCI_INDEX)).toBe(sha(index));
    expect(await reg.putManifest("app", "list", list, DOCKER_MANIFEST_LIST)).toBe(sha(list));

    const byTag = await reg.manifest("app", "amd64");
    expect(byTag.mediaType).toBe(OCI_MANIFEST);
    expect(byTag.digest).toBe(amdDigest);
    expect(byTag.bytes).toEqual(amd.manifest);
    expect(byTag.json.config.digest).toBe(sha(amd.config));
    const byDigest = await reg.manifest("app", amdDigest);
    expect([byDigest.mediaType, byDigest.digest, byDigest.bytes]).toEqual([OCI_MANIFEST, amdDigest, amd.manifest]);
    expect((await reg.manifest("app", "arm64")).mediaType).toBe(DOCKER_MANIFEST);

    const top = await reg.manifest("app", "multi");
    expect([top.mediaType, top.digest]).toEqual([OCI_INDEX, sha(index)]);
    expect(Registry.selectPlatform(top.json)).toEqual({ digest: amdDigest, mediaType: OCI_MANIFEST, size: amd.manifest.length });
    const armEntry = { digest: armDigest, mediaType: DOCKER_MANIFEST, size: arm.manifest.length };
    expect(Registry.selectPlatform(top.json, "linux/arm64")).toEqual(armEntry);
    expect(Registry.selectPlatform(top.json, "linux/arm64/v8")).toEqual(armEntry);
    expect(Registry.selectPlatform(top.json, "linux/aarch64")).toEqual(armEntry);
    const none = thrown(() => Registry.selectPlatform(top.json, "linux/s390x"));
    expect({ kind: none.kind, message: none.message }).toEqual({
      kind: "NotFound",
      message: "no matching manifest for linux/s390x in the manifest list entries: the image is for linux/amd64, linux/arm64/v8",
    });
    expect(thrown(() => Registry.selectPlatform(top.json, "linux/arm64/v7")).kind).toBe("NotFound");
    expect(thrown(() => Registry.selectPlatform(top.json, "arm64")).kind).toBe("InvalidArgument");
    const docker = await reg.manifest("app", "list");
    expect([docker.mediaType, Registry.selectPlatform(docker.json, "linux/arm64").digest]).toEqual([DOCKER_MANIFEST_LIST, armDigest]);

    // The layers come back whole and verified, with their size or without.
    expect(await bytesOf(await reg.blob("app", sha(amd.layer), amd.layer.length))).toEqual(amd.layer);
    expect(await bytesOf(await reg.blob("app", sha(arm.layer)))).toEqual(arm.layer);

    // A standard client reads what berth pushed: skopeo checks every digest as it copies all platforms.
    expect(sh(["skopeo", "inspect", "--raw", "--tls-verify=false", `docker://${R.domain}/app:multi`])).toBe(new TextDecoder().decode(index));
    const out = mkdtempSync(`${tmpdir()}/berth-skopeo-`);
    try {
      sh(["skopeo", "copy", "--insecure-policy", "--all", "--src-tls-verify=false", `docker://${R.domain}/app:multi`, `oci:${out}:x`]);
      expect(readFileSync(`${out}/blobs/${sha(arm.layer).replace(":", "/")}`)).toEqual(Buffer.from(arm.layer));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  test("a stream larger than a chunk goes up in PATCHes, then a PUT with the rest", async () => {
    const reg = new Registry(R.domain);
    const data = random(20 << 20);
    const digest = sha(data);
    let made = 0;
    // 1,000,000-byte pieces: the 16 MiB chunks cut across them.
    const body = () => {
      made++;
      let off = 0;
      return new ReadableStream<Uint8Array>({
        pull(c) {
          if (off >= data.length) return c.close();
          c.enqueue(data.slice(off, off + 1_000_000));
          off += 1_000_000;
        },
      });
    };
    await reg.uploadBlob("big", digest, data.length, body);
    expect(made).toBe(1);
    const upload = (await R.served((r) => r.method === "PUT" && r.uri.startsWith("/v2/big/blobs/uploads/"))).map((r) => r.status);
    expect(upload).toEqual([201]);
    expect(R.requests().filter((r) => r.uri.startsWith("/v2/big/blobs/uploads/")).map((r) => `${r.method} ${r.status}`)).toEqual(["POST 202", "PATCH 202", "PUT 201"]);
    const back = await bytesOf(await reg.blob("big", digest, data.length));
    expect(back.length).toBe(data.length);
    expect(sha(back)).toBe(digest);
  });

  test("blobs mount across repositories; a blob the source lacks is not mounted", async () => {
    const reg = new Registry(R.domain);
    const blob = random(4096);
    await reg.uploadBlob("src", sha(blob), blob.length, () => blob);
    expect(await reg.hasBlob("dst", sha(blob))).toBe(false);
    expect(await reg.mountBlob("dst", sha(blob), "src")).toBe(true);
    expect(await reg.hasBlob("dst", sha(blob))).toBe(true);
    expect(await bytesOf(await reg.blob("dst", sha(blob)))).toEqual(blob);

    const absent = sha("not pushed anywhere");
    expect(await reg.mountBlob("dst2", absent, "src")).toBe(false);
    expect(await reg.hasBlob("dst2", absent)).toBe(false);
    // The upload the registry opened instead is cancelled.
    expect((await R.served((r) => r.method === "DELETE" && r.uri.startsWith("/v2/dst2/blobs/uploads/"))).map((r) => r.status)).toEqual([204]);
  });

  test("what is missing is NotFound in the registry's words; bad input is refused before it is sent", async () => {
    const reg = new Registry(R.domain);
    await expect(reg.manifest("app", "missing")).rejects.toMatchObject({ kind: "NotFound", message: `manifest for ${R.domain}/app:missing not found: manifest unknown (MANIFEST_UNKNOWN)` });
    const absent = sha("absent");
    await expect(reg.manifest("nothing/here", absent)).rejects.toMatchObject({ kind: "NotFound", message: `manifest for ${R.domain}/nothing/here@${absent} not found: manifest unknown (MANIFEST_UNKNOWN)` });
    await expect(reg.blob("app", absent)).rejects.toMatchObject({ kind: "NotFound", message: `blob ${absent} in ${R.domain}/app not found: blob unknown to registry (BLOB_UNKNOWN)` });

    // A manifest before its blobs: the registry refuses it.
    const img = makeImage("amd64", undefined, "oci");
    await expect(reg.putManifest("early", "v1", img.manifest, OCI_MANIFEST)).rejects.toMatchObject({
      kind: "FailedPrecondition",
      message: `push of manifest ${R.domain}/early:v1: ${[img.config, img.layer].map((b) => `blob unknown to registry: ${sha(b)} (MANIFEST_BLOB_UNKNOWN)`).join("; ")}`,
    });
    // Bytes that are not the digest, or not the size, never get stored.
    const blob = random(1000);
    await expect(reg.uploadBlob("early", absent, blob.length, () => blob)).rejects.toMatchObject({ kind: "InvalidArgument", message: `upload of blob ${absent} to ${R.domain}/early: the bytes given hash to ${sha(blob)}` });
    await expect(reg.uploadBlob("early", sha(blob), 999, () => blob)).rejects.toMatchObject({ kind: "InvalidArgument", message: `upload of blob ${sha(blob)} to ${R.domain}/early: the blob has more than the 999 bytes announced` });
    await expect(reg.uploadBlob("early", sha(blob), 1001, () => blob)).rejects.toMatchObject({ kind: "InvalidArgument", message: `upload of blob ${sha(blob)} to ${R.domain}/early: the blob has 1000 bytes, not the 1001 announced` });
    expect(await reg.hasBlob("early", sha(blob))).toBe(false);
    await expect(reg.putManifest("early", absent, img.manifest, OCI_MANIFEST)).rejects.toMatchObject({ kind: "InvalidArgument" });
    await expect(reg.manifest("app", "sha256:abc")).rejects.toMatchObject({ kind: "InvalidArgument" });
  });

  test("a Docker schema 1 manifest is refused as NotSupported", async () => {
    const S = await startRegistry({ config: { compatibility: { schema1: { enabled: true } } } });
    try {
      const reg = new Registry(S.domain);
      await pushImage(reg, "old", makeImage("amd64", undefined, "docker"), "v2");
      // skopeo still writes schema 1 (signed, as docker 1.9 did); distribution 2.8 takes it when told to.
      sh(["skopeo", "copy", "--insecure-policy", "--src-tls-verify=false", "--dest-tls-verify=false", "--format", "v2s1", `docker://${S.domain}/old:v2`, `docker://${S.domain}/old:v1`]);
      await expect(reg.manifest("old", "v1")).rejects.toMatchObject({ kind: "NotSupported", message: `manifest for ${S.domain}/old:v1 is a Docker image manifest schema 1, which berth does not support` });
    } finally {
      await S.stop();
    }
  });

  test("a blob corrupted in the registry's storage fails the stream, naming the digest", async () => {
    const reg = new Registry(R.domain);
    const blob = random(300_000);
    const digest = sha(blob);
    await reg.uploadBlob("corrupt", digest, blob.length, () => blob);
    const bad = blob.slice();
    bad[150_000] = bad[150_000]! ^ 0xff;
    writeFileSync(blobDataPath(R.storage, digest), bad);
    await expect(bytesOf(await reg.blob("corrupt", digest, blob.length))).rejects.toMatchObject({
      kind: "InvalidArgument",
      message: `blob ${digest} in ${R.domain}/corrupt: digest mismatch: the bytes received hash to ${sha(bad)}`,
    });
    // Shorter than the manifest says: refused before a byte.
    writeFileSync(blobDataPath(R.storage, digest), blob.subarray(0, 1000));
    await expect(reg.blob("corrupt", digest, blob.length)).rejects.toMatchObject({
      kind: "InvalidArgument",
      message: `blob ${digest} in ${R.domain}/corrupt: the registry has 1000 bytes, the manifest says ${blob.length}`,
    });
  });
});

// ------------------------------------------------------------------ basic auth

describe("a registry with htpasswd (Basic) auth", () => {
  let R: TestRegistry;
  let dir: string;
  const alice = { username: "alice", password: "s3cret" };
  beforeAll(async () => {
    dir = mkdtempSync(`${tmpdir()}/berth-htpasswd-`);
    // Bun writes $2b$; Go's bcrypt takes it (the good login below shows it).
    writeFileSync(`${dir}/htpasswd`, `alice:${await Bun.password.hash(alice.password, { algorithm: "bcrypt" })}\n`);
    R = await startRegistry({ auth: { htpasswd: { realm: "berth-test", path: `${dir}/htpasswd` } } });
  });
  afterAll(async () => {
    await R?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("ping passes with good credentials, is PermissionDenied with bad ones", async () => {
    const asked: string[] = [];
    await new Registry(R.domain, { credentials: (d) => (asked.push(d), alice) }).ping();
    expect(asked).toEqual([R.domain]);
    await expect(new Registry(R.domain, { credentials: () => ({ ...alice, password: "wrong" }) }).ping()).rejects.toMatchObject({
      kind: "PermissionDenied",
      message: `unauthorized: authentication required for ${R.domain}`,
      hint: `check the username and password for ${R.domain}`,
    });
  });

  test("anonymous pulls are refused; with credentials, push and pull work, Basic sent from the first challenge on", async () => {
    const before = R.refusals();
    const reg = new Registry(R.domain, { credentials: () => alice });
    const img = makeImage("amd64", undefined, "oci");
    const digest = await pushImage(reg, "private", img, "v1");
    expect((await reg.manifest("private", "v1")).digest).toBe(digest);
    expect(await bytesOf(await reg.blob("private", sha(img.layer)))).toEqual(img.layer);
    await R.served((r) => r.uri.startsWith(`/v2/private/blobs/${sha(img.layer)}`));
    expect(R.refusals() - before).toBe(1);

    await expect(new Registry(R.domain).manifest("private", "v1")).rejects.toMatchObject({
      kind: "PermissionDenied",
      message: `unauthorized: authentication required for ${R.domain}`,
      hint: `log in to ${R.domain} first`,
    });
  });
});

// ------------------------------------------------------------------ token auth

describe("a registry with token (Bearer) auth", () => {
  const SERVICE = "berth-test-registry";
  const ISSUER = "berth-test-issuer";
  let R: TestRegistry;
  let dir: string;
  let tokens: ReturnType<typeof Bun.serve>;
  /** The token requests, as the token server saw them. */
  let seen: { method: string; user: string | null; account: string | null; scopes: string[] }[] = [];
  const alice = { username: "alice", password: "s3cret" };
  // Tokens for "brief" last one second.
  const brief = { username: "brief", password: "s3cret" };

  beforeAll(async () => {
    dir = mkdtempSync(`${tmpdir()}/berth-token-`);
    const { key, cert } = selfSigned(dir);
    const signer = await crypto.subtle.importKey("pkcs8", Buffer.from(pemBody(readFileSync(key, "utf8")), "base64"), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
    const b64url = (b: Uint8Array | string) => Buffer.from(b).toString("base64url");
    // distribution 2.8 takes the signing key from the header's x5c chain, checked against rootcertbundle.
    const header = b64url(JSON.stringify({ typ: "JWT", alg: "RS256", x5c: [pemBody(readFileSync(cert, "utf8"))] }));
    const jwt = async (claims: object) => {
      const payload = `${header}.${b64url(JSON.stringify(claims))}`;
      return `${payload}.${b64url(new Uint8Array(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", signer, enc.encode(payload))))}`;
    };
    const basic = (c: { username: string; password: string }) => `Basic ${btoa(`${c.username}:${c.password}`)}`;
    tokens = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const url = new URL(req.url);
        let user: string | null = null;
        let scopes: string[];
        let service: string | null;
        if (req.method === "POST") {
          const form = new URLSearchParams(await req.text());
          if (form.get("grant_type") === "refresh_token" && form.get("refresh_token") === "alice-refresh") user = "alice";
          scopes = form.get("scope")?.split(" ") ?? [];
          service = form.get("service");
        } else {
          const auth = req.headers.get("authorization");
          user = auth === basic(alice) ? "alice" : auth === basic(brief) ? "brief" : null;
          scopes = url.searchParams.getAll("scope");
          service = url.searchParams.get("service");
        }
        seen.push({ method: req.method, user, account: url.searchParams.get("account"), scopes });
        if (service !== SERVICE) return Response.json({ details: `unknown service ${service}` }, { status: 400 });
        if (req.headers.get("authorization") === null && req.method === "GET") {
          return Response.json({ errors: [{ code: "UNAUTHORIZED", message: "anonymous access is not allowed" }] }, { status: 401 });
        }
        if (!user) return Response.json({ details: "incorrect username or password" }, { status: 401 });
        const access = scopes.map((s) => {
          const [type, name, actions] = s.split(":") as [string, string, string];
          return { type, name, actions: actions.split(",") };
        });
        const now = Math.floor(Date.now() / 1000);
        const ttl = user === "brief" ? 1 : 300;
        const token = await jwt({ iss: ISSUER, sub: user, aud: SERVICE, exp: now + ttl, nbf: now - 10, iat: now, jti: crypto.randomUUID(), access });
        // The OAuth2 flow answers access_token, the Docker one token.
        return Response.json(req.method === "POST" ? { access_token: token, expires_in: ttl, token_type: "Bearer" } : { token, expires_in: ttl, issued_at: new Date().toISOString() });
      },
    });
    R = await startRegistry({ auth: { token: { realm: `http://127.0.0.1:${tokens.port}/token`, service: SERVICE, issuer: ISSUER, rootcertbundle: cert } } });
  });
  afterAll(async () => {
    await R?.stop();
    tokens?.stop(true);
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    seen = [];
  });

  test("push and pull with tokens: one per set of scopes, reused by every request it covers", async () => {
    const reg = new Registry(R.domain, { credentials: () => alice });
    const img = makeImage("amd64", undefined, "oci");
    expect(await reg.hasBlob("app", sha(img.layer))).toBe(false);
    const digest = await pushImage(reg, "app", img, "v1");
    expect((await reg.manifest("app", "v1")).digest).toBe(digest);
    expect(await bytesOf(await reg.blob("app", sha(img.layer)))).toEqual(img.layer);
    expect(await reg.hasBlob("app", sha(img.config))).toBe(true);
    expect(seen).toEqual([
      { method: "GET", user: "alice", account: "alice", scopes: ["repository:app:pull"] },
      { method: "GET", user: "alice", account: "alice", scopes: ["repository:app:pull,push"] },
    ]);
    // The registry challenged once: from then on the tokens went along unasked.
    await R.served((r) => r.method === "HEAD" && r.uri === `/v2/app/blobs/${sha(img.config)}`);
    expect(R.refusals()).toBe(1);

    // A mount asks to push here and pull there, in one token.
    expect(await reg.mountBlob("copy", sha(img.layer), "app")).toBe(true);
    expect(seen[2]).toEqual({ method: "GET", user: "alice", account: "alice", scopes: ["repository:copy:pull,push", "repository:app:pull"] });
    expect(seen.length).toBe(3);
  });

  test("WWW-Authenticate is read as RFC 7235 writes it: the registry's own challenge, and a list with quoting", async () => {
    const res = await fetch(`${R.url}/v2/app/manifests/v1`, { method: "PUT", body: "{}" });
    expect(res.status).toBe(401);
    // The scope's comma is inside the quotes (distribution writes the actions in either order).
    expect(parseChallenges(res.headers.get("www-authenticate")!)).toEqual([
      { scheme: "bearer", params: { realm: `http://127.0.0.1:${tokens.port}/token`, service: SERVICE, scope: expect.stringMatching(/^repository:app:(pull,push|push,pull)$/) } },
    ]);
    expect(parseChallenges(String.raw`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple, really",Bearer realm="https://auth/token",service=x`)).toEqual([
      { scheme: "newauth", params: { realm: "apps", type: "1", title: 'Login to "apps"' } },
      { scheme: "basic", params: { realm: "simple, really" } },
      { scheme: "bearer", params: { realm: "https://auth/token", service: "x" } },
    ]);
  });

  test("ping gets a token without scopes; bad or no credentials are PermissionDenied in the token server's words", async () => {
    await new Registry(R.domain, { credentials: () => alice }).ping();
    expect(seen).toEqual([{ method: "GET", user: "alice", account: "alice", scopes: [] }]);
    await expect(new Registry(R.domain, { credentials: () => ({ ...alice, password: "wrong" }) }).ping()).rejects.toMatchObject({
      kind: "PermissionDenied",
      message: `unauthorized: incorrect username or password for ${R.domain}`,
    });
    await expect(new Registry(R.domain).manifest("app", "v1")).rejects.toMatchObject({
      kind: "PermissionDenied",
      message: `unauthorized: anonymous access is not allowed for ${R.domain}`,
      hint: `log in to ${R.domain} first`,
    });
  });

  test("an identity token goes by OAuth2's form POST; a registry token as it is", async () => {
    const img = makeImage("arm64", undefined, "oci");
    await pushImage(new Registry(R.domain, { credentials: () => alice }), "idt", img, "v1");
    seen = [];
    const reg = new Registry(R.domain, { credentials: () => ({ identitytoken: "alice-refresh" }) });
    expect((await reg.manifest("idt", "v1")).digest).toBe(sha(img.manifest));
    expect(seen).toEqual([{ method: "POST", user: "alice", account: null, scopes: ["repository:idt:pull"] }]);

    const res = await fetch(`http://127.0.0.1:${tokens.port}/token?service=${SERVICE}&scope=repository:idt:pull`, { headers: { authorization: `Basic ${btoa("alice:s3cret")}` } });
    const { token } = (await res.json()) as { token: string };
    seen = [];
    const withToken = new Registry(R.domain, { credentials: () => ({ registrytoken: token }) });
    expect(await bytesOf(await withToken.blob("idt", sha(img.layer)))).toEqual(img.layer);
    expect(seen).toEqual([]);
  });

  test("a token is used until it expires, then fetched again", async () => {
    const img = makeImage("amd64", undefined, "oci");
    await pushImage(new Registry(R.domain, { credentials: () => alice }), "brief", img, "v1");
    seen = [];
    const reg = new Registry(R.domain, { credentials: () => brief });
    await reg.manifest("brief", "v1");
    await reg.manifest("brief", "v1");
    expect(seen.length).toBe(1);
    await Bun.sleep(1100);
    await reg.manifest("brief", "v1");
    expect(seen.map((s) => s.scopes)).toEqual([["repository:brief:pull"], ["repository:brief:pull"]]);
  });
});

// ------------------------------------------------------------------ transient failures

type Action = "forward" | "503" | "429" | "redirect" | { cutAfter?: number; ranges?: false };

/**
 * A proxy in front of `upstream` that does to each request what the rule
 * for its path (the first whose key starts it) says, told the request's
 * number under that key (from 1) and its method. node:http, not Bun.serve:
 * it can break a connection mid-body without a fuss.
 */
type Rule = (n: number, method: string) => Action;
async function startProxy(upstream: string, rules: Map<string, Rule>) {
  const hits = new Map<string, { method: string; range: string | null }[]>();
  const server = createServer(async (req, res) => {
    const { pathname, search } = new URL(req.url!, "http://proxy");
    const [key, rule] = [...rules].find(([prefix]) => pathname.startsWith(prefix)) ?? [pathname];
    const list = hits.get(key) ?? hits.set(key, []).get(key)!;
    list.push({ method: req.method!, range: req.headers.range ?? null });
    const action = rule?.(list.length, req.method!) ?? "forward";
    if (action === "503") return res.writeHead(503).end("busy");
    if (action === "429") return res.writeHead(429, { "retry-after": "1" }).end("slow down");
    if (action === "redirect") return res.writeHead(307, { location: `${upstream}${pathname}${search}` }).end();
    const parts: Buffer[] = [];
    for await (const part of req) parts.push(part as Buffer);
    // The Host goes on: the registry writes it into the upload Locations it answers, which lead back here.
    const headers = Object.entries(req.headers).filter(([k]) => !["connection", "content-length"].includes(k)) as [string, string][];
    const up = await fetch(`${upstream}${pathname}${search}`, { method: req.method, headers, body: parts.length ? Buffer.concat(parts) : undefined, redirect: "manual" });
    const out = Object.fromEntries([...up.headers].filter(([k]) => k !== "transfer-encoding" && !(k === "accept-ranges" && typeof action === "object" && action.ranges === false)));
    res.writeHead(up.status, out);
    let sent = 0;
    for await (const chunk of up.body ?? []) {
      const cut = typeof action === "object" ? action.cutAfter : undefined;
      if (cut !== undefined && sent + chunk.length >= cut) {
        // The bytes up to the cut reach the client; then the connection breaks.
        res.write(chunk.subarray(0, cut - sent));
        await Bun.sleep(50);
        return res.destroy();
      }
      sent += chunk.length;
      res.write(chunk);
    }
    res.end();
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  return { server, domain: `127.0.0.1:${port}`, hits: (path: string) => hits.get(path) ?? [] };
}

describe("transient failures, through a proxy", () => {
  let R: TestRegistry;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  const rules = new Map<string, Rule>();
  const blobs = Array.from({ length: 6 }, () => random(1 << 20));
  const [busyTwice, cutOnce, cutNoRanges, alwaysBusy, alwaysCut, redirected] = blobs.map((b) => sha(b)) as [string, string, string, string, string, string];
  const path = (digest: string) => `/v2/app/blobs/${digest}`;

  beforeAll(async () => {
    R = await startRegistry();
    const direct = new Registry(R.domain);
    for (const b of blobs) await direct.uploadBlob("app", sha(b), b.length, () => b);
    await pushImage(direct, "app", makeImage("amd64", undefined, "oci"), "v1");
    rules.set(path(busyTwice), (n) => (n <= 2 ? "503" : "forward"));
    rules.set(path(cutOnce), (n) => (n === 1 ? { cutAfter: 400_000 } : "forward"));
    rules.set(path(cutNoRanges), (n) => (n === 1 ? { cutAfter: 400_000, ranges: false } : { ranges: false }));
    rules.set(path(alwaysBusy), () => "503");
    rules.set(path(alwaysCut), () => ({ cutAfter: 100_000 }));
    rules.set(path(redirected), () => "redirect");
    rules.set("/v2/app/manifests/v1", (n) => (n === 1 ? "429" : "forward"));
    proxy = await startProxy(R.url, rules);
  });
  afterAll(async () => {
    proxy?.server.closeAllConnections();
    proxy?.server.close();
    await R?.stop();
  });

  test("503s are retried with back-off until the blob comes", async () => {
    const reg = new Registry(proxy.domain);
    expect(sha(await bytesOf(await reg.blob("app", busyTwice, 1 << 20)))).toBe(busyTwice);
    expect(proxy.hits(path(busyTwice)).length).toBe(3);
  });

  test("a 429 is retried after its Retry-After", async () => {
    const started = Date.now();
    const m = await new Registry(proxy.domain).manifest("app", "v1");
    expect(m.mediaType).toBe(OCI_MANIFEST);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(proxy.hits("/v2/app/manifests/v1").length).toBe(2);
  });

  test("a download cut in the middle resumes with a Range request from where it broke", async () => {
    const reg = new Registry(proxy.domain);
    expect(sha(await bytesOf(await reg.blob("app", cutOnce, 1 << 20)))).toBe(cutOnce);
    expect(proxy.hits(path(cutOnce)).map((h) => h.range)).toEqual([null, "bytes=400000-"]);
    expect((await R.served((r) => r.uri === path(cutOnce) && r.status === 206)).length).toBe(1);
  });

  test("without Accept-Ranges the download starts over, and what came already is skipped", async () => {
    const reg = new Registry(proxy.domain);
    expect(sha(await bytesOf(await reg.blob("app", cutNoRanges)))).toBe(cutNoRanges);
    expect(proxy.hits(path(cutNoRanges)).map((h) => h.range)).toEqual([null, null]);
  });

  test("a blob that keeps failing fails after the bounded retries, Unavailable", async () => {
    const reg = new Registry(proxy.domain, { retries: 2 });
    await expect(reg.blob("app", alwaysBusy)).rejects.toMatchObject({ kind: "Unavailable", message: `blob ${alwaysBusy} in ${proxy.domain}/app: HTTP 503 Service Unavailable` });
    expect(proxy.hits(path(alwaysBusy)).length).toBe(3);
    const stream = await reg.blob("app", alwaysCut, 1 << 20);
    // Each attempt gets 100,000 bytes further before it breaks.
    await expect(bytesOf(stream)).rejects.toMatchObject({ kind: "Unavailable", message: expect.stringMatching(new RegExp(`^blob ${alwaysCut} in ${proxy.domain}/app: the download broke 3 times, the last at byte 300000 \\(ECONNRESET`)) });
    expect(proxy.hits(path(alwaysCut)).map((h) => h.range)).toEqual([null, "bytes=100000-", "bytes=200000-"]);
  });

  test("a redirect to another origin is followed", async () => {
    expect(sha(await bytesOf(await new Registry(proxy.domain).blob("app", redirected)))).toBe(redirected);
    expect(proxy.hits(path(redirected)).length).toBe(1);
    expect((await R.served((r) => r.uri === path(redirected))).map((r) => r.status)).toEqual([200]);
  });

  test("an upload that fails is not sent again piecemeal: it is cancelled and begun again, with a new body", async () => {
    let puts = 0;
    rules.set("/v2/up/blobs/uploads/", (_, method) => (method === "PUT" && ++puts === 1 ? "503" : "forward"));
    const blob = random(5000);
    let made = 0;
    await new Registry(proxy.domain).uploadBlob("up", sha(blob), blob.length, () => (made++, blob));
    expect(proxy.hits("/v2/up/blobs/uploads/").map((h) => h.method)).toEqual(["POST", "PUT", "DELETE", "POST", "PUT"]);
    expect(made).toBe(2);
    expect(await new Registry(R.domain).hasBlob("up", sha(blob))).toBe(true);
  });
});

// ------------------------------------------------------------------ mirrors

describe("docker.io through a mirror", () => {
  let M: TestRegistry;
  let T: TestRegistry;
  let dir: string;
  let cert: string;
  const realFetch = globalThis.fetch;
  /** What was asked of anything but 127.0.0.1: refused at once (no network here, and none may be tried). */
  const outside: string[] = [];
  const img = makeImage("amd64", undefined, "oci");

  beforeAll(async () => {
    M = await startRegistry();
    await pushImage(new Registry(M.domain), "library/mirrored", img, "latest");
    dir = mkdtempSync(`${tmpdir()}/berth-tls-`);
    const tls = selfSigned(dir);
    cert = tls.cert;
    // The same storage over TLS.
    T = await startRegistry({ tls: { certificate: tls.cert, key: tls.key }, storage: M.storage });
    globalThis.fetch = Object.assign((input: string | URL | Request, init?: RequestInit) => {
      const url = input instanceof Request ? input.url : String(input);
      if (!/^https?:\/\/127\.0\.0\.1[:/]/.test(url)) {
        outside.push(`${init?.method ?? "GET"} ${url}`);
        return Promise.reject(new TypeError(`the test refuses to contact ${url}`));
      }
      return realFetch(input, init);
    }, realFetch);
  });
  afterAll(async () => {
    globalThis.fetch = realFetch;
    await M?.stop();
    await T?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    outside.length = 0;
  });

  test("reads come from the mirror, and docker.io is not asked", async () => {
    const reg = new Registry("docker.io", { mirrors: [M.url], retries: 0 });
    const m = await reg.manifest("library/mirrored", "latest");
    expect([m.mediaType, m.digest]).toEqual([OCI_MANIFEST, sha(img.manifest)]);
    expect(await bytesOf(await reg.blob("library/mirrored", sha(img.layer), img.layer.length))).toEqual(img.layer);
    expect(outside).toEqual([]);
    expect((await M.served((r) => r.uri === `/v2/library/mirrored/blobs/${sha(img.layer)}`)).map((r) => r.method)).toEqual(["GET"]);
    expect(M.requests().filter((r) => r.method === "GET" && r.uri === "/v2/library/mirrored/manifests/latest").map((r) => r.status)).toEqual([200]);
  });

  test("what the mirror lacks is asked of registry-1.docker.io; pushes never go to a mirror", async () => {
    const reg = new Registry("docker.io", { mirrors: [M.url], retries: 0 });
    await expect(reg.manifest("library/absent", "latest")).rejects.toMatchObject({ kind: "Unavailable" });
    expect((await M.served((r) => r.uri === "/v2/library/absent/manifests/latest")).map((r) => r.status)).toEqual([404]);
    expect(outside).toEqual(["GET https://registry-1.docker.io/v2/library/absent/manifests/latest"]);
    outside.length = 0;
    await expect(reg.hasBlob("library/mirrored", sha(img.layer))).rejects.toMatchObject({ kind: "Unavailable" });
    expect(outside).toEqual([`HEAD https://registry-1.docker.io/v2/library/mirrored/blobs/${sha(img.layer)}`]);
  });

  test("a mirror that fails is passed over, and not asked again", async () => {
    let asked = 0;
    const broken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (asked++, new Response("down", { status: 503 })) });
    try {
      const reg = new Registry("docker.io", { mirrors: [`http://127.0.0.1:${broken.port}`, M.url], retries: 1 });
      expect((await reg.manifest("library/mirrored", "latest")).digest).toBe(sha(img.manifest));
      expect(await bytesOf(await reg.blob("library/mirrored", sha(img.layer)))).toEqual(img.layer);
      expect(asked).toBe(2);
      expect(outside).toEqual([]);
    } finally {
      broken.stop(true);
    }
  });

  test("a TLS mirror is verified against the CA bundle $SSL_CERT_FILE names; without the CA it is refused", async () => {
    const saved = process.env.SSL_CERT_FILE;
    const served = () => T.requests().filter((r) => r.uri === "/v2/library/mirrored/manifests/latest").length;
    try {
      process.env.SSL_CERT_FILE = cert;
      const reg = new Registry("docker.io", { mirrors: [T.url], retries: 0 });
      expect((await reg.manifest("library/mirrored", "latest")).digest).toBe(sha(img.manifest));
      expect(outside).toEqual([]);
      expect(served()).toBe(1);
      // The system's bundle lacks the test's CA: the mirror is passed over for docker.io.
      delete process.env.SSL_CERT_FILE;
      const untrusting = new Registry("docker.io", { mirrors: [T.url], retries: 0 });
      await expect(untrusting.manifest("library/mirrored", "latest")).rejects.toMatchObject({ kind: "Unavailable" });
      expect(outside).toEqual(["GET https://registry-1.docker.io/v2/library/mirrored/manifests/latest"]);
      expect(served()).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.SSL_CERT_FILE;
      else process.env.SSL_CERT_FILE = saved;
    }
  });
});
