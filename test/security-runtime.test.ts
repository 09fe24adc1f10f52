// CVE-2019-5736 through re-execution: a command of /proc/self/exe makes the
// container's init (the host's Bun) execute itself again inside the
// container, where it is the container's to open. It runs through a
// read-only bind mount (plugins/isolation/namespaces/runtime.ts), so the
// host's runtime can be neither written through it nor reached writable.
import { afterAll, beforeAll, expect, test } from "vitest";
import { readFileSync } from "node:fs";
import { parseMountinfo } from "../core/host.ts";
import { berth, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";

let t: TestRoot;
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
});
afterAll(() => removeRoot(t));

test("exec of /proc/self/exe runs the runtime from a read-only mount, and it cannot open itself for writing", async () => {
  const bunBefore = new Bun.CryptoHasher("sha256").update(readFileSync(process.execPath)).digest("hex");
  // The host's libc, read-only, so that Bun can start in a busybox container at all.
  const libs = ["/lib", "/lib64", "/usr/lib"].flatMap((d) => ["-v", `${d}:${d}:ro`]);
  expect((await berth(t, ["run", "-d", "--name", "reexec", ...libs, "bb", "sleep", "1000"])).code).toBe(0);
  const script = `const fs = require("fs");
    console.log(fs.readlinkSync("/proc/self/exe"));
    for (const flags of ["r+", "a"]) { try { fs.openSync("/proc/self/exe", flags); console.log("opened"); } catch (e) { console.log(e.code); } }`;
  const r = await berth(t, ["exec", "reexec", "/proc/self/exe", "-e", script]);
  expect(r.code, r.stderr).toBe(0);
  const [exe, ...opens] = r.stdout.trim().split("\n");
  // What ran is the daemon's runtime, reached through its read-only view.
  expect(exe).toBe(`${t.root}/runtime/bun`);
  const mount = parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8")).find((m) => m.mountpoint === exe);
  expect(readFileSync("/proc/self/mountinfo", "utf8")).toMatch(new RegExp(` ${exe!.replace(/[/.]/g, "\\$&")} ro,`));
  expect(mount).toBeDefined();
  // Refused: busy while any Bun runs (ETXTBSY, which the kernel checks first), and read-only (the mount above) once none does.
  for (const o of opens) expect(["ETXTBSY", "EROFS"]).toContain(o);
  expect(new Bun.CryptoHasher("sha256").update(readFileSync(process.execPath)).digest("hex")).toBe(bunBefore);
  expect((await berth(t, ["rm", "-f", "reexec"])).code).toBe(0);
  expect(leaks(t)).toEqual([]);
});


test("the daemon takes the runtime's mount away when it stops, so its root can be removed", async () => {
  const { stopDaemon } = await import("./helpers/berth.ts");
  const mounted = () => readFileSync("/proc/self/mountinfo", "utf8").includes(` ${t.root}/runtime/bun `);
  expect((await berth(t, ["run", "--rm", "bb", "true"])).code).toBe(0);
  expect(mounted()).toBe(true);
  await stopDaemon(t);
  expect(mounted()).toBe(false);
});
