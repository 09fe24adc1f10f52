// pull, push, login and mirrors through berthd, with berth's CLI and the
// docker CLI, against Debian's docker-registry on 127.0.0.1 (plain, and with
// htpasswd basic auth). Nothing but 127.0.0.1 is contacted.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { BERTH, berth, docker, importBusybox, leaks, makeRoot, removeRoot, stopDaemon, type TestRoot } from "./helpers/berth.ts";
import { blobDataPath, startRegistry, type TestRegistry } from "./helpers/docker-registry.ts";
import { inPty } from "./helpers/pty.ts";

let t: TestRoot;
let reg: TestRegistry;
let home: string; // DOCKER_CONFIG of the CLIs in these tests
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
  reg = await startRegistry();
  home = mkdtempSync(`${tmpdir()}/berth-dockercfg-`);
}, 60_000);
afterAll(async () => {
  await removeRoot(t);
  await reg.stop();
  rmSync(home, { recursive: true, force: true });
});

const env = () => ({ DOCKER_CONFIG: home });
async function ok(args: string[], root = t): Promise<string> {
  const r = await berth(root, args, { env: env() });
  if (r.code !== 0) throw new Error(`berth ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
const blobs = (root: TestRoot) => readdirSync(`${root.root}/blobs/sha256`).sort();

describe("push and pull", () => {
  test("push, rmi, pull again by tag and by digest: the same image, verified, and it runs", async () => {
    const name = `${reg.domain}/team/bb:1`;
    await ok(["tag", "bb", name]);
    const push = await ok(["push", name]);
    expect(push).toMatch(/: Pushed\n/);
    const digest = /1: digest: (sha256:[a-f0-9]{64}) size: \d+/.exec(push)?.[1];
    expect(digest).toBeDefined();
    const id = (await ok(["image", "inspect", "-f", "{{.Id}}", name])).trim();
    // Pushing again uploads nothing.
    expect(await ok(["push", name])).toMatch(/: Layer already exists\n/);

    const other = makeRoot();
    try {
      const pull = await berth(other, ["pull", name], { env: env() });
      expect(pull.code, pull.stderr).toBe(0);
      expect(pull.stdout).toContain("1: Pulling from team/bb\n");
      expect(pull.stdout).toContain(": Pull complete\n");
      expect(pull.stdout).toContain(`Digest: ${digest}\n`);
      expect(pull.stdout).toContain(`Status: Downloaded newer image for ${name}\n`);
      expect(pull.stdout.endsWith(`${name}\n`)).toBe(true);
      expect((await ok(["image", "inspect", "-f", "{{.Id}} {{json .RepoDigests}}", name], other)).trim()).toBe(`${id} ["${reg.domain}/team/bb@${digest}"]`);
      expect(await ok(["run", "--rm", name, "echo", "pulled"], other)).toBe("pulled\n");
      // Again: nothing to download.
      expect(await ok(["pull", name], other)).toContain(`Status: Image is up to date for ${name}`);
      // By digest, after removing it.
      await ok(["rmi", name], other);
      expect(blobs(other)).toEqual([]);
      await ok(["pull", `${reg.domain}/team/bb@${digest}`], other);
      expect((await ok(["image", "inspect", "-f", "{{.Id}}", `${reg.domain}/team/bb@${digest}`], other)).trim()).toBe(id);
      expect(await ok(["run", "--rm", `${reg.domain}/team/bb@${digest}`, "echo", "by digest"], other)).toBe("by digest\n");
      expect(leaks(other)).toEqual([]);
    } finally {
      await removeRoot(other);
    }
  }, 60_000);

  test("on a terminal, each layer has a line that its progress bar rewrites in place; piped, no progress ticks", async () => {
    const name = `${reg.domain}/team/tty:1`;
    await ok(["tag", "bb", name]);
    const other = makeRoot();
    try {
      const piped = await ok(["push", name]);
      expect(piped).not.toContain("Pushing [");
      const pty = await inPty([BERTH, ...other.flags, "pull", name], { env: env() });
      expect(pty.code, pty.output).toBe(0);
      expect(pty.output).toMatch(/: Downloading \[[=> ]+\] +[\d.]+[kM]?B\/[\d.]+[kM]?B/);
      expect(pty.output).toMatch(/\x1b\[\d+A\x1b\[2K\r[a-f0-9]{12}: Pull complete/); // up to the layer's line, rewritten
      expect(pty.output).toContain(`Status: Downloaded newer image for ${name}`);
    } finally {
      await removeRoot(other);
    }
  });

  test("a push to another repository of the registry mounts the layer instead of uploading it", async () => {
    await ok(["tag", "bb", `${reg.domain}/first/bb:1`]);
    await ok(["push", `${reg.domain}/first/bb:1`]);
    await ok(["tag", "bb", `${reg.domain}/second/bb:1`]);
    const push = await ok(["push", `${reg.domain}/second/bb:1`]);
    expect(push).toMatch(new RegExp(`: Mounted from ${reg.domain}/first/bb\\n`));
    const uploads = await reg.served((r) => r.method === "PATCH" || (r.method === "PUT" && r.uri.includes("/second/bb/blobs/uploads/")));
    expect(uploads.filter((r) => r.uri.includes("/second/"))).toEqual([]);
  }, 60_000);

  test("a corrupted blob in the registry is refused with the digest named, and the pull leaves nothing", async () => {
    const name = `${reg.domain}/broken/bb:1`;
    await ok(["run", "--name", "mk", "bb", "sh", "-c", "echo unique-$RANDOM-$$ > /marker"]);
    await ok(["commit", "mk", name]);
    await ok(["rm", "mk"]);
    const push = await ok(["push", name]);
    expect(push).toContain("Pushed");
    const layers = JSON.parse(await ok(["image", "inspect", "-f", "{{json .RootFS.Layers}}", name])) as string[];
    const top = layers[layers.length - 1]!; // berth pushes layers as they are: the blob of an uncompressed layer is its diff ID
    const data = blobDataPath(reg.storage, top);
    expect(existsSync(data)).toBe(true);
    const bytes = readFileSync(data);
    const at = bytes.length - 600;
    bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(data, bytes);
    const other = makeRoot();
    try {
      const before = existsSync(`${other.root}/blobs/sha256`) ? blobs(other) : [];
      const r = await berth(other, ["pull", name], { env: env() });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(top);
      expect(r.stderr).toMatch(/digest/i);
      expect(blobs(other)).toEqual(before);
      expect((await berth(other, ["images", "-q"])).stdout).toBe("");
    } finally {
      await removeRoot(other);
    }
  }, 60_000);

  test("a daemon killed in the middle of a pull: the next one removes what the pull left, and the pull then works", async () => {
    const name = `cut/bb:1`;
    await ok(["run", "--name", "big", "bb", "sh", "-c", "head -c 4000000 /dev/urandom > /big"]);
    await ok(["commit", "big", `${reg.domain}/${name}`]);
    await ok(["rm", "big"]);
    await ok(["push", `${reg.domain}/${name}`]);
    const [base, top] = JSON.parse(await ok(["image", "inspect", "-f", "{{json .RootFS.Layers}}", `${reg.domain}/${name}`])) as [string, string];

    // A registry in front of the real one that sends half of the top layer, then nothing.
    let halfSent: () => void = () => {};
    const stalled = new Promise<void>((r) => (halfSent = r));
    const proxy = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const url = new URL(req.url);
        const res = await fetch(`${reg.url}${url.pathname}${url.search}`, { method: req.method, headers: req.headers, redirect: "manual" });
        if (req.method !== "GET" || !url.pathname.endsWith(`/blobs/${top}`)) return res;
        const body = new Uint8Array(await res.arrayBuffer());
        const stream = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(body.subarray(0, body.length >> 1));
            halfSent();
          },
        });
        return new Response(stream, { headers: { "content-type": "application/octet-stream", "content-length": String(body.length) } });
      },
    });
    const other = makeRoot();
    try {
      await berth(other, ["version"]);
      const pulling = berth(other, ["pull", `127.0.0.1:${proxy.port}/${name}`], { env: env() });
      await stalled;
      const baseLayer = `${other.root}/layers/overlay/${base.slice(7)}/lower`;
      for (let i = 0; i < 200 && !existsSync(baseLayer); i++) await Bun.sleep(25);
      expect(existsSync(baseLayer)).toBe(true); // the layer below was unpacked already
      // The top one is half there (the proxy has sent its half; the daemon writes it as it comes).
      const ingest = () => (existsSync(`${other.root}/blobs/ingest`) ? readdirSync(`${other.root}/blobs/ingest`) : []);
      for (let i = 0; i < 200 && ingest().length === 0; i++) await Bun.sleep(25);
      expect(ingest().length).toBe(1);
      await stopDaemon(other, "SIGKILL");
      expect((await pulling).code).not.toBe(0);

      await berth(other, ["version"]); // a new daemon
      expect(readdirSync(`${other.root}/blobs/ingest`)).toEqual([]);
      expect(blobs(other)).toEqual([]);
      expect(readdirSync(`${other.root}/layers/overlay`).filter((n) => /^[a-f0-9]{64}$/.test(n))).toEqual([]);
      expect((await berth(other, ["images", "-q"])).stdout).toBe("");

      await ok(["pull", `${reg.domain}/${name}`], other);
      expect(await ok(["run", "--rm", `${reg.domain}/${name}`, "sh", "-c", "wc -c < /big"], other)).toBe("4000000\n");
      expect(leaks(other)).toEqual([]);
    } finally {
      proxy.stop(true);
      await removeRoot(other);
    }
  }, 60_000);

  test("the docker CLI pulls and pushes through berthd", async () => {
    await ok(["tag", "bb", `${reg.domain}/viadocker/bb:1`]);
    const push = await docker(t, ["push", `${reg.domain}/viadocker/bb:1`]);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toMatch(/1: digest: sha256:[a-f0-9]{64} size: \d+/);
    await ok(["rmi", `${reg.domain}/viadocker/bb:1`]);
    const pull = await docker(t, ["pull", `${reg.domain}/viadocker/bb:1`]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout).toContain(`Status: Downloaded newer image for ${reg.domain}/viadocker/bb:1`);
    expect((await docker(t, ["images", "--digests", "--format", "{{.Repository}} {{.Digest}}", `${reg.domain}/viadocker/bb`])).stdout).toMatch(new RegExp(`^${reg.domain}/viadocker/bb sha256:[a-f0-9]{64}\\n$`));
  }, 60_000);

  test("a missing tag is Docker's error, with the name", async () => {
    const r = await berth(t, ["pull", `${reg.domain}/team/bb:nope`], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/manifest unknown|not found/i);
    expect(r.stderr).toContain("nope");
  });
});

describe("login and basic auth", () => {
  let secure: TestRegistry;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(`${tmpdir()}/berth-htpasswd-`);
    const hash = (await Bun.password.hash("s3cret", { algorithm: "bcrypt" })).replace(/^\$2b\$/, "$2y$");
    writeFileSync(`${dir}/htpasswd`, `alice:${hash}\n`);
    secure = await startRegistry({ auth: { htpasswd: { realm: "berth-test", path: `${dir}/htpasswd` } } });
  }, 60_000);
  afterAll(async () => {
    await secure.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("push is refused without credentials; login stores them as docker does; push and pull then work; logout forgets them", async () => {
    const name = `${secure.domain}/private/bb:1`;
    await ok(["tag", "bb", name]);
    const refused = await berth(t, ["push", name], { env: env() });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/unauthorized|authentication required/i);
    const bad = await berth(t, ["login", "-u", "alice", "--password-stdin", secure.domain], { stdin: "wrong\n", env: env() });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/unauthorized|authentication required/i);
    expect(existsSync(`${home}/config.json`) ? JSON.parse(readFileSync(`${home}/config.json`, "utf8")).auths?.[secure.domain] : undefined).toBeUndefined();
    const login = await berth(t, ["login", "-u", "alice", "--password-stdin", secure.domain], { stdin: "s3cret\n", env: env() });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain("Login Succeeded");
    const cfg = JSON.parse(readFileSync(`${home}/config.json`, "utf8"));
    expect(cfg.auths[secure.domain].auth).toBe(Buffer.from("alice:s3cret").toString("base64"));
    expect(await ok(["push", name])).toContain("Pushed");
    await ok(["rmi", name]);
    expect(await ok(["pull", name])).toContain(`Status: Downloaded newer image for ${name}`);
    // The docker CLI reads the same file.
    await ok(["rmi", name]);
    const viaDocker = Bun.spawnSync(["docker", "pull", name], { env: { ...process.env, DOCKER_HOST: t.dockerHost, DOCKER_CONFIG: home } });
    expect(viaDocker.exitCode, viaDocker.stderr.toString()).toBe(0);
    expect((await ok(["logout", secure.domain])).trim()).toBe(`Removing login credentials for ${secure.domain}`);
    expect(JSON.parse(readFileSync(`${home}/config.json`, "utf8")).auths[secure.domain]).toBeUndefined();
    await ok(["rmi", name]);
    const again = await berth(t, ["pull", name], { env: env() });
    expect(again.code).toBe(1);
  }, 60_000);
});

describe("registry mirrors", () => {
  test("a daemon with --registry-mirror pulls Docker Hub names from the mirror", async () => {
    await ok(["tag", "bb", `${reg.domain}/library/mirrored:1`]);
    await ok(["push", `${reg.domain}/library/mirrored:1`]);
    const m = makeRoot(["--registry-mirror", reg.url]);
    try {
      const r = await berth(m, ["pull", "mirrored:1"], { env: env() });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("Status: Downloaded newer image for mirrored:1");
      expect(r.stdout.endsWith("docker.io/library/mirrored:1\n")).toBe(true);
      expect(await ok(["run", "--rm", "mirrored:1", "echo", "from the mirror"], m)).toBe("from the mirror\n");
    } finally {
      await removeRoot(m);
    }
  }, 60_000);
});
