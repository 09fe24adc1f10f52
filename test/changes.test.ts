// `docker diff`: the changes of a writable layer, read from real overlay
// mounts (overlayChanges on the upper directory) and from full copies
// (naiveChanges), after the same operations made through the filesystem.
import { test, expect, describe, beforeAll, afterAll } from "vitest";
import { execFileSync } from "node:child_process";
import {
  appendFileSync, chmodSync, lutimesSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync,
} from "node:fs";
import { naiveChanges, overlayChanges, type Change } from "../core/engine/changes.ts";
import { BerthError } from "../core/errors.ts";
import { libcSys } from "../core/sys/libc.ts";
import { S_IFCHR } from "../core/sys/index.ts";

let base: string;
const mounts: string[] = [];
const T = 1_600_000_000;

beforeAll(() => {
  base = mkdtempSync("/tmp/berth-changes-test-");
});
afterAll(() => {
  for (const m of mounts.reverse()) {
    try {
      libcSys.umount(m);
    } catch {
      // already unmounted by its test
    }
  }
  rmSync(base, { recursive: true, force: true });
});

function files(root: string, spec: Record<string, string | null>) {
  for (const [path, content] of Object.entries(spec)) {
    const p = `${root}/${path}`;
    if (content === null) mkdirSync(p, { recursive: true });
    else {
      mkdirSync(p.slice(0, p.lastIndexOf("/")), { recursive: true });
      writeFileSync(p, content);
    }
  }
}

/** Every mtime under `root` set to T (directories last), so copies and layers compare equal. */
function settle(root: string) {
  const out = execFileSync("find", [root, "-depth", "-print0"]).toString().split("\0").filter(Boolean);
  for (const p of out) lutimesSync(p, T, T);
}

const whiteout = (p: string) => libcSys.mknod(p, S_IFCHR, 0);
const setOpaque = (p: string) => libcSys.lsetxattr(p, "trusted.overlay.opaque", new TextEncoder().encode("y"));

/** The image: a bottom layer and a top layer that hides some of it. */
function makeLayers(dir: string): { lower1: string; lower2: string } {
  const lower1 = `${dir}/l1`;
  const lower2 = `${dir}/l2`;
  files(lower1, {
    "etc/passwd": "root:x:0:0\n", "etc/group": "root:x:0:\n", "etc/hostname": "box\n",
    "bin/sh": "sh", "bin/ls": "ls",
    "data/a": "a", "data/b": "b", "data/sub/c": "c",
    "gone/x": "x", "gone/y/z": "z",
    "mv/src": "moved",
    "opq/old1": "1", "opq/old2": "2", "opq/keep": "k",
    "var/old": "hidden by l2",
    "quiet/f": "f",
  });
  symlinkSync("data", `${lower1}/lnk`);
  files(lower2, { "etc/new": "n", "var/only2": "2" });
  whiteout(`${lower2}/etc/group`);
  setOpaque(`${lower2}/var`);
  settle(lower1);
  settle(lower2);
  return { lower1, lower2 };
}

/** The operations of a container, made on its root filesystem `r`. */
function operate(r: string) {
  writeFileSync(`${r}/newfile`, "new");
  mkdirSync(`${r}/newdir/x`, { recursive: true });
  writeFileSync(`${r}/newdir/x/y`, "y");
  appendFileSync(`${r}/etc/passwd`, "app:x:1000:1000\n");
  unlinkSync(`${r}/bin/sh`);
  rmSync(`${r}/gone`, { recursive: true });
  renameSync(`${r}/mv/src`, `${r}/mv/dst`);
  chmodSync(`${r}/data/a`, 0o600);
  writeFileSync(`${r}/data/sub/c`, "C");
  rmSync(`${r}/opq`, { recursive: true });
  mkdirSync(`${r}/opq`);
  writeFileSync(`${r}/opq/new`, "new");
  writeFileSync(`${r}/opq/keep`, "kept, rewritten");
  writeFileSync(`${r}/etc/group`, "root:x:0:\n"); // the image's top layer deleted it
  writeFileSync(`${r}/var/old`, "back"); // hidden by the image's opaque /var
  unlinkSync(`${r}/var/only2`);
}

const M = 0;
const A = 1;
const D = 2;
const show = (list: Change[]) => list.map((c) => `${"CAD"[c.Kind]} ${c.Path}`);

function mountOverlay(dir: string, lowers: string[], extra = ""): { upper: string; merged: string } {
  const upper = `${dir}/upper`;
  const work = `${dir}/work`;
  const merged = `${dir}/merged`;
  for (const d of [upper, work, merged]) mkdirSync(d, { recursive: true });
  libcSys.mount("overlay", merged, "overlay", 0, `lowerdir=${lowers.join(":")},upperdir=${upper},workdir=${work}${extra}`);
  mounts.push(merged);
  return { upper, merged };
}

function unmount(merged: string) {
  libcSys.umount(merged);
  mounts.splice(mounts.indexOf(merged), 1);
}

describe("overlayChanges", () => {
  test("what a container did through a real overlay mount, as docker diff lists it", () => {
    const dir = `${base}/ovl`;
    const { lower1, lower2 } = makeLayers(dir);
    const { upper, merged } = mountOverlay(dir, [lower2, lower1]);
    try {
      operate(merged);
    } finally {
      unmount(merged);
    }
    const got = overlayChanges(upper, [lower2, lower1]);
    expect(show(got)).toEqual([
      "C /bin", // a whiteout was made in it: its mtime changed
      "D /bin/sh",
      // /data is not listed: copy-up keeps a directory's mtime, and its children were only Modified
      "C /data/a", // chmod: copied up
      "C /data/sub/c",
      "C /etc",
      "A /etc/group", // the image's top layer whites it out: new to the image
      "C /etc/passwd",
      "D /gone",
      "C /mv",
      "A /mv/dst",
      "D /mv/src",
      "A /newdir",
      "A /newdir/x",
      "A /newdir/x/y",
      "A /newfile",
      "C /opq", // removed and made again: opaque
      "C /opq/keep",
      "A /opq/new",
      "D /opq/old1",
      "D /opq/old2",
      "C /var",
      "A /var/old", // the image's /var is opaque in its top layer: l1's var/old is not in the image
      "D /var/only2",
    ]);
    expect(got.every((c) => [M, A, D].includes(c.Kind))).toBe(true);
  });

  test("an untouched layer has no changes; an unchanged copied-up directory is not listed", () => {
    const dir = `${base}/ovl-quiet`;
    const { lower1, lower2 } = makeLayers(dir);
    const { upper, merged } = mountOverlay(dir, [lower2, lower1]);
    try {
      expect(overlayChanges(upper, [lower2, lower1])).toEqual([]);
      appendFileSync(`${merged}/quiet/f`, "more");
    } finally {
      unmount(merged);
    }
    expect(show(overlayChanges(upper, [lower2, lower1]))).toEqual(["C /quiet/f"]);
  });

  test("a directory above an addition is listed even when its own stat did not change", () => {
    const dir = `${base}/ovl-parents`;
    const { lower1, lower2 } = makeLayers(dir);
    const { upper, merged } = mountOverlay(dir, [lower2, lower1]);
    try {
      writeFileSync(`${merged}/data/sub/new`, "n");
      utimesSync(`${merged}/data/sub`, T, T); // its mtime put back: only the child tells
    } finally {
      unmount(merged);
    }
    expect(show(overlayChanges(upper, [lower2, lower1]))).toEqual(["C /data", "C /data/sub", "A /data/sub/new"]);
  });

  test("a directory renamed with redirect_dir is refused, not misreported", () => {
    const dir = `${base}/ovl-redirect`;
    const { lower1, lower2 } = makeLayers(dir);
    const { upper, merged } = mountOverlay(dir, [lower2, lower1], ",redirect_dir=on");
    try {
      renameSync(`${merged}/gone`, `${merged}/went`);
    } finally {
      unmount(merged);
    }
    let err: unknown;
    try {
      overlayChanges(upper, [lower2, lower1]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BerthError);
    expect((err as BerthError).kind).toBe("NotSupported");
    expect((err as Error).message).toMatch(/\/went .*redirect_dir/);
  });
});

describe("naiveChanges", () => {
  /** The image as one full tree (what vfs keeps), and a container's copy of it. */
  function trees(name: string): { image: string; rw: string } {
    const dir = `${base}/${name}`;
    const image = `${dir}/image`;
    files(image, {
      "etc/passwd": "root:x:0:0\n", "etc/hostname": "box\n", "etc/new": "n",
      "bin/sh": "sh", "bin/ls": "ls",
      "data/a": "a", "data/b": "b", "data/sub/c": "c",
      "gone/x": "x", "gone/y/z": "z",
      "mv/src": "moved",
      "opq/old1": "1", "opq/old2": "2", "opq/keep": "k",
      "var/only2": "2",
      "quiet/f": "f",
    });
    symlinkSync("data", `${image}/lnk`);
    settle(image);
    const rw = `${dir}/rw`;
    execFileSync("cp", ["-a", image, rw]);
    return { image, rw };
  }

  test("the same operations on a full copy", () => {
    const { image, rw } = trees("naive");
    expect(naiveChanges(rw, image)).toEqual([]);
    operate(rw);
    expect(show(naiveChanges(rw, image))).toEqual([
      "C /bin",
      "D /bin/sh",
      "C /data", // moby lists a directory with any change under it
      "C /data/a",
      "C /data/sub",
      "C /data/sub/c",
      "C /etc",
      "A /etc/group",
      "C /etc/passwd",
      "D /gone",
      "C /mv",
      "A /mv/dst",
      "D /mv/src",
      "A /newdir",
      "A /newdir/x",
      "A /newdir/x/y",
      "A /newfile",
      "C /opq", // same mode, owner: listed for what changed under it
      "C /opq/keep",
      "A /opq/new",
      "D /opq/old1",
      "D /opq/old2",
      "C /var",
      "A /var/old",
      "D /var/only2",
    ]);
  });

  test("changes only lstat, a symlink target or an xattr can tell", () => {
    const { image, rw } = trees("naive-subtle");
    // Same length, same mtime: only the target differs.
    unlinkSync(`${rw}/lnk`);
    symlinkSync("date", `${rw}/lnk`);
    lutimesSync(`${rw}/lnk`, T, T);
    // Same content and mtime, another owner.
    execFileSync("chown", ["-h", "1000:1000", `${rw}/bin/ls`]);
    // A file capability added, nothing else.
    libcSys.lsetxattr(`${rw}/etc/hostname`, "security.capability", new Uint8Array([0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    // A directory's mtime alone is not a change (moby#9874).
    utimesSync(`${rw}/quiet`, T + 5, T + 5);
    // A file's mtime alone is.
    utimesSync(`${rw}/data/b`, T + 5, T + 5);
    expect(show(naiveChanges(rw, image))).toEqual(["C /bin", "C /bin/ls", "C /data", "C /data/b", "C /etc", "C /etc/hostname", "C /lnk"]);
  });

  test("a type change: a file where a directory was, and the reverse", () => {
    const { image, rw } = trees("naive-types");
    rmSync(`${rw}/gone`, { recursive: true });
    writeFileSync(`${rw}/gone`, "now a file");
    unlinkSync(`${rw}/etc/passwd`);
    mkdirSync(`${rw}/etc/passwd`);
    writeFileSync(`${rw}/etc/passwd/inside`, "i");
    expect(show(naiveChanges(rw, image))).toEqual(["C /etc", "C /etc/passwd", "A /etc/passwd/inside", "C /gone"]);
  });
});
