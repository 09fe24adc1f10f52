// The fuse-overlay storage driver: the shared conformance suite, then a
// container end to end through berthd with --storage-driver fuse-overlay.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { readFileSync } from "node:fs";
import { parseMountinfo } from "../core/host.ts";
import { storageConformance } from "./conformance/storage.ts";
import { berth, importBusybox, leaks, makeRoot, processesMatching, removeRoot, type TestRoot } from "./helpers/berth.ts";
import { pluginInstance } from "./helpers/plugins.ts";

storageConformance("fuse-overlay", (root) => pluginInstance("storage", "fuse-overlay", root));

describe("fuse-overlay through berthd", () => {
  let t: TestRoot;
  beforeAll(async () => {
    t = makeRoot(["--storage-driver", "fuse-overlay"]);
    await importBusybox(t);
  });
  afterEach(() => {
    expect(leaks(t)).toEqual([]);
    expect(processesMatching(`${t.root}/layers/fuse-overlay/`)).toEqual([]);
  });
  afterAll(() => removeRoot(t));

  async function ok(args: string[]): Promise<string> {
    const r = await berth(t, args);
    if (r.code !== 0) throw new Error(`berth ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  test("a container runs on a fuse-overlayfs mount", async () => {
    const r = await ok(["run", "--rm", "bb", "sh", "-c", "echo hi > /tmp/f; cat /tmp/f; grep ' / / ' /proc/self/mountinfo"]);
    expect(r).toMatch(/^hi\n.* - fuse\.fuse-overlayfs /);
  });

  test("a container's writes are listed by diff and committed into an image; rm leaves no mount and no process", async () => {
    await ok(["run", "--name", "work", "bb", "sh", "-c", "echo hello > /hello; echo more >> /etc/passwd; rm /bin/ed; rm -r /usr/bin; mkdir /usr/bin; touch /usr/bin/only"]);
    const diff = (await ok(["diff", "work"])).trim().split("\n");
    expect(diff).toEqual(expect.arrayContaining(["A /hello", "C /etc/passwd", "D /bin/ed", "C /usr/bin", "A /usr/bin/only", "D /usr/bin/env"]));
    expect(diff.filter((l) => l.includes(".wh."))).toEqual([]);
    const id = (await ok(["commit", "work", "fo:1"])).trim();
    expect(id).toMatch(/^sha256:[a-f0-9]{64}$/);
    const r = await ok(["run", "--rm", "fo:1", "sh", "-c", "cat /hello; tail -1 /etc/passwd; test -e /bin/ed && echo ed-there || echo ed-gone; ls /usr/bin"]);
    expect(r).toBe("hello\nmore\ned-gone\nonly\n");
    const info = JSON.parse(await ok(["inspect", "work"]))[0];
    expect(info.GraphDriver?.Name ?? info.Driver).toBe("fuse-overlay");
    await ok(["rm", "work"]);
    await ok(["rmi", "fo:1"]);
    const fuse = parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8")).filter((m) => m.mountpoint.startsWith(t.root) && m.mountpoint !== `${t.root}/runtime/bun`);
    expect(fuse).toEqual([]);
  });
});
