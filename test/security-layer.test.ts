// Malicious image layers through `berth load` (a docker-archive): names
// with ../ and absolute names, a symlink then a file through it, hard links
// to host paths, whiteouts that aim outside, device nodes, setuid files and
// a size field far beyond the data. Nothing may be written outside the
// layer's directory; the load either fails with a reason or sanitises (as
// Docker does: a leading "/" is dropped, devices and setuid bits are kept
// inside the image).
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { berth, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";
import { tarBytes, type TarSpec } from "./helpers/tar-writer.ts";

let t: TestRoot;
let sentinel: string;
let scratch: string;
const MARK = `layer-${Math.random().toString(36).slice(2, 8)}`;
const SECRET = `HOST-SECRET-${MARK}`;
let before: string[];

const listing = (dir: string) =>
  readdirSync(dir, { recursive: true })
    .map((n) => `${n} ${statSync(`${dir}/${n}`).size} ${statSync(`${dir}/${n}`).nlink}`)
    .sort();
const strayAtRoot = () => readdirSync("/").filter((n) => n.includes(MARK));

beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
  sentinel = mkdtempSync("/tmp/berth-layer-sentinel-");
  writeFileSync(`${sentinel}/secret`, SECRET);
  before = listing(sentinel);
  scratch = mkdtempSync("/tmp/berth-layer-scratch-");
}, 120_000);

afterEach(() => {
  expect(listing(sentinel), "the host sentinel directory").toEqual(before);
  expect(strayAtRoot(), "files at the host's /").toEqual([]);
});

afterAll(async () => {
  for (const n of strayAtRoot()) rmSync(`/${n}`, { recursive: true, force: true });
  await removeRoot(t);
  expect(leaks(t)).toEqual([]);
  rmSync(sentinel, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

const sha = (d: Uint8Array | string) => new Bun.CryptoHasher("sha256").update(d).digest("hex");

/** A docker-archive (docker save's layout) of a one-layer image: the hostile layer. */
function archive(tag: string, layer: Uint8Array): string {
  const config = JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: { Cmd: ["sh"] },
    rootfs: { type: "layers", diff_ids: [`sha256:${sha(layer)}`] },
    history: [{ created_by: "test" }],
  });
  const outer = tarBytes([
    { name: `${sha(config)}.json`, body: config },
    { name: "layer/", type: "5" },
    { name: "layer/layer.tar", body: layer },
    { name: "manifest.json", body: JSON.stringify([{ Config: `${sha(config)}.json`, RepoTags: [tag], Layers: ["layer/layer.tar"] }]) },
  ]);
  const path = `${scratch}/${tag.replace(/[:/]/g, "_")}.tar`;
  writeFileSync(path, outer);
  return path;
}

const CASES: { name: string; entries: () => TarSpec[] }[] = [
  { name: "../ names", entries: () => [{ name: `../../../../../..${sentinel}/${MARK}-dotdot`, body: "x" }, { name: `a/../../../..${sentinel}/${MARK}-dotdot2`, body: "x" }] },
  { name: "absolute names", entries: () => [{ name: `${sentinel}/${MARK}-abs`, body: "x" }, { name: `/${MARK}-at-root`, body: "x" }] },
  { name: "a symlink to a host directory, then a file through it", entries: () => [{ name: "ln", type: "2", linkname: sentinel }, { name: `ln/${MARK}-through`, body: "x" }] },
  { name: "a symlink to /, then a file through it", entries: () => [{ name: "rootln", type: "2", linkname: "/" }, { name: `rootln/${MARK}-through-root`, body: "x" }] },
  { name: "a relative symlink climbing out, then a file through it", entries: () => [{ name: "up", type: "2", linkname: "../../../../../../../.." }, { name: `up${sentinel}/${MARK}-up`, body: "x" }] },
  { name: "a hard link to a host path", entries: () => [{ name: `${MARK}-hard`, type: "1", linkname: `${sentinel}/secret` }] },
  { name: "a hard link through ..", entries: () => [{ name: `${MARK}-hard2`, type: "1", linkname: `../../../../../..${sentinel}/secret` }] },
  { name: "a hard link through a symlink to a host directory", entries: () => [{ name: "ln2", type: "2", linkname: sentinel }, { name: `${MARK}-hard3`, type: "1", linkname: "ln2/secret" }] },
  { name: "whiteouts aiming outside (.wh. of .., a whiteout through ../)", entries: () => [{ name: "d/.wh...", body: "" }, { name: `../../../../../..${sentinel}/.wh.secret`, body: "" }, { name: "ln3", type: "2", linkname: sentinel }, { name: "ln3/.wh.secret", body: "" }] },
  { name: "an opaque whiteout through a symlink to a host directory", entries: () => [{ name: "ln4", type: "2", linkname: sentinel }, { name: "ln4/.wh..wh..opq", body: "" }] },
];

describe("malicious layers via berth load", () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const tag = `evil-${CASES.indexOf(c)}:${MARK}`;
      const r = await berth(t, ["load", "-i", archive(tag, tarBytes(c.entries()))]);
      if (r.code !== 0) {
        // Refused: with a reason that names the entry, and no image left behind.
        expect(r.stderr, c.name).toMatch(/layer entry|invalid|refus|outside|not allowed/i);
        expect((await berth(t, ["image", "inspect", tag])).code).toBe(1);
      } else {
        expect(r.stdout).toContain(`Loaded image: ${tag}`);
        await berth(t, ["rmi", tag]);
      }
    });
  }

  test("device nodes and a setuid root file: kept inside the image, as Docker keeps them", async () => {
    const tag = `evil-dev:${MARK}`;
    const layer = tarBytes([
      { name: "bin/", type: "5" },
      { name: "dev/", type: "5" },
      { name: "dev/kmsg-node", type: "3", devmajor: 1, devminor: 11, mode: 0o600 },
      { name: "dev/disk-node", type: "4", devmajor: 254, devminor: 0, mode: 0o600 },
      { name: "bin/suid", body: "#!/bin/sh\n", mode: 0o4755, uid: 0, gid: 0 },
    ]);
    const r = await berth(t, ["load", "-i", archive(tag, layer)]);
    expect(r.code, r.stderr).toBe(0);
    // The nodes are in the layer's directory under the root, nowhere else on the host.
    const found = Bun.spawnSync(["find", t.root, "-name", "kmsg-node", "-o", "-name", "disk-node", "-o", "-name", "suid"]).stdout.toString().trim().split("\n").filter(Boolean);
    expect(found.length).toBe(3);
    for (const f of found) expect(f.startsWith(`${t.root}/layers/`), f).toBe(true);
    const suid = found.find((f) => f.endsWith("/suid"))!;
    expect(statSync(suid).mode & 0o7777).toBe(0o4755);
    await berth(t, ["rmi", tag]);
  });

  test("a size field far beyond the data (1 TB): the load fails saying so, nothing is left", async () => {
    const tag = `evil-huge:${MARK}`;
    const layer = tarBytes([{ name: `${MARK}-huge`, body: "x".repeat(100), sizeField: 1_000_000_000_000 }]);
    const r = await berth(t, ["load", "-i", archive(tag, layer)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/\S/);
    expect((await berth(t, ["image", "inspect", tag])).code).toBe(1);
    expect(existsSync(`${t.root}/tmp`) ? readdirSync(`${t.root}/tmp`) : [], "scratch files left").toEqual([]);
  });
});
