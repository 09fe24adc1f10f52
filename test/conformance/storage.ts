// The storage driver conformance suite: every storage plugin runs it
// against the real kernel (test/storage-*.test.ts).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync,
  renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync,
} from "node:fs";
import type { StorageDriver, TarStream } from "../../core/contracts/storage.ts";
import { parseMountinfo } from "../../core/host.ts";
import { libcSys } from "../../core/sys/libc.ts";
import { pinUserns, unpinUserns } from "../../core/userns/pin.ts";

/** A layer tar made by GNU tar from a directory tree, streamed. */
function tarOf(dir: string): TarStream {
  const p = Bun.spawn(["tar", "--xattrs", "--xattrs-include=user.*", "--numeric-owner", "-C", dir, "-cf", "-", "."], { stdout: "pipe" });
  return p.stdout as unknown as TarStream;
}

function run(cmd: string[]) {
  const p = Bun.spawnSync(cmd, { stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${p.stderr.toString()}`);
}

const mountsUnder = (dir: string) =>
  parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8")).filter((m) => m.mountpoint.startsWith(dir));

export function storageConformance(name: string, make: (root: string) => Promise<StorageDriver>) {
  describe(`storage driver conformance: ${name}`, () => {
    let root: string;
    let stage: string;
    let d: StorageDriver;
    const L1 = `sha256:${"1".repeat(64)}`;
    const L2 = `sha256:${"2".repeat(64)}`;

    beforeAll(async () => {
      mkdirSync("/tmp/berth-tests", { recursive: true });
      root = mkdtempSync(`/tmp/berth-tests/storage-${name}-`);
      stage = `${root}/stage`;
      d = await make(`${root}/driver`);

      // Layer 1: files with modes, owners, times, links, xattrs; dirs to change later.
      const a = `${stage}/l1`;
      mkdirSync(`${a}/etc`, { recursive: true });
      mkdirSync(`${a}/opaque`);
      mkdirSync(`${a}/gone-dir/sub`, { recursive: true });
      writeFileSync(`${a}/etc/config`, "v1\n");
      writeFileSync(`${a}/etc/keep`, "keep\n");
      writeFileSync(`${a}/opaque/old`, "old\n");
      writeFileSync(`${a}/gone-dir/sub/f`, "f\n");
      writeFileSync(`${a}/deleted`, "bye\n");
      writeFileSync(`${a}/suid`, "#!/bin/sh\n", { mode: 0o4755 });
      writeFileSync(`${a}/owned`, "x", { mode: 0o640 });
      chownSync(`${a}/owned`, 1234, 5678);
      utimesSync(`${a}/owned`, 1_000_000, 1_000_000);
      symlinkSync("etc/config", `${a}/link`);
      linkSync(`${a}/etc/keep`, `${a}/hard`);
      libcSys.lsetxattr(`${a}/etc/keep`, "user.berth", new TextEncoder().encode("xattr-value"));

      // Layer 2: modify, add, delete (whiteout), opaque directory.
      const b = `${stage}/l2`;
      mkdirSync(`${b}/etc`, { recursive: true });
      mkdirSync(`${b}/opaque`);
      writeFileSync(`${b}/etc/config`, "v2\n");
      writeFileSync(`${b}/added`, "new\n");
      writeFileSync(`${b}/.wh.deleted`, "");
      writeFileSync(`${b}/.wh.gone-dir`, "");
      writeFileSync(`${b}/opaque/.wh..wh..opq`, "");
      writeFileSync(`${b}/opaque/fresh`, "fresh\n");

      await d.createLayer(L1, null, tarOf(a));
      await d.createLayer(L2, L1, tarOf(b));
    });

    afterAll(() => {
      expect(mountsUnder(root)).toEqual([]);
      rmSync(root, { recursive: true, force: true });
    });

    test("layers are recorded, and creating one again is a no-op", async () => {
      expect(d.hasLayer(L1)).toBe(true);
      expect(d.hasLayer(L2)).toBe(true);
      expect(d.hasLayer(`sha256:${"9".repeat(64)}`)).toBe(false);
      await d.createLayer(L1, null, tarOf(`${stage}/l1`));
      expect(d.hasLayer(L1)).toBe(true);
      expect(d.layers().sort()).toEqual([L1, L2].sort());
    });

    test("a container on the lower layer sees its files with modes, owners, times, links and xattrs", async () => {
      await d.createWritable("c-lower", L1);
      const r = await d.mount("c-lower");
      expect(readFileSync(`${r}/etc/config`, "utf8")).toBe("v1\n");
      expect(statSync(`${r}/suid`).mode & 0o7777).toBe(0o4755);
      const owned = statSync(`${r}/owned`);
      expect([owned.uid, owned.gid, owned.mode & 0o777, owned.mtimeMs]).toEqual([1234, 5678, 0o640, 1_000_000_000]);
      expect(readlinkSync(`${r}/link`)).toBe("etc/config");
      expect(statSync(`${r}/hard`).ino).toBe(statSync(`${r}/etc/keep`).ino);
      expect(new TextDecoder().decode(libcSys.lgetxattr(`${r}/etc/keep`, "user.berth")!)).toBe("xattr-value");
      expect(readdirSync(`${r}/gone-dir/sub`)).toEqual(["f"]);
      expect(d.writables()).toContain("c-lower");
      await d.removeWritable("c-lower");
      expect(d.writables()).not.toContain("c-lower");
    });

    test("the upper layer modifies, adds, deletes and makes directories opaque", async () => {
      await d.createWritable("c-upper", L2);
      const r = await d.mount("c-upper");
      expect(readFileSync(`${r}/etc/config`, "utf8")).toBe("v2\n");
      expect(readFileSync(`${r}/etc/keep`, "utf8")).toBe("keep\n");
      expect(readFileSync(`${r}/added`, "utf8")).toBe("new\n");
      expect(existsSync(`${r}/deleted`)).toBe(false);
      expect(existsSync(`${r}/gone-dir`)).toBe(false);
      expect(readdirSync(`${r}/opaque`)).toEqual(["fresh"]);
      expect(readdirSync(r).some((n) => n.startsWith(".wh."))).toBe(false);
      await d.removeWritable("c-upper");
    });

    test("writes are copy-on-write: the image layers and other containers are untouched", async () => {
      await d.createWritable("c-a", L2);
      await d.createWritable("c-b", L2);
      const a = await d.mount("c-a");
      const b = await d.mount("c-b");
      const before = await d.writableSize("c-a");
      writeFileSync(`${a}/etc/keep`, "changed by a\n");
      rmSync(`${a}/added`);
      writeFileSync(`${a}/big`, Buffer.alloc(100_000));
      expect(await d.writableSize("c-a")).toBeGreaterThanOrEqual(before + 100_000);
      expect(readFileSync(`${b}/etc/keep`, "utf8")).toBe("keep\n");
      expect(existsSync(`${b}/added`)).toBe(true);
      // The change survives unmount and mount.
      await d.unmount("c-a");
      const again = await d.mount("c-a");
      expect(readFileSync(`${again}/etc/keep`, "utf8")).toBe("changed by a\n");
      await d.createWritable("c-c", L2);
      expect(readFileSync(`${await d.mount("c-c")}/etc/keep`, "utf8")).toBe("keep\n");
      for (const id of ["c-a", "c-b", "c-c"]) await d.removeWritable(id);
    });

    test("renames across layers, hardlinks, and mode, owner and xattr changes are copied up; the lower layer is untouched", async () => {
      await d.createWritable("c-mv", L2);
      const r = await d.mount("c-mv");
      // A file from the lower layer renamed, a lower directory renamed as mv(1)
      // does it (overlay answers EXDEV without redirect_dir; mv then copies).
      renameSync(`${r}/etc/config`, `${r}/config-moved`);
      run(["mv", `${r}/opaque`, `${r}/opaque-moved`]);
      linkSync(`${r}/etc/keep`, `${r}/keep-link`);
      chmodSync(`${r}/owned`, 0o600);
      chownSync(`${r}/owned`, 42, 43);
      libcSys.lsetxattr(`${r}/suid`, "user.changed", new TextEncoder().encode("yes"));
      expect(readFileSync(`${r}/config-moved`, "utf8")).toBe("v2\n");
      expect(existsSync(`${r}/etc/config`)).toBe(false);
      expect(readdirSync(`${r}/opaque-moved`)).toEqual(["fresh"]);
      expect(existsSync(`${r}/opaque`)).toBe(false);
      expect(statSync(`${r}/keep-link`).ino).toBe(statSync(`${r}/etc/keep`).ino);
      expect(statSync(`${r}/keep-link`).nlink).toBeGreaterThanOrEqual(2);
      const owned = statSync(`${r}/owned`);
      expect([owned.uid, owned.gid, owned.mode & 0o777]).toEqual([42, 43, 0o600]);
      expect(readFileSync(`${r}/owned`, "utf8")).toBe("x");
      // The same survives a remount, and another container still sees the image as it was.
      await d.unmount("c-mv");
      const again = await d.mount("c-mv");
      expect(readFileSync(`${again}/config-moved`, "utf8")).toBe("v2\n");
      expect(new TextDecoder().decode(libcSys.lgetxattr(`${again}/suid`, "user.changed")!)).toBe("yes");
      await d.createWritable("c-other", L2);
      const o = await d.mount("c-other");
      expect(readFileSync(`${o}/etc/config`, "utf8")).toBe("v2\n");
      expect(readdirSync(`${o}/opaque`)).toEqual(["fresh"]);
      expect([statSync(`${o}/owned`).uid, statSync(`${o}/owned`).mode & 0o777]).toEqual([1234, 0o640]);
      expect(libcSys.lgetxattr(`${o}/suid`, "user.changed")).toBeFalsy();
      for (const id of ["c-mv", "c-other"]) await d.removeWritable(id);
    });

    test("changes() lists what a container added, changed and deleted, and a commit of them is a layer that reproduces it", async () => {
      await d.createWritable("c-diff", L2);
      const r = await d.mount("c-diff");
      writeFileSync(`${r}/etc/config`, "v3\n");
      mkdirSync(`${r}/new/deep`, { recursive: true });
      writeFileSync(`${r}/new/deep/file`, "deep\n");
      rmSync(`${r}/etc/keep`);
      rmSync(`${r}/added`);
      run(["mv", `${r}/opaque`, `${r}/renamed-dir`]);
      const changes = await d.changes("c-diff");
      const byPath = new Map(changes.map((c) => [c.Path, c.Kind]));
      expect(byPath.get("/etc/config")).toBe(0);
      expect(byPath.get("/etc")).toBe(0);
      expect(byPath.get("/new")).toBe(1);
      expect(byPath.get("/new/deep/file")).toBe(1);
      expect(byPath.get("/etc/keep")).toBe(2);
      expect(byPath.get("/added")).toBe(2);
      expect(byPath.get("/opaque")).toBe(2);
      expect(byPath.get("/renamed-dir")).toBe(1);
      expect(byPath.has("/suid")).toBe(false);
      expect(changes.some((c) => c.Path.includes(".wh."))).toBe(false);

      // Commit: the changed paths and a whiteout per deleted one, as a layer on L2.
      const L3 = `sha256:${"3".repeat(64)}`;
      const staged = `${stage}/commit`;
      mkdirSync(staged, { recursive: true });
      for (const c of changes) {
        const at = c.Path.lastIndexOf("/");
        if (c.Kind === 2) {
          mkdirSync(`${staged}${c.Path.slice(0, at)}`, { recursive: true });
          writeFileSync(`${staged}${c.Path.slice(0, at)}/.wh.${c.Path.slice(at + 1)}`, "");
        } else if (!lstatSync(`${r}${c.Path}`).isDirectory()) {
          mkdirSync(`${staged}${c.Path.slice(0, at)}`, { recursive: true });
          run(["cp", "-a", `${r}${c.Path}`, `${staged}${c.Path}`]);
        } else {
          mkdirSync(`${staged}${c.Path}`, { recursive: true });
        }
      }
      await d.createLayer(L3, L2, tarOf(staged));
      await d.createWritable("c-from-commit", L3);
      const n = await d.mount("c-from-commit");
      expect(readFileSync(`${n}/etc/config`, "utf8")).toBe("v3\n");
      expect(readFileSync(`${n}/new/deep/file`, "utf8")).toBe("deep\n");
      expect(readdirSync(`${n}/renamed-dir`)).toEqual(["fresh"]);
      for (const gone of ["etc/keep", "added", "opaque"]) expect(existsSync(`${n}/${gone}`)).toBe(false);
      expect(await d.changes("c-from-commit")).toEqual([]);
      for (const id of ["c-diff", "c-from-commit"]) await d.removeWritable(id);
      await d.removeLayer(L3);
    });

    test("with an id map (--userns-remap) the image's owners show shifted; the image's layers and other containers are as they were", async () => {
      const pin = `${root}/userns-pin`;
      const ranges = [{ container: 0, host: 700000, size: 65536 }];
      pinUserns(libcSys, pin, { user: "t", group: "t", uids: ranges, gids: ranges });
      try {
        await d.createWritable("c-idmap", L2);
        const r = await d.mount("c-idmap", { userns: pin, uids: ranges, gids: ranges });
        const owned = statSync(`${r}/owned`);
        expect([owned.uid, owned.gid, owned.mode & 0o777]).toEqual([701234, 705678, 0o640]);
        expect([statSync(r).uid, statSync(`${r}/etc/config`).uid]).toEqual([700000, 700000]);
        expect(statSync(`${r}/suid`).mode & 0o7777).toBe(0o4755);
        expect(readFileSync(`${r}/etc/keep`, "utf8")).toBe("keep\n");
        expect(await d.mount("c-idmap", { userns: pin, uids: ranges, gids: ranges })).toBe(r);
        await d.createWritable("c-plain", L2);
        expect(statSync(`${await d.mount("c-plain")}/owned`).uid).toBe(1234);
        for (const id of ["c-idmap", "c-plain"]) await d.removeWritable(id);
      } finally {
        unpinUserns(libcSys, pin);
      }
    });

    test("mount and unmount are idempotent; removal leaves no mount and no directory", async () => {
      await d.createWritable("c-idem", L1);
      const r1 = await d.mount("c-idem");
      const r2 = await d.mount("c-idem");
      expect(r2).toBe(r1);
      expect(mountsUnder(r1).length).toBeLessThanOrEqual(1);
      await d.unmount("c-idem");
      await d.unmount("c-idem");
      expect(mountsUnder(r1)).toEqual([]);
      await d.removeWritable("c-idem");
      await d.removeWritable("c-idem");
      expect(existsSync(r1)).toBe(false);
    });

    test("a failed unpack leaves no layer behind", async () => {
      const bad = `sha256:${"b".repeat(64)}`;
      async function* truncated() {
        const chunks: Uint8Array[] = [];
        for await (const c of tarOf(`${stage}/l1`)) chunks.push(c);
        const all = Buffer.concat(chunks);
        yield all.subarray(0, 700); // a header and part of a file
      }
      await expect(d.createLayer(bad, null, truncated())).rejects.toThrow();
      expect(d.hasLayer(bad)).toBe(false);
      expect(d.layers()).not.toContain(bad);
      const leftovers = (readdirSync(`${root}/driver`, { recursive: true }) as string[]).filter((n) => n.split("/").some((c) => c.startsWith(".tmp")));
      expect(leftovers).toEqual([]);
    });

    test("removing a layer removes its files", async () => {
      const extra = `sha256:${"e".repeat(64)}`;
      await d.createLayer(extra, null, tarOf(`${stage}/l1`));
      expect(d.hasLayer(extra)).toBe(true);
      expect(d.layers()).toContain(extra);
      await d.removeLayer(extra);
      expect(d.hasLayer(extra)).toBe(false);
      expect(d.layers()).not.toContain(extra);
    });
  });
}
