// The local volume driver: the conformance suite, then what is its own
// (Docker's layout, modes and messages, crash leftovers, stale users).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync,
} from "node:fs";
import type { VolumeDriver } from "../core/contracts/volume.ts";
import { BerthError } from "../core/errors.ts";
import { parseMountinfo, probeHost } from "../core/host.ts";
import { PLUGIN_PREFERENCE } from "../core/engine/engine.ts";
import { Registry } from "../core/registry.ts";
import { MNT_DETACH } from "../core/sys/index.ts";
import { libcSys } from "../core/sys/libc.ts";
import { plugin } from "../plugins/volume/local/index.ts";
import { volumeConformance } from "./conformance/volume.ts";

/** The plugin initialised through the registry, as the engine does it. */
function make(root: string): Promise<VolumeDriver> {
  const registry = new Registry(probeHost(), PLUGIN_PREFERENCE, { root, options: {} });
  registry.register(plugin);
  return registry.get("volume", "local");
}

volumeConformance("local", make);

const mountsUnder = (dir: string) =>
  parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8")).filter((m) => m.mountpoint.startsWith(`${dir}/`));

async function rejection(p: Promise<unknown>): Promise<BerthError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof BerthError) return err;
    throw err;
  }
  throw new Error("expected a rejection");
}

describe("local volume driver", () => {
  let root: string;
  let d: VolumeDriver;

  beforeAll(async () => {
    mkdirSync("/tmp/berth-tests", { recursive: true });
    root = realpathSync(mkdtempSync("/tmp/berth-tests/volume-local-"));
    d = await make(root);
  });

  afterAll(() => {
    const left = mountsUnder(root).map((m) => m.mountpoint);
    for (const m of [...left].sort().reverse()) libcSys.umount(m, MNT_DETACH);
    rmSync(root, { recursive: true, force: true });
    expect(left).toEqual([]);
  });

  test("registers as volume/local and is the default volume driver", () => {
    expect([plugin.kind, plugin.name]).toEqual(["volume", "local"]);
    const registry = new Registry(probeHost(), PLUGIN_PREFERENCE, { root, options: {} });
    registry.register(plugin);
    expect(registry.defaultName("volume")).toBe("local");
  });

  test("volumes live in <root>/volumes/<name>/_data with Docker's modes, owned by root", async () => {
    await d.create("layout", {});
    expect(d.path("layout")).toBe(`${root}/volumes/layout/_data`);
    const vol = statSync(`${root}/volumes/layout`);
    const data = statSync(`${root}/volumes/layout/_data`);
    expect([vol.mode & 0o7777, vol.uid, vol.gid]).toEqual([0o701, 0, 0]);
    expect([data.mode & 0o7777, data.uid, data.gid]).toEqual([0o755, 0, 0]);
    expect(statSync(`${root}/volumes`).mode & 0o7777).toBe(0o701);
    // No options, no options file.
    expect(readdirSync(`${root}/volumes/layout`)).toEqual(["_data"]);
    await d.remove("layout");
    expect(existsSync(`${root}/volumes/layout`)).toBe(false);
  });

  test("options are kept in opts.json next to _data", async () => {
    await d.create("with-opts", { type: "tmpfs", device: "tmpfs", o: "size=1m,mode=0700" });
    expect(JSON.parse(readFileSync(`${root}/volumes/with-opts/opts.json`, "utf8"))).toEqual({
      type: "tmpfs", device: "tmpfs", o: "size=1m,mode=0700",
    });
    // The data part of o reaches the filesystem.
    const p = await d.mount("with-opts", "u1");
    expect(statSync(p).mode & 0o7777).toBe(0o700);
    await d.unmount("with-opts", "u1");
    await d.remove("with-opts");
  });

  test("invalid names and options get Docker's messages", async () => {
    const bad = await rejection(d.create("a/b", {}));
    expect(bad.kind).toBe("InvalidArgument");
    expect(bad.message).toBe(
      '"a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path',
    );
    expect((await rejection(d.create("x", {}))).message).toBe(
      "volume name is too short, names should be at least two alphanumeric characters",
    );
    expect((await rejection(d.create("opts", { foo: "1" }))).message).toBe('invalid option: "foo"');
    expect((await rejection(d.create("opts", { type: "tmpfs" }))).message).toBe('missing required option: "device"');
    expect((await rejection(d.create("opts", { o: "size=1m" }))).kind).toBe("InvalidArgument");
    expect((await rejection(d.create("opts", { size: "1g" }))).message).toBe("quota size requested but no quota support");
    const rel = await rejection(d.create("opts", { type: "none", device: "relative/dir", o: "bind" }));
    expect(rel.kind).toBe("InvalidArgument");
    // Every operation checks the name: none may reach outside the volumes directory.
    expect(() => d.path("../escape")).toThrow(BerthError);
    expect((await rejection(d.remove("../escape"))).kind).toBe("InvalidArgument");
    expect((await rejection(d.mount("../escape", "u"))).kind).toBe("InvalidArgument");
    expect((await rejection(d.mount("some-vol", "../u"))).kind).toBe("InvalidArgument");
    expect(d.list()).toEqual([]);
  });

  test("mounting a missing volume is NotFound", async () => {
    expect((await rejection(d.mount("missing-vol", "u1"))).kind).toBe("NotFound");
  });

  test("list shows complete volumes only: no temp dirs from a crash, stray files or bare directories", async () => {
    await d.create("real-one", {});
    mkdirSync(`${root}/volumes/.tmp-0123456789ab/_data`, { recursive: true }); // a create cut short
    writeFileSync(`${root}/volumes/stray-file`, "");
    mkdirSync(`${root}/volumes/no-data-dir`);
    expect(d.list()).toEqual(["real-one"]);
    rmSync(`${root}/volumes/.tmp-0123456789ab`, { recursive: true });
    rmSync(`${root}/volumes/stray-file`);
    rmSync(`${root}/volumes/no-data-dir`, { recursive: true });
    await d.remove("real-one");
    expect(d.list()).toEqual([]);
  });

  test("users are kept one file each; a user recorded in an earlier boot holds nothing", async () => {
    await d.create("stale", {});
    await d.mount("stale", "live-user");
    expect(readdirSync(`${root}/volumes/stale/users`)).toEqual(["live-user"]);
    expect(readFileSync(`${root}/volumes/stale/users/live-user`, "utf8")).toBe(
      readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(),
    );
    await d.unmount("stale", "live-user");
    expect(readdirSync(`${root}/volumes/stale/users`)).toEqual([]);
    // As if the machine had rebooted with a container still recorded.
    writeFileSync(`${root}/volumes/stale/users/old-boot-user`, "00000000-0000-0000-0000-000000000000");
    await d.remove("stale");
    expect(d.list()).toEqual([]);
  });

  test("a mount that fails records no user and leaves the volume removable", async () => {
    await d.create("bad-fs", { type: "no-such-filesystem", device: "none" });
    const err = await rejection(d.mount("bad-fs", "u1"));
    expect(err.message).toContain("failed to mount local volume");
    expect(readdirSync(`${root}/volumes/bad-fs`).includes("users") ? readdirSync(`${root}/volumes/bad-fs/users`) : []).toEqual([]);
    expect(mountsUnder(root)).toEqual([]);
    await d.remove("bad-fs");
    expect(d.list()).toEqual([]);
  });

  test("a mount left behind on _data (a user lost without unmounting) is undone by remove", async () => {
    await d.create("leftover", { type: "tmpfs", device: "tmpfs", o: "size=1m" });
    const p = await d.mount("leftover", "gone");
    rmSync(`${root}/volumes/leftover/users/gone`); // as if the engine had lost track of it
    expect(mountsUnder(root).map((m) => m.mountpoint)).toEqual([p]);
    await d.remove("leftover");
    expect(mountsUnder(root)).toEqual([]);
    expect(existsSync(`${root}/volumes/leftover`)).toBe(false);
  });
});
