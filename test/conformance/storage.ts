// The storage driver conformance suite: every storage plugin runs it
// against the real kernel (test/storage-*.test.ts).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  chownSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync,
  rmSync, statSync, symlinkSync, utimesSync, writeFileSync,
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
