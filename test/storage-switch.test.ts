// Switching a root's storage driver: the daemon restarted with another
// --storage-driver keeps every image usable (its layers unpacked again for
// the new driver from the content store), keeps running and starting the
// containers made with the old driver on that driver, says so, and when the
// image goes its layers go from both drivers.
import { afterAll, beforeAll, expect, test } from "vitest";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { berth, importBusybox, leaks, makeRoot, removeRoot, stopDaemon, type TestRoot } from "./helpers/berth.ts";

let overlay: TestRoot;
let vfs: TestRoot;
beforeAll(async () => {
  overlay = makeRoot(["--storage-driver", "overlay"]);
  vfs = { ...overlay, flags: [...overlay.flags.slice(0, -2), "--storage-driver", "vfs"] };
  await importBusybox(overlay);
});
afterAll(() => removeRoot(vfs));

async function ok(t: TestRoot, args: string[]) {
  const r = await berth(t, args);
  if (r.code !== 0) throw new Error(`berth ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
const layersOf = (driver: string, root = overlay.root) =>
  existsSync(`${root}/layers/${driver}`) ? readdirSync(`${root}/layers/${driver}`).filter((f) => /^[0-9a-f]{64}$/.test(f)) : [];

test("after a restart with --storage-driver vfs, the old containers stay on overlay and the image is unpacked for vfs", async () => {
  await ok(overlay, ["run", "-d", "--name", "runs-on", "bb", "sleep", "1000"]);
  await ok(overlay, ["run", "--name", "stopped", "bb", "sh", "-c", "echo kept > /data"]);
  expect(layersOf("overlay").length).toBe(1);
  expect(layersOf("vfs")).toEqual([]);
  await stopDaemon(overlay);

  const info = await ok(vfs, ["info"]);
  expect(info).toContain("Storage Driver: vfs\n");
  expect(info).toContain(" Containers on overlay: 2\n");
  const log = readFileSync(`${overlay.root}/berthd.log`, "utf8");
  expect(log).toContain("berthd: storage driver vfs: 2 containers were created with overlay: they keep using it; new containers use vfs, with images unpacked again from the content store");

  // The running container was adopted, and still works on its overlay mount.
  expect(await ok(vfs, ["exec", "runs-on", "sh", "-c", "grep ' / / ' /proc/self/mountinfo | grep -o overlay | head -1"])).toBe("overlay\n");
  // The stopped one starts again on overlay, with its data.
  expect(await ok(vfs, ["start", "-a", "stopped"])).toBe("");
  expect(await ok(vfs, ["inspect", "-f", "{{.GraphDriver.Name}} {{.State.ExitCode}}", "stopped"])).toBe("overlay 0\n");
  await ok(vfs, ["cp", "stopped:/data", `${overlay.root}/copied`]);
  expect(readFileSync(`${overlay.root}/copied`, "utf8")).toBe("kept\n");

  // A new container uses vfs: the image's layer was unpacked for it.
  await ok(vfs, ["create", "--name", "new-one", "bb", "cat", "/etc/hostname"]);
  expect(await ok(vfs, ["inspect", "-f", "{{.GraphDriver.Name}}", "new-one"])).toBe("vfs\n");
  expect(layersOf("vfs")).toEqual(layersOf("overlay"));
  const rootMount = await ok(vfs, ["run", "--rm", "bb", "head", "-1", "/proc/self/mountinfo"]);
  expect(rootMount).toContain(`${overlay.root}/layers/vfs/`);
  expect(rootMount).not.toContain("overlay");
}, 60_000);

test("removing the containers and the image removes its layers from both drivers; nothing leaks", async () => {
  await ok(vfs, ["rm", "-f", "runs-on", "stopped", "new-one"]);
  expect(await ok(vfs, ["rmi", "bb"])).toContain("Deleted: sha256:");
  expect(layersOf("overlay")).toEqual([]);
  expect(layersOf("vfs")).toEqual([]);
  for (const d of ["overlay", "vfs"]) expect(readdirSync(`${overlay.root}/layers/${d}/rw`)).toEqual([]);
  expect(leaks(vfs)).toEqual([]);
});
