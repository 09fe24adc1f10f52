// The device allowlist of real containers on a pure cgroup v2 kernel (an
// eBPF BPF_PROG_TYPE_CGROUP_DEVICE program on the container's group), inside
// ../shared/tools/run-in-v2vm.sh. The checkout is read-only there.
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { berth, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

let t: TestRoot;
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
});
afterEach(() => expect(leaks(t)).toEqual([]));
afterAll(() => removeRoot(t));

const run = (args: string[]) => berth(t, ["run", "--rm", "--network", "none", ...args]);
const probe = "mknod /dev/sda b 8 0 && echo made; head -c 1 /dev/sda; echo sda=$?; echo x > /dev/null && echo null-ok; head -c 3 /dev/zero | wc -c";

describe("devices on cgroup v2", () => {
  test("a default container can make a disk's node but not open it, even with --cap-add MKNOD; /dev/null works", async () => {
    const r = await run(["--cap-add", "MKNOD", "bb", "sh", "-c", probe]);
    expect(r.stdout.trim().split("\n")).toEqual(["made", "sda=1", "null-ok", "3"]);
    expect(r.stderr).toContain("head: /dev/sda: Operation not permitted");
  });

  test("--device /dev/vda:/dev/disk:r reads but does not write; --privileged opens anything", async () => {
    const r = await run(["--device", "/dev/vda:/dev/disk:r", "bb", "sh", "-c", "head -c 1 /dev/disk > /dev/null && echo read-ok; (echo x > /dev/disk) 2>/dev/null || echo write-denied"]);
    expect(r.stdout.trim().split("\n")).toEqual(["read-ok", "write-denied"]);
    const p = await run(["--privileged", "bb", "sh", "-c", probe]);
    expect(p.stderr).toContain("head: /dev/sda: No such device or address"); // past the device filter; no disk 8:0 here
  });
});
