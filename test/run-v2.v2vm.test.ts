// `berth run` on a pure cgroup v2 kernel (inside ../shared/tools/run-in-v2vm.sh;
// .ci/run runs it there): the cgroup-v2 driver is chosen by itself and its
// limits hold for real. The checkout is read-only in the VM; roots live in /tmp.
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { berth, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";

// Emulated guest: everything is ~30x slower than on the host.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

let t: TestRoot;
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
});
afterEach(() => expect(leaks(t)).toEqual([]));
afterAll(() => removeRoot(t));

describe("berth run on cgroup v2", () => {
  test("the cgroup-v2 driver is the default here, and cgroup-v1 says why it cannot run", async () => {
    const info = JSON.parse((await berth(t, ["info", "--format", "json"])).stdout);
    expect(info.BerthCgroupDriver).toBe("cgroup-v2");
    expect(info.CgroupDriver).toBe("cgroupfs"); // Docker's word for "cgroups written by the engine itself"
    expect(info.CgroupVersion).toBe("2");
    const v1 = info.BerthPlugins.find((p: { Name: string }) => p.Name === "cgroup-v1");
    expect(v1.Available).toBe(false);
    expect(v1.Reason).toMatch(/no cgroup v1 hierarchy/);
  });

  test("a memory hog exits 137 and is reported OOMKilled (memory.max, memory.events)", async () => {
    const r = await berth(t, ["run", "--name", "hog", "-m", "16m", "--memory-swap", "16m", "bb", "tail", "/dev/zero"]);
    expect(r.code).toBe(137);
    const i = await berth(t, ["inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "hog"]);
    expect(i.stdout.trim()).toBe("true 137");
    expect((await berth(t, ["rm", "hog"])).code).toBe(0);
  });

  test("the container sees its own cgroup2 tree with its limits, read-only", async () => {
    const r = await berth(t, ["run", "--rm", "-m", "48m", "--pids-limit", "33", "--cpus", "0.5", "bb", "sh", "-c",
      "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max; cat /proc/self/cgroup; echo 1 > /sys/fs/cgroup/pids.max"]);
    expect(r.stdout.trim().split("\n")).toEqual([String(48 * 1024 * 1024), "33", "50000 100000", "0::/"]);
    expect(r.stderr).toMatch(/Read-only file system/);
  });

  test("a pids limit stops a fork bomb (pids.max)", async () => {
    const r = await berth(t, ["run", "--rm", "--pids-limit", "8", "bb", "sh", "-c", "for i in $(seq 20); do sleep 5 & done; ps -o pid | tail -n +2 | wc -l"]);
    expect(r.stderr).toMatch(/can't fork/);
    expect(Number(r.stdout.trim())).toBeLessThanOrEqual(8);
  });

  test("a cpu quota holds a busy loop to its share, and the kernel throttles it (cpu.max, cpu.stat)", async () => {
    const script = `
      usage() { awk '/^usage_usec/{print $2}' /sys/fs/cgroup/cpu.stat; }
      now() { cut -d' ' -f1 /proc/uptime | tr -d .; }
      (while :; do :; done) & sleep 1
      a=$(usage); t0=$(now); sleep 4; b=$(usage); t1=$(now)
      kill $!; echo $(( (b - a) / ((t1 - t0) * 100) ))
      awk '/^nr_throttled/{print $2}' /sys/fs/cgroup/cpu.stat`;
    const r = await berth(t, ["run", "--rm", "--cpus", "0.5", "bb", "sh", "-c", script]);
    const [percent, throttled] = r.stdout.trim().split("\n").map(Number);
    expect(percent).toBeGreaterThanOrEqual(15);
    expect(percent).toBeLessThanOrEqual(60);
    expect(throttled).toBeGreaterThan(0);
  });
});
