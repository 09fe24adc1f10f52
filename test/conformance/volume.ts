// The volume driver conformance suite: every volume plugin runs it against
// the real kernel (test/volume-*.test.ts). `make(root)` returns a driver
// keeping its volumes under `root`; called again with the same root it must
// return a new instance that sees the same volumes (a daemon restart).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statfsSync, statSync,
  writeFileSync,
} from "node:fs";
import type { VolumeDriver } from "../../core/contracts/volume.ts";
import { BerthError } from "../../core/errors.ts";
import { parseMountinfo } from "../../core/host.ts";
import { MNT_DETACH } from "../../core/sys/index.ts";
import { libcSys } from "../../core/sys/libc.ts";

const mountinfo = () => parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8"));
const mountsUnder = (dir: string) => mountinfo().filter((m) => m.mountpoint === dir || m.mountpoint.startsWith(`${dir}/`));
const mountsAt = (path: string) => mountinfo().filter((m) => m.mountpoint === realpathSync(path));

/** The error kind a promise rejects with, or "ok". */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (err) {
    return err instanceof BerthError ? err.kind : `not a BerthError: ${String(err)}`;
  }
}
async function message(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "(resolved)";
  } catch (err) {
    return String((err as Error).message);
  }
}

const TMPFS = { type: "tmpfs", device: "tmpfs", o: "size=8m" };

export function volumeConformance(name: string, make: (root: string) => Promise<VolumeDriver>) {
  describe(`volume driver conformance: ${name}`, () => {
    let root: string;
    let host: string;
    let d: VolumeDriver;

    beforeAll(async () => {
      mkdirSync("/tmp/berth-tests", { recursive: true });
      root = realpathSync(mkdtempSync(`/tmp/berth-tests/volume-${name}-`));
      host = `${root}/host`;
      mkdirSync(host);
      d = await make(`${root}/driver`);
    });

    afterAll(() => {
      const left = mountsUnder(root).map((m) => m.mountpoint);
      // Clean up even after a failure, deepest first, before deleting anything.
      for (const m of [...left].sort().reverse()) libcSys.umount(m, MNT_DETACH);
      rmSync(root, { recursive: true, force: true });
      expect(left).toEqual([]);
    });

    test("create, list, path and remove", async () => {
      expect(d.list()).not.toContain("conf-basic");
      await d.create("conf-basic", {});
      expect(d.list()).toContain("conf-basic");
      const p = d.path("conf-basic");
      expect(statSync(p).isDirectory()).toBe(true);
      expect(readdirSync(p)).toEqual([]);
      await d.remove("conf-basic");
      expect(d.list()).not.toContain("conf-basic");
      expect(existsSync(p)).toBe(false);
      // Removing a missing volume is fine.
      expect(await outcome(d.remove("conf-basic"))).toBe("ok");
      expect(await outcome(d.remove("conf-never-created"))).toBe("ok");
    });

    test("creating an existing volume is a no-op that keeps its data and its original options", async () => {
      await d.create("conf-idem", {});
      writeFileSync(`${d.path("conf-idem")}/kept`, "kept\n");
      await d.create("conf-idem", {});
      await d.create("conf-idem", TMPFS);
      expect(d.list().filter((n) => n === "conf-idem")).toEqual(["conf-idem"]);
      const p = await d.mount("conf-idem", "c-idem");
      expect(mountsAt(p)).toEqual([]); // still a plain directory, not a tmpfs
      expect(readFileSync(`${p}/kept`, "utf8")).toBe("kept\n");
      await d.unmount("conf-idem", "c-idem");
      await d.remove("conf-idem");
    });

    test("names are validated: invalid ones are refused and create nothing", async () => {
      const before = d.list();
      for (const bad of ["a", "", "-lead", ".hidden", "_under", "a/b", "../escape", "has space", "tab\tx", "ünï", "a:b"]) {
        expect(await outcome(d.create(bad, {})), bad).toBe("InvalidArgument");
      }
      expect(d.list()).toEqual(before);
      expect(readdirSync(root).sort()).toEqual(["driver", "host"]);
      for (const good of ["ab", "A1", "9.x_y-z", "a..b"]) {
        await d.create(good, {});
        expect(d.list()).toContain(good);
        await d.remove(good);
      }
    });

    test("mount returns the volume's writable directory; its data survives unmount and remount", async () => {
      await d.create("conf-data", {});
      const p = await d.mount("conf-data", "c-data");
      expect(p).toBe(d.path("conf-data"));
      writeFileSync(`${p}/file`, "persisted\n");
      mkdirSync(`${p}/sub`);
      await d.unmount("conf-data", "c-data");
      const again = await d.mount("conf-data", "c-data-2");
      expect(readFileSync(`${again}/file`, "utf8")).toBe("persisted\n");
      expect(statSync(`${again}/sub`).isDirectory()).toBe(true);
      await d.unmount("conf-data", "c-data-2");
      // Unmounting an unknown user, or again, is a no-op.
      expect(await outcome(d.unmount("conf-data", "c-never"))).toBe("ok");
      expect(await outcome(d.unmount("conf-data", "c-data-2"))).toBe("ok");
      await d.remove("conf-data");
    });

    test("remove is refused (Conflict) while any user has the volume mounted, and allowed after", async () => {
      await d.create("conf-busy", {});
      const p = await d.mount("conf-busy", "c-one");
      writeFileSync(`${p}/f`, "x");
      await d.mount("conf-busy", "c-two");
      expect(await outcome(d.remove("conf-busy"))).toBe("Conflict");
      await d.unmount("conf-busy", "c-one");
      expect(await outcome(d.remove("conf-busy"))).toBe("Conflict");
      expect(d.list()).toContain("conf-busy");
      expect(readFileSync(`${p}/f`, "utf8")).toBe("x");
      await d.unmount("conf-busy", "c-two");
      expect(await outcome(d.remove("conf-busy"))).toBe("ok");
      expect(d.list()).not.toContain("conf-busy");
    });

    test("a tmpfs volume is a tmpfs of the given size from the first mount to the last unmount", async () => {
      await d.create("conf-tmpfs", TMPFS);
      const p = d.path("conf-tmpfs");
      expect(mountsAt(p)).toEqual([]); // created, not mounted yet
      expect(await d.mount("conf-tmpfs", "c-t1")).toBe(p);
      const m = mountsAt(p);
      expect(m.map((x) => x.fstype)).toEqual(["tmpfs"]);
      const fs = statfsSync(p);
      expect(fs.blocks * fs.bsize).toBe(8 * 1024 * 1024);
      writeFileSync(`${p}/in-tmpfs`, "t");

      // A second user: still one mount, and it stays after the first leaves.
      expect(await d.mount("conf-tmpfs", "c-t2")).toBe(p);
      expect(mountsAt(p)).toHaveLength(1);
      await d.unmount("conf-tmpfs", "c-t1");
      expect(mountsAt(p).map((x) => x.fstype)).toEqual(["tmpfs"]);
      expect(readFileSync(`${p}/in-tmpfs`, "utf8")).toBe("t");
      expect(await outcome(d.remove("conf-tmpfs"))).toBe("Conflict");

      // The last user leaves: unmounted, the tmpfs' data gone.
      await d.unmount("conf-tmpfs", "c-t2");
      expect(mountsAt(p)).toEqual([]);
      expect(existsSync(`${p}/in-tmpfs`)).toBe(false);

      // Mounted again: a fresh tmpfs.
      await d.mount("conf-tmpfs", "c-t3");
      expect(mountsAt(p).map((x) => x.fstype)).toEqual(["tmpfs"]);
      expect(readdirSync(p)).toEqual([]);
      await d.unmount("conf-tmpfs", "c-t3");
      await d.remove("conf-tmpfs");
      expect(mountsUnder(root)).toEqual([]);
    });

    test("a bind volume shows the host directory, and removing it leaves the host's files alone", async () => {
      const src = `${host}/bind-src`;
      mkdirSync(src);
      writeFileSync(`${src}/from-host`, "host\n");
      await d.create("conf-bind", { type: "none", device: src, o: "bind" });
      const p = await d.mount("conf-bind", "c-b");
      expect(mountsAt(p)).toHaveLength(1);
      expect(readFileSync(`${p}/from-host`, "utf8")).toBe("host\n");
      writeFileSync(`${p}/from-volume`, "vol\n");
      expect(readFileSync(`${src}/from-volume`, "utf8")).toBe("vol\n");
      await d.unmount("conf-bind", "c-b");
      expect(mountsAt(p)).toEqual([]);
      expect(existsSync(`${p}/from-host`)).toBe(false);
      await d.remove("conf-bind");
      expect(readdirSync(src).sort()).toEqual(["from-host", "from-volume"]);
    });

    test("a read-only bind volume cannot be written through", async () => {
      const src = `${host}/bind-ro`;
      mkdirSync(src);
      await d.create("conf-bind-ro", { type: "none", device: src, o: "bind,ro" });
      const p = await d.mount("conf-bind-ro", "c-ro");
      expect(mountsAt(p)).toHaveLength(1);
      let code: string | undefined;
      try {
        writeFileSync(`${p}/nope`, "x");
      } catch (err) {
        code = (err as { code?: string }).code;
      }
      expect(code).toBe("EROFS");
      expect(readdirSync(src)).toEqual([]);
      await d.unmount("conf-bind-ro", "c-ro");
      await d.remove("conf-bind-ro");
    });

    test("unknown options, a missing device and a missing bind source are refused and create nothing", async () => {
      const before = d.list();
      expect(await outcome(d.create("conf-opt-unknown", { colour: "blue" }))).toBe("InvalidArgument");
      expect(await message(d.create("conf-opt-unknown", { colour: "blue" }))).toContain("colour");
      expect(await outcome(d.create("conf-opt-unknown", { ...TMPFS, colour: "blue" }))).toBe("InvalidArgument");
      expect(await outcome(d.create("conf-opt-nodev", { type: "tmpfs", o: "size=8m" }))).toBe("InvalidArgument");
      expect(await message(d.create("conf-opt-nodev", { type: "tmpfs" }))).toContain("device");
      expect(await outcome(d.create("conf-opt-notype", { device: "tmpfs" }))).toBe("InvalidArgument");
      expect(await outcome(d.create("conf-opt-nobind", { type: "none", device: `${host}/does-not-exist`, o: "bind" }))).toBe("InvalidArgument");
      expect(d.list()).toEqual(before);
      for (const n of ["conf-opt-unknown", "conf-opt-nodev", "conf-opt-notype", "conf-opt-nobind"]) {
        expect(existsSync(d.path(n)), n).toBe(false);
      }
    });

    test("options and users survive a new driver instance; mounting again for a known user is idempotent", async () => {
      await d.create("conf-restart", TMPFS);
      await d.create("conf-restart-cold", TMPFS);
      const p = await d.mount("conf-restart", "c-r");
      writeFileSync(`${p}/before-restart`, "r");

      const d2 = await make(`${root}/driver`);
      expect(d2).not.toBe(d);
      expect(d2.list()).toEqual(expect.arrayContaining(["conf-restart", "conf-restart-cold"]));
      // The restarted daemon mounts again for its running container: same state, no second mount.
      expect(await d2.mount("conf-restart", "c-r")).toBe(p);
      expect(mountsAt(p)).toHaveLength(1);
      expect(readFileSync(`${p}/before-restart`, "utf8")).toBe("r");
      expect(await outcome(d2.remove("conf-restart"))).toBe("Conflict");
      await d2.unmount("conf-restart", "c-r");
      expect(mountsAt(p)).toEqual([]);
      await d2.remove("conf-restart");

      // A volume never mounted before the restart gets its options from disk.
      const cold = await d2.mount("conf-restart-cold", "c-cold");
      expect(mountsAt(cold).map((x) => x.fstype)).toEqual(["tmpfs"]);
      const fs = statfsSync(cold);
      expect(fs.blocks * fs.bsize).toBe(8 * 1024 * 1024);
      await d2.unmount("conf-restart-cold", "c-cold");
      expect(mountsAt(cold)).toEqual([]);
      await d2.remove("conf-restart-cold");
      expect(d.list()).not.toContain("conf-restart-cold");
    });

    test("nothing is left mounted under the driver's root", () => {
      expect(mountsUnder(root)).toEqual([]);
    });
  });
}
