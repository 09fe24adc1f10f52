// berth save / load on the real engine: round trips, Docker's archive
// formats (20.10 and 25+), OCI layouts with compressed layers, corrupt and
// hostile archives, and the stock docker CLI against berthd.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { BERTH, berth, busyboxTar, docker, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";
import { inPty } from "./helpers/pty.ts";
import { tarBytes } from "./helpers/tar-writer.ts";

let t: TestRoot;
let bbId: string;
beforeAll(async () => {
  t = makeRoot();
  bbId = await importBusybox(t);
});
afterEach(() => expect(leaks(t)).toEqual([]));
afterAll(() => removeRoot(t));

const ok = async (args: string[]) => {
  const r = await berth(t, args);
  expect(r.code, `berth ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
};
const sh = (cmd: string[]) => {
  const r = Bun.spawnSync(cmd, { stderr: "pipe" });
  expect(r.exitCode, `${cmd.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout.toString();
};
const scratch = () => mkdtempSync(`${t.root}/scratch-`);
const blobCount = () => readdirSync(`${t.root}/blobs/sha256`).length;
const imageIds = async () => (await ok(["images", "-q", "--no-trunc"])).trim().split("\n").sort();
const listing = (tar: string) => sh(["tar", "-tf", tar]).trim().split("\n");
const member = (tar: string, name: string) => JSON.parse(sh(["tar", "-xOf", tar, name]));
const sha = (data: Uint8Array | string) => new Bun.CryptoHasher("sha256").update(data).digest("hex");
const idOf = async (ref: string) => (await ok(["image", "inspect", "-f", "{{.Id}}", ref])).trim();

/** A docker-20.10-style archive directory: <hex>.json configs, <v1 id>/layer.tar (a symlink for a repeated layer), manifest.json, repositories. */
async function legacyDir(layer: Uint8Array, names: string[]) {
  const dir = scratch();
  const diffId = `sha256:${sha(layer)}`;
  const manifest = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const [i, name] of names.entries()) {
    const config = JSON.stringify({ architecture: "amd64", os: "linux", config: { Env: [`FROM=legacy${i}`], Cmd: ["sh"] }, rootfs: { type: "layers", diff_ids: [diffId] }, history: [{ created_by: "test" }] });
    const v1 = sha(`v1 ${i}`);
    mkdirSync(`${dir}/${v1}`);
    writeFileSync(`${dir}/${v1}/VERSION`, "1.0");
    writeFileSync(`${dir}/${v1}/json`, JSON.stringify({ id: v1 }));
    if (i === 0) writeFileSync(`${dir}/${v1}/layer.tar`, layer);
    else symlinkSync(`../${sha("v1 0")}/layer.tar`, `${dir}/${v1}/layer.tar`); // as docker save did for a layer it had written
    writeFileSync(`${dir}/${sha(config)}.json`, config);
    manifest.push({ Config: `${sha(config)}.json`, RepoTags: [name], Layers: [`${v1}/layer.tar`] });
    const [repo, tag] = name.split(":") as [string, string];
    (repositories[repo] ??= {})[tag] = v1;
  }
  writeFileSync(`${dir}/manifest.json`, JSON.stringify(manifest));
  writeFileSync(`${dir}/repositories`, JSON.stringify(repositories));
  return { dir, ids: manifest.map((m) => `sha256:${m.Config.slice(0, 64)}`) };
}

/** Tar a directory with GNU tar, manifest.json last ("./" names, as `tar -C dir .` writes them). */
function tarDir(dir: string): string {
  const names = readdirSync(dir).sort((a, b) => Number(a === "manifest.json") - Number(b === "manifest.json"));
  sh(["tar", "-C", dir, "-cf", `${dir}.tar`, ...names.map((n) => `./${n}`)]);
  return `${dir}.tar`;
}

describe("save and load", () => {
  test("save -> rmi -> load restores the image ID and tag; the image runs; events say save and load", async () => {
    const since = (Date.now() / 1000).toFixed(3);
    const tar = `${scratch()}/bb.tar`;
    expect(await ok(["save", "-o", tar, "bb"])).toBe("");
    const names = listing(tar);
    expect(names).toEqual(expect.arrayContaining(["manifest.json", "index.json", "oci-layout", "repositories", `blobs/sha256/${bbId.slice(7)}`]));
    const [item] = member(tar, "manifest.json");
    expect(item).toMatchObject({ Config: `blobs/sha256/${bbId.slice(7)}`, RepoTags: ["bb:latest"] });
    expect(names).toContain(item.Layers[0]);
    const index = member(tar, "index.json");
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0].annotations).toEqual({ "io.containerd.image.name": "docker.io/library/bb:latest", "org.opencontainers.image.ref.name": "latest" });
    expect(names).toContain(`blobs/sha256/${index.manifests[0].digest.slice(7)}`);
    expect(member(tar, "oci-layout")).toEqual({ imageLayoutVersion: "1.0.0" });

    await ok(["rmi", "bb"]);
    expect((await berth(t, ["image", "inspect", "bb"])).code).toBe(1);
    expect(await ok(["load", "-i", tar])).toBe("Loaded image: bb:latest\n");
    expect(await idOf("bb")).toBe(bbId);
    expect(await ok(["run", "--rm", "bb", "echo", "ok"])).toBe("ok\n");

    const events = await ok(["events", "--since", since, "--until", (Date.now() / 1000).toFixed(3), "--filter", "type=image", "--format", "{{.Action}} {{.Actor.ID}}"]);
    expect(events).toContain(`save ${bbId}\n`);
    expect(events).toContain(`load ${bbId}\n`);
  });

  test("two tags of one image and a second image sharing its layer: one layer blob, every tag back after load", async () => {
    await ok(["tag", "bb", "bb:v2"]);
    const otherId = await importBusybox(t, "other:1");
    expect(otherId).not.toBe(bbId);
    const tar = `${scratch()}/three.tar`;
    await ok(["save", "-o", tar, "bb:latest", "bb:v2", "other:1"]);

    const manifest = member(tar, "manifest.json") as { Config: string; RepoTags: string[]; Layers: string[] }[];
    expect(manifest.map((m) => m.RepoTags)).toEqual([["bb:latest", "bb:v2"], ["other:1"]]);
    expect(manifest[0]!.Layers).toEqual(manifest[1]!.Layers);
    const names = listing(tar);
    expect(names.filter((n) => n === manifest[0]!.Layers[0])).toHaveLength(1);
    expect(member(tar, "index.json").manifests).toHaveLength(3);
    expect(member(tar, "repositories")).toEqual({ bb: { latest: expect.any(String), v2: expect.any(String) }, other: { "1": expect.any(String) } });

    // A name without a tag brings every tag of its repository, as docker save does.
    const byName = `${scratch()}/bb.tar`;
    await ok(["image", "save", "-o", byName, "bb"]);
    expect((member(byName, "manifest.json") as { RepoTags: string[] }[]).map((m) => m.RepoTags)).toEqual([["bb:latest", "bb:v2"]]);

    await ok(["rmi", "bb:v2", "other:1"]);
    const out = await ok(["image", "load", "-i", tar]);
    expect(out.split("\n").filter(Boolean).sort()).toEqual(["Loaded image: bb:latest", "Loaded image: bb:v2", "Loaded image: other:1"]);
    expect(await idOf("bb:v2")).toBe(bbId);
    expect(await idOf("other:1")).toBe(otherId);
    await ok(["rmi", "bb:v2", "other:1"]);
  });

  test("an image saved by ID has no tags, and loads as `Loaded image ID`", async () => {
    const tar = `${scratch()}/byid.tar`;
    await ok(["save", "-o", tar, bbId.slice(7, 19)]);
    expect(member(tar, "manifest.json")[0].RepoTags).toBeNull();
    expect(member(tar, "index.json").manifests[0].annotations).toBeUndefined();
    expect(await ok(["load", "-q", "-i", tar])).toBe(`Loaded image ID: ${bbId}\n`);
  });

  test("save streams to stdout when redirected, and refuses a terminal", async () => {
    const tar = `${scratch()}/stdout.tar`;
    sh(["sh", "-c", `'${BERTH}' ${t.flags.join(" ")} save bb > '${tar}'`]);
    expect(listing(tar)).toContain("manifest.json");
    const pty = await inPty([BERTH, ...t.flags, "save", "bb"]);
    expect(pty.code).toBe(1);
    expect(pty.output).toContain("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    const missing = await berth(t, ["save", "-o", `${tar}.2`, "bb", "nosuch:1"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("No such image: nosuch:1");
    expect(readdirSync(tar.replace(/\/[^/]+$/, ""))).toEqual(["stdout.tar"]); // no partial file
  });
});

describe("loading other formats", () => {
  test("a docker 20.10 archive (<hex>.json, <id>/layer.tar, a symlinked repeated layer, manifest.json last), from stdin", async () => {
    const { dir, ids } = await legacyDir(readFileSync(await busyboxTar()), ["legacy:1.0", "legacy:2.0"]);
    const tar = tarDir(dir);
    expect(listing(tar)).toContain(`./${sha("v1 1")}/layer.tar`);
    const r = Bun.spawnSync(["sh", "-c", `'${BERTH}' ${t.flags.join(" ")} load < '${tar}'`], { stderr: "pipe" });
    expect(r.exitCode, r.stderr.toString()).toBe(0);
    expect(r.stdout.toString()).toBe("Loaded image: legacy:1.0\nLoaded image: legacy:2.0\n");
    expect(await idOf("legacy:1.0")).toBe(ids[0]);
    expect(await idOf("legacy:2.0")).toBe(ids[1]);
    expect(await ok(["run", "--rm", "legacy:2.0", "sh", "-c", "echo $FROM"])).toBe("legacy1\n");
    await ok(["rmi", "legacy:1.0", "legacy:2.0"]);
  });

  test("an OCI layout: nested index (linux/amd64 picked), a plain and a gzip layer; archive-only blobs are not kept", async () => {
    const dir = scratch();
    mkdirSync(`${dir}/blobs/sha256`, { recursive: true });
    const blob = (data: Uint8Array | string, mediaType: string) => {
      writeFileSync(`${dir}/blobs/sha256/${sha(data)}`, data);
      return { mediaType, digest: `sha256:${sha(data)}`, size: typeof data === "string" ? Buffer.byteLength(data) : data.length };
    };
    const base = readFileSync(await busyboxTar());
    const top = tarBytes([{ name: "hello.txt", body: "hello from a gzip layer\n" }]);
    const gz = Bun.gzipSync(Buffer.from(top));
    const config = JSON.stringify({ architecture: "amd64", os: "linux", config: { Cmd: ["sh"] }, rootfs: { type: "layers", diff_ids: [`sha256:${sha(base)}`, `sha256:${sha(top)}`] } });
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: blob(config, "application/vnd.oci.image.config.v1+json"),
      layers: [blob(base, "application/vnd.oci.image.layer.v1.tar"), blob(gz, "application/vnd.oci.image.layer.v1.tar+gzip")],
    }, null, 2);
    const arm = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${sha("not here")}`, size: 8, platform: { os: "linux", architecture: "arm64" } };
    const inner = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [arm, { ...blob(manifest, "application/vnd.oci.image.manifest.v1+json"), platform: { os: "linux", architecture: "amd64" } }] });
    const outer = { ...blob(inner, "application/vnd.oci.image.index.v1+json"), annotations: { "io.containerd.image.name": "docker.io/library/ocigz:v1", "org.opencontainers.image.ref.name": "v1" } };
    writeFileSync(`${dir}/index.json`, JSON.stringify({ schemaVersion: 2, manifests: [outer] }));
    writeFileSync(`${dir}/oci-layout`, JSON.stringify({ imageLayoutVersion: "1.0.0" }));

    const before = blobCount();
    expect(await ok(["load", "-i", tarDir(dir)])).toBe("Loaded image: ocigz:v1\n");
    expect(await idOf("ocigz:v1")).toBe(`sha256:${sha(config)}`);
    expect(await ok(["run", "--rm", "ocigz:v1", "sh", "-c", "cat /hello.txt; echo ok"])).toBe("hello from a gzip layer\nok\n");
    // Kept: the config, the gzip layer (as it came) and berth's manifest; the busybox layer was there already.
    expect(blobCount() - before).toBe(3);
    expect(readdirSync(`${t.root}/blobs/sha256`)).toContain(sha(gz));
    expect(readdirSync(`${t.root}/blobs/sha256`)).not.toContain(sha(inner));

    // Saved again, the gzip layer goes out as it is stored, and comes back.
    const again = `${scratch()}/again.tar`;
    await ok(["save", "-o", again, "ocigz:v1"]);
    await ok(["rmi", "ocigz:v1"]);
    expect(blobCount()).toBe(before);
    expect(await ok(["load", "-i", again])).toBe("Loaded image: ocigz:v1\n");
    expect(await idOf("ocigz:v1")).toBe(`sha256:${sha(config)}`);
    await ok(["rmi", "ocigz:v1"]);
  });
});

describe("bad archives", () => {
  const refused = async (tar: string, message: string) => {
    const [blobs, images] = [blobCount(), await imageIds()];
    const r = await berth(t, ["load", "-i", tar]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(blobCount()).toBe(blobs);
    expect(await imageIds()).toEqual(images);
    expect(readdirSync(`${t.root}/blobs/ingest`)).toEqual([]);
  };

  test("a flipped byte in a layer is refused, naming the file, and leaves no image and no blob", async () => {
    // Docker 25+ layout: the blob's name is its digest.
    await ok(["tag", "bb", "flipped:1"]);
    const tar = `${scratch()}/flip.tar`;
    await ok(["save", "-o", tar, "flipped:1"]);
    await ok(["rmi", "flipped:1"]);
    const dir = scratch();
    sh(["tar", "-C", dir, "-xf", tar]);
    const layer = (member(tar, "manifest.json")[0].Layers as string[])[0]!;
    const bytes = readFileSync(`${dir}/${layer}`);
    bytes[100_000] = bytes[100_000]! ^ 0x01;
    writeFileSync(`${dir}/${layer}`, bytes);
    await refused(tarDir(dir), `"./${layer}" in the archive does not match its digest`); // the name as the archive has it
    expect((await berth(t, ["image", "inspect", "flipped:1"])).code).toBe(1);

    // docker 20.10 layout: the layer is checked against the config's diff_id.
    const busybox = readFileSync(await busyboxTar());
    const { dir: legacy } = await legacyDir(busybox, ["legacybad:1"]);
    const bad = Buffer.from(busybox);
    bad[100_000] = bad[100_000]! ^ 0x01;
    writeFileSync(`${legacy}/${sha("v1 0")}/layer.tar`, bad);
    await refused(tarDir(legacy), `layer "${sha("v1 0")}/layer.tar" in the archive does not match image`);
  });

  test("path traversal, no manifest, and a non-tar are refused with clear errors", async () => {
    const dir = scratch();
    writeFileSync(`${dir}/evil.tar`, tarBytes([{ name: "../escape", body: "x" }, { name: "manifest.json", body: "[]" }]));
    await refused(`${dir}/evil.tar`, 'refusing to load the archive: "../escape" leads out of it (path traversal)');
    writeFileSync(`${dir}/link.tar`, tarBytes([{ name: "a/layer.tar", type: "2", linkname: "../../etc/passwd" }]));
    await refused(`${dir}/link.tar`, '"a/layer.tar" leads out of it');
    writeFileSync(`${dir}/none.tar`, tarBytes([{ name: "hello.txt", body: "hi" }]));
    await refused(`${dir}/none.tar`, "no manifest.json or index.json in the archive");
    writeFileSync(`${dir}/junk.tar`, "not a tar archive at all\n".repeat(50));
    await refused(`${dir}/junk.tar`, "tar checksum mismatch");
  });

  test("an error after the first image was loaded comes as an errorDetail line in the stream", async () => {
    // The second image's layer is no tar: it matches its diff_id, but cannot be unpacked.
    const { dir } = await legacyDir(readFileSync(await busyboxTar()), ["first:1"]);
    const junk = "not a layer tar\n".repeat(100);
    const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [`sha256:${sha(junk)}`] } });
    writeFileSync(`${dir}/${sha(config)}.json`, config);
    mkdirSync(`${dir}/junk`);
    writeFileSync(`${dir}/junk/layer.tar`, junk);
    const manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, "utf8"));
    manifest.push({ Config: `${sha(config)}.json`, RepoTags: ["second:1"], Layers: ["junk/layer.tar"] });
    writeFileSync(`${dir}/manifest.json`, JSON.stringify(manifest));

    const body = readFileSync(tarDir(dir));
    const res = await fetch("http://berth/v1.43/images/load?quiet=1", { method: "POST", body, unix: t.socket } as RequestInit);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ stream: "Loaded image: first:1\n" });
    expect(lines[1].errorDetail.message).toContain("tar checksum mismatch");
    expect(lines[1].error).toBe(lines[1].errorDetail.message);
    expect((await berth(t, ["image", "inspect", "second:1"])).code).toBe(1);
    expect(readdirSync(`${t.root}/blobs/sha256`)).not.toContain(sha(junk));
    await ok(["rmi", "first:1"]);
  });

  test("the API answers errors before the first byte with a status and a message", async () => {
    const get = await fetch("http://berth/v1.43/images/nosuch/get", { unix: t.socket } as RequestInit);
    expect(get.status).toBe(404);
    expect(await get.json()).toEqual({ message: expect.stringContaining("No such image: nosuch:latest") });
    const load = await fetch("http://berth/v1.43/images/load", { method: "POST", body: tarBytes([{ name: "x", body: "y" }]), unix: t.socket } as RequestInit);
    expect(load.status).toBe(400);
    expect(((await load.json()) as { message: string }).message).toContain("no manifest.json or index.json in the archive");
  });
});

describe("the docker CLI against berthd", () => {
  test("docker save -o and docker load -i", async () => {
    await ok(["tag", "bb", "dk:1"]);
    const tar = `${scratch()}/docker.tar`;
    const saved = await docker(t, ["save", "-o", tar, "dk:1"]);
    expect(saved.code, saved.stderr).toBe(0);
    expect(listing(tar)).toEqual(expect.arrayContaining(["manifest.json", "index.json", "oci-layout"]));
    expect((await docker(t, ["rmi", "dk:1"])).code).toBe(0);
    const loaded = await docker(t, ["load", "-i", tar]);
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(loaded.stdout).toContain("Loaded image: dk:1");
    expect((await docker(t, ["image", "inspect", "-f", "{{.Id}}", "dk:1"])).stdout.trim()).toBe(bbId);

    const dir = scratch();
    writeFileSync(`${dir}/none.tar`, tarBytes([{ name: "hello.txt", body: "hi" }]));
    const bad = await docker(t, ["load", "-i", `${dir}/none.tar`]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("no manifest.json or index.json in the archive");
    await ok(["rmi", "dk:1"]);
  });
});

describe("interoperability with skopeo and umoci", () => {
  const rootfsFile = (dir: string, name: string) => sha(readFileSync(`${dir}/${name}`));

  test("berth's archive reads as a docker-archive and as an OCI layout; umoci unpacks it to the image's files", async () => {
    await ok(["tag", "bb", "inter:1"]);
    const dir = scratch();
    await ok(["save", "-o", `${dir}/a.tar`, "inter:1"]);
    const diffIds = JSON.parse(await ok(["image", "inspect", "-f", "{{json .RootFS.Layers}}", "inter:1"]));
    const asArchive = JSON.parse(sh(["skopeo", "inspect", `docker-archive:${dir}/a.tar`]));
    expect(asArchive.Layers).toEqual(diffIds);

    mkdirSync(`${dir}/layout`);
    sh(["tar", "-C", `${dir}/layout`, "-xf", `${dir}/a.tar`]);
    const index = JSON.parse(readFileSync(`${dir}/layout/index.json`, "utf8"));
    const asLayout = JSON.parse(sh(["skopeo", "inspect", `oci:${dir}/layout:1`]));
    expect(asLayout.Digest).toBe(index.manifests[0].digest);

    sh(["umoci", "unpack", "--rootless", "--image", `${dir}/layout:1`, `${dir}/bundle`]);
    const original = `${dir}/original`;
    mkdirSync(original);
    sh(["tar", "-C", original, "-xf", await busyboxTar()]);
    expect(rootfsFile(`${dir}/bundle/rootfs`, "bin/busybox")).toBe(rootfsFile(original, "bin/busybox"));
    const files = (root: string) => sh(["sh", "-c", `cd ${root} && find . | sort`]);
    expect(files(`${dir}/bundle/rootfs`)).toBe(files(original));
    await ok(["rmi", "inter:1"]);
  });

  test("skopeo's OCI layout with zstd layers and its docker-archive load into berth, and run", async () => {
    await ok(["tag", "bb", "inter:2"]);
    const dir = scratch();
    await ok(["save", "-o", `${dir}/a.tar`, "inter:2"]);

    sh(["skopeo", "copy", "-q", "--dest-compress", "--dest-compress-format", "zstd", `docker-archive:${dir}/a.tar`, `oci:${dir}/zstd:v1`]);
    const index = JSON.parse(readFileSync(`${dir}/zstd/index.json`, "utf8"));
    const manifest = JSON.parse(readFileSync(`${dir}/zstd/blobs/sha256/${index.manifests[0].digest.slice(7)}`, "utf8"));
    expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(["application/vnd.oci.image.layer.v1.tar+zstd"]);
    const loaded = await ok(["load", "-i", tarDir(`${dir}/zstd`)]);
    expect(loaded).toBe(`Loaded image ID: ${manifest.config.digest}\n`);
    expect(await ok(["run", "--rm", manifest.config.digest, "echo", "from zstd"])).toBe("from zstd\n");

    sh(["tar", "-C", `${dir}/zstd`, "-xf", `${dir}/a.tar`]); // the same directory, now also holding berth's own layout
    sh(["skopeo", "copy", "-q", `oci:${dir}/zstd:2`, `docker-archive:${dir}/back.tar:skopeo/inter:x`]);
    expect(await ok(["load", "-i", `${dir}/back.tar`])).toBe("Loaded image: skopeo/inter:x\n");
    expect(await idOf("skopeo/inter:x")).toBe(bbId);
    expect(await ok(["run", "--rm", "skopeo/inter:x", "echo", "from skopeo"])).toBe("from skopeo\n");
    await ok(["rmi", "inter:2", "skopeo/inter:x", manifest.config.digest]);
  });
});

// Round trips with a real Docker Engine: only where one answers on the
// default socket (the peers of bench/ run one; CI machines may not).
const dockerEngine = Bun.spawnSync(["docker", "-H", "unix:///var/run/docker.sock", "version", "--format", "{{.Server.Version}}"], { stderr: "ignore" }).exitCode === 0;
describe.runIf(dockerEngine)("round trips with Docker Engine", () => {
  const engine = (args: string[], stdin?: Uint8Array) => {
    const r = Bun.spawnSync(["docker", "-H", "unix:///var/run/docker.sock", ...args], { stdin, stderr: "pipe", env: { ...process.env, DOCKER_CLI_HINTS: "false" } });
    expect(r.exitCode, `docker ${args.join(" ")}: ${r.stderr}`).toBe(0);
    return r.stdout.toString();
  };

  test("berth save, then docker load: the same image ID, and Docker runs it; docker save, then berth load, brings back what Docker made", async () => {
    const name = `berth-roundtrip-${t.root.slice(-6).toLowerCase()}`;
    await ok(["tag", "bb", `${name}:1`]);
    const dir = scratch();
    await ok(["save", "-o", `${dir}/to-docker.tar`, `${name}:1`]);
    try {
      expect(engine(["load", "-i", `${dir}/to-docker.tar`])).toContain(`Loaded image: ${name}:1`);
      expect(engine(["image", "inspect", "-f", "{{.Id}}", `${name}:1`]).trim()).toBe(bbId);
      expect(engine(["run", "--rm", "--network", "none", `${name}:1`, "echo", "in docker"])).toBe("in docker\n");
      // Docker's own change: a commit gives a layer that Docker wrote.
      const cid = engine(["create", "--network", "none", `${name}:1`, "sh", "-c", "echo docker-made > /made.txt"]).trim();
      engine(["start", "-a", cid]);
      const committed = engine(["commit", cid, `${name}:2`]).trim();
      engine(["rm", cid]);
      engine(["save", "-o", `${dir}/from-docker.tar`, `${name}:2`]);
      expect(await ok(["load", "-i", `${dir}/from-docker.tar`])).toBe(`Loaded image: ${name}:2\n`);
      expect(await idOf(`${name}:2`)).toBe(committed);
      expect(await ok(["run", "--rm", `${name}:2`, "cat", "/made.txt"])).toBe("docker-made\n");
    } finally {
      Bun.spawnSync(["docker", "-H", "unix:///var/run/docker.sock", "rmi", `${name}:1`, `${name}:2`], { stderr: "ignore" });
    }
    await ok(["rmi", `${name}:1`, `${name}:2`]);
  });
});
