// The `none` cgroup driver, for hosts without control groups: chosen when no
// cgroup driver can run, or by --cgroup-driver none. Containers run, stop,
// pause, exec and report stats without any cgroup; limits are discarded with
// Docker's warnings; nothing is left behind.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { PLUGIN_PREFERENCE } from "../core/engine/engine.ts";
import { probeHost, type HostInfo } from "../core/host.ts";
import { Registry } from "../core/registry.ts";
import { PLUGINS } from "../plugins/index.ts";
import { berth, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";

describe("choosing the cgroup driver", () => {
  const registry = (host: HostInfo) => {
    const r = new Registry(host, PLUGIN_PREFERENCE, { root: "/nonexistent", options: {} });
    for (const p of PLUGINS) r.register(p);
    return r;
  };

  test("a host without any cgroup hierarchy gets none; this hybrid host gets cgroup-v1", () => {
    const bare: HostInfo = { ...probeHost(), cgroupMode: "none", cgroupV1: new Map(), cgroupV2: undefined };
    const r = registry(bare);
    expect(r.defaultName("limits")).toBe("none");
    const status = r.status("limits");
    expect(status.find((p) => p.name === "cgroup-v1")).toMatchObject({ available: false, reason: expect.stringContaining("no cgroup v1 hierarchy is mounted") });
    expect(status.find((p) => p.name === "cgroup-v2")).toMatchObject({ available: false, reason: "no cgroup2 filesystem is mounted" });
    const here = probeHost();
    if (here.cgroupMode === "hybrid") expect(registry(here).defaultName("limits")).toBe("cgroup-v1");
  });
});

describe("containers under --cgroup-driver none", () => {
  let t: TestRoot;
  beforeAll(async () => {
    t = makeRoot(["--cgroup-driver", "none"]);
    await importBusybox(t);
  });
  afterEach(() => expect(leaks(t)).toEqual([]));
  afterAll(() => removeRoot(t));

  async function ok(args: string[]) {
    const r = await berth(t, args);
    if (r.code !== 0) throw new Error(`berth ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r;
  }
  const state = (pid: number) => /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1];

  test("info says none, and that no limit is applied", async () => {
    const r = await ok(["info"]);
    expect(r.stdout).toContain("Cgroup Driver: none");
    expect(r.stderr).toContain("WARNING: No cgroups");
    const flags = (await ok(["info", "-f", "{{.CgroupDriver}} {{.MemoryLimit}} {{.PidsLimit}}"])).stdout.trim();
    expect(flags).toBe("none false false");
  });

  test("a limit is discarded with Docker's warning, and the container still runs", async () => {
    const r = await ok(["run", "--rm", "--memory", "64m", "--pids-limit", "20", "--cpus", "0.5", "bb", "echo", "ran"]);
    expect(r.stdout).toBe("ran\n");
    expect(r.stderr).toContain("WARNING: Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.");
    expect(r.stderr).toContain("WARNING: Your kernel does not support pids limit capabilities or the cgroup is not mounted. PIDs limit discarded.");
    expect(r.stderr).toContain("WARNING: Your kernel does not support CPU cfs period/quota or the cgroup is not mounted. Period/quota discarded.");
  });

  test("no cgroup is made: the container stays in the daemon's cgroups", async () => {
    const id = (await ok(["run", "-d", "bb", "sleep", "1000"])).stdout.trim();
    const pid = Number((await ok(["inspect", "-f", "{{.State.Pid}}", id])).stdout.trim());
    const cgroups = readFileSync(`/proc/${pid}/cgroup`, "utf8");
    expect(cgroups).not.toContain(t.cgroupParent);
    expect(cgroups).not.toContain(id);
    await ok(["rm", "-f", id]);
  });

  test("top, stats, exec, pause and unpause follow the container's PID namespace", async () => {
    await ok(["run", "-d", "--name", "follow", "bb", "sh", "-c", "sleep 1000 & sleep 1000"]);
    const pid = Number((await ok(["inspect", "-f", "{{.State.Pid}}", "follow"])).stdout.trim());
    const ns = readlinkSync(`/proc/${pid}/ns/pid`);
    const top = (await ok(["top", "follow"])).stdout;
    expect(top.match(/sleep 1000/g)?.length).toBe(2);
    const stats = (await ok(["stats", "--no-stream", "--format", "{{.PIDs}} {{.MemUsage}}", "follow"])).stdout.trim();
    expect(stats).toMatch(/^2 \d+(\.\d+)?[KM]iB \/ /);
    expect((await ok(["exec", "follow", "sh", "-c", "echo in; ps -o comm | grep -c '^sleep$'"])).stdout).toBe("in\n2\n");

    await ok(["pause", "follow"]);
    expect((await ok(["inspect", "-f", "{{.State.Status}}", "follow"])).stdout.trim()).toBe("paused");
    const pids = (await ok(["top", "follow", "-o", "pid"])).stdout.trim().split("\n").slice(1).map(Number);
    expect(pids.length).toBe(2); // busybox sh execs its last command: two sleeps
    for (const p of pids) {
      expect(readlinkSync(`/proc/${p}/ns/pid`)).toBe(ns);
      expect(state(p)).toBe("T");
    }
    await ok(["unpause", "follow"]);
    for (const p of pids) expect(state(p)).not.toBe("T");

    // stop kills the whole namespace; rm leaves no process of it.
    await ok(["stop", "-t", "1", "follow"]);
    for (const p of pids) expect(existsSync(`/proc/${p}`) && readlinkSync(`/proc/${p}/ns/pid`) === ns).toBe(false);
    await ok(["rm", "follow"]);
  });

  test("kill -9 and a restart of the daemon: the container is still found by its namespace", async () => {
    await ok(["run", "-d", "--name", "survivor", "bb", "sh", "-c", "sleep 1000 & sleep 1000"]);
    const { stopDaemon } = await import("./helpers/berth.ts");
    await stopDaemon(t);
    const top = (await ok(["top", "survivor"])).stdout;
    expect(top.match(/sleep 1000/g)?.length).toBe(2);
    const r = await ok(["kill", "survivor"]);
    expect(r.stdout.trim()).toBe("survivor");
    expect((await ok(["wait", "survivor"])).stdout.trim()).toBe("137");
    expect((await ok(["top", "survivor"]).catch((e: Error) => ({ stdout: e.message }))).stdout).toContain("is not running");
    await ok(["rm", "survivor"]);
  });
});
