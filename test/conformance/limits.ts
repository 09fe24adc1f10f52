// Conformance suite of the `limits` contract, run against a real kernel:
// real cgroup filesystems, real processes, the kernel's own files read back.
// Each plugin's test file calls limitsConformance() with a factory that uses
// a unique cgroup-parent; everything created here is removed again and the
// removal is checked.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Subprocess } from "bun";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { CgroupHandle, Limits, Resources } from "../../core/contracts/limits.ts";
import { BerthError } from "../../core/errors.ts";
import { parseMountinfo } from "../../core/host.ts";

const MB = 1024 * 1024;
const CGROUP_SUPER_MAGIC = 0x27e0eb;
const CGROUP2_SUPER_MAGIC = 0x63677270;
const BLKIO_WARNING = "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.";
const SWAP_WARNING = /does not support swap limit capabilities/;

/** Under the v2 VM's emulation everything takes ~30x longer: scale the bounded waits. */
const SLOW = process.env.BERTH_V2VM ? 10 : 1;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000 * SLOW): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** The filesystem type of `path` as /proc/self/mountinfo says (the mount that covers it). */
function mountFsType(path: string): string {
  let best: { mountpoint: string; fstype: string } | undefined;
  for (const m of parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8"))) {
    const covers = m.mountpoint === "/" || path === m.mountpoint || path.startsWith(`${m.mountpoint}/`);
    if (covers && (!best || m.mountpoint.length >= best.mountpoint.length)) best = m;
  }
  return best?.fstype ?? "none";
}

/** "cgroup" or "cgroup2" from mountinfo, confirmed by statfs; throws loudly otherwise. */
function assertCgroupFs(dir: string): "cgroup" | "cgroup2" {
  const fstype = mountFsType(dir);
  const magic = Number(statfsSync(dir).type);
  const ok =
    (fstype === "cgroup" && magic === CGROUP_SUPER_MAGIC) || (fstype === "cgroup2" && magic === CGROUP2_SUPER_MAGIC);
  if (!ok) {
    throw new Error(
      `${dir} is on ${fstype} (statfs magic 0x${magic.toString(16)}), not a cgroup filesystem: ` +
        "a tmpfs would accept every write and these tests would prove nothing",
    );
  }
  return fstype as "cgroup" | "cgroup2";
}

const sysCpus = (): number => {
  const text = readFileSync("/sys/devices/system/cpu/online", "utf8").trim();
  let n = 0;
  for (const part of text.split(",")) {
    const [a, b] = part.split("-").map(Number);
    n += b === undefined ? 1 : b - a! + 1;
  }
  return n;
};

const memTotal = () => Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;

const keyed = (text: string) =>
  new Map(text.split("\n").filter(Boolean).map((l) => l.trim().split(/\s+/)).map(([k, v]) => [k!, Number(v)] as const));

export function limitsConformance(name: string, make: () => Promise<Limits> | Limits): void {
  describe(`limits conformance: ${name}`, () => {
    let limits: Limits;
    let version: "cgroup" | "cgroup2";
    const run = `t-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    let seq = 0;
    /** Groups created by the current test: id -> their directories. */
    const groups = new Map<string, string[]>();
    /** Parent directories seen (one per hierarchy). */
    const parents = new Set<string>();
    const procs: Subprocess[] = [];
    const tmp = mkdtempSync(join(tmpdir(), "berth-limits-"));

    const newId = () => `${run}-${++seq}`;
    const dirsOf = (h: CgroupHandle) => h.joinFiles.map((f) => dirname(f));

    function create(resources: Resources, id = newId()): { id: string; h: CgroupHandle } {
      const h = limits.create(id, resources);
      groups.set(id, dirsOf(h));
      for (const d of dirsOf(h)) parents.add(dirname(d));
      return { id, h };
    }

    /** The kernel file `name` in whichever of the group's directories has it. */
    function cgFile(h: CgroupHandle, file: string): string {
      for (const d of dirsOf(h)) if (existsSync(join(d, file))) return join(d, file);
      throw new Error(`no ${file} in any of ${dirsOf(h).join(", ")}`);
    }
    const hasFile = (h: CgroupHandle, file: string) => dirsOf(h).some((d) => existsSync(join(d, file)));
    const rd = (h: CgroupHandle, file: string) => readFileSync(cgFile(h, file), "utf8").trim();
    const procsOf = (joinFile: string) => readFileSync(joinFile, "utf8").split("\n").filter(Boolean).map(Number);

    /** Start `argv` inside the group: a shell joins every hierarchy, then execs it. */
    function spawnIn(h: CgroupHandle, argv: string[]): Subprocess<"ignore", "pipe", "pipe"> {
      const files = h.joinFiles.map((f) => `'${f}'`).join(" ");
      const p = Bun.spawn(["sh", "-c", `for f in ${files}; do echo 0 > "$f" || exit 97; done; exec "$@"`, "sh", ...argv], {
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      });
      procs.push(p);
      return p;
    }

    /** Wait until `p` is listed in every hierarchy's cgroup.procs. */
    async function joined(h: CgroupHandle, p: Subprocess): Promise<void> {
      await waitFor(`pid ${p.pid} to join ${h.joinFiles.join(", ")}`, () => {
        if (p.exitCode !== null || p.signalCode !== null) throw new Error(`pid ${p.pid} exited early (${p.exitCode ?? p.signalCode})`);
        return h.joinFiles.every((f) => procsOf(f).includes(p.pid));
      });
    }

    async function exitOf(p: Subprocess, timeoutMs = 20_000 * SLOW) {
      const result = await Promise.race([p.exited.then(() => "exited"), sleep(timeoutMs).then(() => "timeout")]);
      if (result === "timeout") throw new Error(`pid ${p.pid} still running after ${timeoutMs} ms`);
      return { code: p.exitCode, signal: p.signalCode };
    }

    async function expectKind(kind: string, fn: () => unknown, message?: RegExp): Promise<BerthError> {
      let caught: unknown;
      try {
        await fn();
      } catch (err) {
        caught = err;
      }
      expect(caught, `expected a ${kind} error`).toBeInstanceOf(BerthError);
      expect((caught as BerthError).kind, String(caught)).toBe(kind);
      if (message) expect((caught as BerthError).message).toMatch(message);
      return caught as BerthError;
    }

    beforeAll(async () => {
      limits = await make();
      // Before anything else: the hierarchy must be a real cgroup filesystem.
      const { id, h } = create({});
      try {
        const kinds = new Set(dirsOf(h).map((d) => assertCgroupFs(d)));
        if (kinds.size !== 1) throw new Error(`group ${id} spans cgroup v1 and v2 directories: ${dirsOf(h).join(", ")}`);
        version = [...kinds][0]!;
      } finally {
        await limits.remove(id);
        groups.delete(id);
      }
    });

    /**
     * When remove() itself is broken, still leave the host clean: thaw, SIGKILL
     * what is in the groups this test created (only processes it started), rmdir.
     */
    async function forceClean(dirs: string[]): Promise<void> {
      for (const d of dirs) {
        if (!existsSync(d)) continue;
        for (const [f, v] of [["freezer.state", "THAWED"], ["cgroup.freeze", "0"]] as const) {
          if (existsSync(join(d, f))) writeFileSync(join(d, f), v);
        }
        for (let i = 0; i < 200 && existsSync(d); i++) {
          for (const pid of procsOf(join(d, "cgroup.procs"))) {
            try {
              process.kill(pid, "SIGKILL");
            } catch {
              // gone already
            }
          }
          try {
            rmdirSync(d);
          } catch {
            await sleep(25);
          }
        }
      }
    }

    afterEach(async () => {
      for (const p of procs.splice(0)) {
        if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
      }
      const failures: unknown[] = [];
      for (const [id, dirs] of groups) {
        try {
          await limits.remove(id);
        } catch (err) {
          failures.push(err);
          await forceClean(dirs);
        }
        for (const d of dirs) expect(existsSync(d), `${d} left behind`).toBe(false);
        expect(limits.exists(id)).toBe(false);
      }
      groups.clear();
      if (failures.length > 0) throw failures[0];
    });

    afterAll(async () => {
      rmSync(tmp, { recursive: true, force: true });
      // The test file chose a unique parent; remove it (deepest first) and check.
      for (const p of parents) {
        if (!/\/berth-test-[a-z0-9]+$/.test(p)) continue;
        for (const d of readdirSync(p, { withFileTypes: true })) {
          if (d.isDirectory()) throw new Error(`a group is left under ${p}: ${d.name}`);
        }
        if (existsSync(p)) rmdirSync(p);
        expect(existsSync(p), `${p} left behind`).toBe(false);
      }
    });

    test("the groups live on a real cgroup filesystem, in every hierarchy berth needs", () => {
      const { h } = create({});
      for (const d of dirsOf(h)) expect(assertCgroupFs(d)).toBe(version);
      if (version === "cgroup2") {
        expect(h.joinFiles).toHaveLength(1);
        for (const f of ["memory.max", "cpu.max", "pids.max", "cgroup.freeze"]) expect(hasFile(h, f), f).toBe(true);
      } else {
        for (const f of ["memory.limit_in_bytes", "cpu.cfs_quota_us", "cpuacct.usage", "pids.max"]) expect(hasFile(h, f), f).toBe(true);
        // One join file per hierarchy, never the same hierarchy twice.
        expect(new Set(h.joinFiles.map((f) => dirname(dirname(dirname(f))))).size).toBe(h.joinFiles.length);
      }
      for (const f of h.joinFiles) expect(f.endsWith("/cgroup.procs")).toBe(true);
    });

    test("create, exists and remove: the directories appear and disappear in every hierarchy", async () => {
      const id = newId();
      expect(limits.exists(id)).toBe(false);
      const { h } = create({}, id);
      expect(limits.exists(id)).toBe(true);
      expect(h.joinFiles.length).toBeGreaterThan(0);
      for (const f of h.joinFiles) {
        expect(existsSync(f), f).toBe(true);
        expect(procsOf(f)).toEqual([]);
      }
      expect(limits.pids(id)).toEqual([]);
      // Creating it again reuses the empty group; with a process inside it is a Conflict.
      expect(limits.create(id, { pidsLimit: 7 }).joinFiles).toEqual(h.joinFiles);
      expect(rd(h, "pids.max")).toBe("7");
      const p = spawnIn(h, ["sleep", "600"]);
      await joined(h, p);
      await expectKind("Conflict", () => limits.create(id, {}));
      await limits.remove(id);
      expect((await exitOf(p)).signal).toBe("SIGKILL");
      expect(limits.exists(id)).toBe(false);
      for (const d of dirsOf(h)) expect(existsSync(d), d).toBe(false);
      // The shared parent stays; removing a missing group succeeds.
      for (const d of dirsOf(h)) expect(existsSync(dirname(d)), dirname(d)).toBe(true);
      await limits.remove(id);
      await limits.remove(`${run}-never-created`);
    });

    test("limits are written to the kernel's files, and updated in a valid order", async () => {
      const ncpu = sysCpus();
      const cpus = ncpu >= 2 ? 1.5 : 0.5;
      const { id, h } = create({
        memory: 64 * MB,
        memorySwap: 128 * MB,
        memoryReservation: 32 * MB,
        cpus,
        cpuShares: 512,
        cpusetCpus: "0",
        pidsLimit: 42,
      });
      const quota = String(Math.round(cpus * 100_000));
      if (version === "cgroup") {
        expect(rd(h, "memory.limit_in_bytes")).toBe(String(64 * MB));
        expect(rd(h, "memory.soft_limit_in_bytes")).toBe(String(32 * MB));
        if (hasFile(h, "memory.memsw.limit_in_bytes")) expect(rd(h, "memory.memsw.limit_in_bytes")).toBe(String(128 * MB));
        expect(rd(h, "cpu.cfs_period_us")).toBe("100000");
        expect(rd(h, "cpu.cfs_quota_us")).toBe(quota);
        expect(rd(h, "cpu.shares")).toBe("512");
      } else {
        expect(rd(h, "memory.max")).toBe(String(64 * MB));
        expect(rd(h, "memory.low")).toBe(String(32 * MB));
        if (hasFile(h, "memory.swap.max")) expect(rd(h, "memory.swap.max")).toBe(String(64 * MB));
        expect(rd(h, "cpu.max")).toBe(`${quota} 100000`);
        expect(rd(h, "cpu.weight")).toBe(String(1 + Math.floor(((512 - 2) * 9999) / 262142)));
      }
      expect(rd(h, "cpuset.cpus")).toBe("0");
      expect(rd(h, "pids.max")).toBe("42");

      // Docker's default: memory+swap is twice the memory.
      const d = create({ memory: 32 * MB });
      if (version === "cgroup") {
        if (hasFile(d.h, "memory.memsw.limit_in_bytes")) expect(rd(d.h, "memory.memsw.limit_in_bytes")).toBe(String(64 * MB));
        else expect(d.h.warnings.join("\n")).toMatch(SWAP_WARNING);
      } else if (hasFile(d.h, "memory.swap.max")) expect(rd(d.h, "memory.swap.max")).toBe(String(32 * MB));
      else expect(d.h.warnings.join("\n")).toMatch(SWAP_WARNING);

      // Raising memory above the old memory+swap needs memsw first (v1); lowering needs memory first.
      const mem = version === "cgroup" ? "memory.limit_in_bytes" : "memory.max";
      limits.update(id, { memory: 256 * MB, memorySwap: 512 * MB });
      expect(rd(h, mem)).toBe(String(256 * MB));
      if (version === "cgroup" && hasFile(h, "memory.memsw.limit_in_bytes")) expect(rd(h, "memory.memsw.limit_in_bytes")).toBe(String(512 * MB));
      if (version === "cgroup2" && hasFile(h, "memory.swap.max")) expect(rd(h, "memory.swap.max")).toBe(String(256 * MB));
      limits.update(id, { memory: 24 * MB, memorySwap: 40 * MB });
      expect(rd(h, mem)).toBe(String(24 * MB));
      if (version === "cgroup" && hasFile(h, "memory.memsw.limit_in_bytes")) expect(rd(h, "memory.memsw.limit_in_bytes")).toBe(String(40 * MB));
      if (version === "cgroup2" && hasFile(h, "memory.swap.max")) expect(rd(h, "memory.swap.max")).toBe(String(16 * MB));

      // Fields left out are left alone; 0/-1 pids is unlimited.
      limits.update(id, { cpus: 0.25, pidsLimit: -1 });
      expect(rd(h, "pids.max")).toBe("max");
      if (version === "cgroup") expect(rd(h, "cpu.cfs_quota_us")).toBe("25000");
      else expect(rd(h, "cpu.max")).toBe("25000 100000");
      expect(rd(h, mem)).toBe(String(24 * MB));
      expect(rd(h, "cpuset.cpus")).toBe("0");

      await expectKind("NotFound", () => limits.update(`${run}-missing`, { pidsLimit: 5 }));
    });

    test("invalid values are rejected with InvalidArgument, before anything is created", async () => {
      const ncpu = sysCpus();
      const cases: [Resources, RegExp][] = [
        [{ memory: 1 * MB }, /Minimum memory limit allowed is 6MB/],
        [{ memory: 64 * MB, memorySwap: 32 * MB }, /memoryswap limit should be larger than memory limit/],
        [{ memorySwap: 64 * MB }, /always set the Memory limit when using Memoryswap/],
        [{ memory: 32 * MB, memoryReservation: 64 * MB }, /memory limit can not be less than memory reservation limit/],
        [{ cpus: ncpu + 1 }, new RegExp(`Range of CPUs is from 0\\.01 to ${ncpu}\\.00, as there are only ${ncpu} CPUs available`)],
        [{ cpus: -0.5 }, /Range of CPUs is from 0\.01/],
        [{ cpus: 0.001 }, /Range of CPUs is from 0\.01/],
        [{ cpusetCpus: String(ncpu + 3) }, /Requested CPUs are not available/],
        [{ cpusetCpus: "zero" }, /Invalid value zero for cpuset cpus/],
        [{ cpuShares: -5 }, /cpu shares/],
        [{ pidsLimit: 2.5 }, /pids limit/],
        [{ blkioWeight: 5 }, /Range of blkio weight is from 10 to 1000/],
      ];
      for (const [resources, message] of cases) {
        const id = newId();
        await expectKind("InvalidArgument", () => limits.create(id, resources), message);
        expect(limits.exists(id), `${JSON.stringify(resources)} created ${id}`).toBe(false);
      }
      await expectKind("InvalidArgument", () => limits.create("../escape", {}));
      await expectKind("InvalidArgument", () => limits.create("a/b", {}));

      // An invalid update changes nothing.
      const { id, h } = create({ pidsLimit: 20 });
      await expectKind("InvalidArgument", () => limits.update(id, { pidsLimit: 30, memory: 100 }), /6MB/);
      expect(rd(h, "pids.max")).toBe("20");
    });

    test("blkio weight: written where the kernel offers a weight file, otherwise Docker's warning", () => {
      const { h } = create({ blkioWeight: 300 });
      const candidates =
        version === "cgroup" ? ["blkio.weight", "blkio.bfq.weight"] : ["io.bfq.weight", "io.weight"];
      const file = candidates.find((f) => hasFile(h, f));
      if (file === undefined) {
        expect(h.warnings).toContain(BLKIO_WARNING);
      } else {
        expect(h.warnings).not.toContain(BLKIO_WARNING);
        const text = rd(h, file);
        if (file === "io.weight") expect(text).toMatch(new RegExp(`^default ${1 + Math.floor(((300 - 10) * 9999) / 990)}$`, "m"));
        else expect(text).toMatch(/^(default )?300$/m);
      }
    });

    test("a memory hog is OOM-killed with SIGKILL and oomKilled() says so", async () => {
      const control = create({ memory: 32 * MB, memorySwap: 32 * MB });
      const quiet = spawnIn(control.h, ["sh", "-c", "echo fine"]);
      expect(await exitOf(quiet)).toEqual({ code: 0, signal: null });
      expect(limits.oomKilled(control.id)).toBe(false);

      const { id, h } = create({ memory: 32 * MB, memorySwap: 32 * MB });
      const hog = spawnIn(h, ["tail", "/dev/zero"]);
      const end = await exitOf(hog);
      expect(end.signal, `tail ended with ${JSON.stringify(end)}`).toBe("SIGKILL");
      expect(limits.oomKilled(id)).toBe(true);
      expect(limits.oomKilled(control.id)).toBe(false);
    });

    test("the pids limit makes forks fail and is never exceeded", async () => {
      const { id, h } = create({ pidsLimit: 10 });
      const script = 'i=0; while [ $i -lt 30 ]; do sleep 600 & i=$((i+1)); done; echo all-started; wait';
      const p = spawnIn(h, ["sh", "-c", script]);
      let peak = 0;
      const deadline = Date.now() + 3_000 * SLOW;
      while (Date.now() < deadline && p.exitCode === null && p.signalCode === null) {
        peak = Math.max(peak, Number(rd(h, "pids.current")));
        if (keyed(rd(h, "pids.events")).get("max")! > 0 && peak >= 10) break;
        await sleep(5);
      }
      peak = Math.max(peak, Number(rd(h, "pids.current")));
      expect(peak).toBeLessThanOrEqual(10);
      expect(peak).toBeGreaterThanOrEqual(9);
      expect(keyed(rd(h, "pids.events")).get("max"), "pids.events max").toBeGreaterThan(0);
      expect(limits.pids(id).length).toBeLessThanOrEqual(10);
      expect(limits.stats(id).pids).toMatchObject({ limit: 10 });
      // The shell reports the failed fork and exits on its own; killing it
      // first could beat its write to stderr.
      await Promise.race([exitOf(p), sleep(3_000 * SLOW)]);
      await limits.killAll(id);
      await exitOf(p);
      const err = await new Response(p.stderr).text();
      const out = await new Response(p.stdout).text();
      expect(out).not.toContain("all-started");
      expect(err).toMatch(/fork|resource temporarily unavailable/i);
    });

    test("a cpu quota of 0.5 keeps a busy loop near half a core (kernel accounting)", async () => {
      const { id, h } = create({ cpus: 0.5 });
      const p = spawnIn(h, ["sh", "-c", "while :; do :; done"]);
      await joined(h, p);
      const usage = () =>
        version === "cgroup" ? Number(rd(h, "cpuacct.usage")) : keyed(rd(h, "cpu.stat")).get("usage_usec")! * 1000;
      await sleep(300);
      const u0 = usage();
      const t0 = performance.now();
      await sleep(1500);
      const u1 = usage();
      const t1 = performance.now();
      const ratio = (u1 - u0) / ((t1 - t0) * 1e6);
      expect(ratio, `cpu/wall ratio ${ratio.toFixed(3)}`).toBeGreaterThan(0.15);
      expect(ratio, `cpu/wall ratio ${ratio.toFixed(3)}`).toBeLessThan(0.6);
      expect(keyed(rd(h, "cpu.stat")).get("nr_throttled"), "nr_throttled").toBeGreaterThan(0);
      expect(limits.stats(id).cpu.usageNanos).toBeGreaterThanOrEqual(u1);
    });

    test("freeze stops a counter and thaw resumes it", async () => {
      const { id, h } = create({});
      const counter = join(tmp, `${id}.count`);
      const p = spawnIn(h, ["sh", "-c", 'i=0; while :; do i=$((i+1)); echo $i > "$1"; done', "sh", counter]);
      const read = () => (existsSync(counter) ? readFileSync(counter, "utf8") : "");
      await waitFor("the counter to start", () => Number(read()) > 0);
      await limits.freeze(id);
      if (version === "cgroup") expect(rd(h, "freezer.state")).toBe("FROZEN");
      else expect(keyed(rd(h, "cgroup.events")).get("frozen")).toBe(1);
      const frozenAt = read();
      await sleep(500);
      expect(read(), "the counter moved while frozen").toBe(frozenAt);
      expect(p.exitCode).toBeNull();
      await limits.thaw(id);
      if (version === "cgroup") expect(rd(h, "freezer.state")).toBe("THAWED");
      else expect(keyed(rd(h, "cgroup.events")).get("frozen")).toBe(0);
      const before = Number(frozenAt) || 0;
      await waitFor("the counter to move after thaw", () => Number(read()) > before);
    });

    test("stats report usage and the limits set; pids() lists the processes", async () => {
      const { id, h } = create({ memory: 64 * MB, pidsLimit: 50 });
      const p = spawnIn(h, ["sh", "-c", 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 600']);
      await joined(h, p);
      await waitFor("cpu usage to be accounted", () => limits.stats(id).cpu.usageNanos > 0);
      const s = limits.stats(id);
      expect(s.memory.usage).toBeGreaterThan(0);
      expect(s.memory.limit).toBe(64 * MB);
      expect(s.cpu.usageNanos).toBeGreaterThan(0);
      if (s.cpu.perCpuNanos) {
        const sum = s.cpu.perCpuNanos.reduce((a, b) => a + b, 0);
        expect(sum).toBeGreaterThan(0);
        expect(Math.abs(sum - s.cpu.usageNanos)).toBeLessThanOrEqual(s.cpu.usageNanos * 0.1 + 1e7);
      }
      expect(s.pids).toEqual({ current: 1, limit: 50 });
      expect(limits.pids(id)).toEqual([p.pid]);

      // No limits: the host's memory and 0 for "unlimited" pids.
      const free = create({});
      const u = limits.stats(free.id);
      expect(u.memory.limit).toBe(memTotal());
      expect(u.pids).toEqual({ current: 0, limit: 0 });
      expect(limits.pids(free.id)).toEqual([]);
    });

    test("killAll leaves the group empty, even while a shell keeps forking", async () => {
      // The limit only bounds a broken killAll; the forker must never reach it (dash exits when a fork fails).
      const { id, h } = create({ pidsLimit: 2000 });
      const a = spawnIn(h, ["sleep", "600"]);
      const forker = spawnIn(h, ["sh", "-c", "while :; do sleep 600 & sleep 0.005; done"]);
      await joined(h, a);
      await joined(h, forker);
      await waitFor("the forker to fill the group", () => limits.pids(id).length > 5);
      await limits.killAll(id);
      for (const f of h.joinFiles) expect(procsOf(f), f).toEqual([]);
      expect(limits.pids(id)).toEqual([]);
      expect((await exitOf(a)).signal).toBe("SIGKILL");
      expect((await exitOf(forker)).signal).toBe("SIGKILL");
      expect(limits.exists(id)).toBe(true);
    });

    test("remove with live processes kills them and removes every directory", async () => {
      const { id, h } = create({ memory: 64 * MB });
      const a = spawnIn(h, ["sleep", "600"]);
      const b = spawnIn(h, ["sh", "-c", "sleep 600 & sleep 600 & wait"]);
      await joined(h, a);
      await joined(h, b);
      await limits.remove(id);
      expect((await exitOf(a)).signal).toBe("SIGKILL");
      expect((await exitOf(b)).signal).toBe("SIGKILL");
      for (const d of dirsOf(h)) expect(existsSync(d), d).toBe(false);
      expect(limits.exists(id)).toBe(false);
    });

    test("containerMounts show the group's own limits, read-only, inside a cgroup namespace", async () => {
      const { h } = create({ memory: 48 * MB, pidsLimit: 33 });
      const mounts = h.containerMounts;
      if (version === "cgroup2") {
        expect(mounts).toEqual([
          { type: "cgroup2", source: "cgroup2", destination: "/sys/fs/cgroup", options: ["ro", "nosuid", "nodev", "noexec"] },
        ]);
      } else {
        expect(mounts[0]).toEqual({
          type: "tmpfs",
          source: "tmpfs",
          destination: "/sys/fs/cgroup",
          options: ["ro", "nosuid", "nodev", "noexec", "mode=755"],
        });
        expect(mounts.length).toBe(h.joinFiles.length + 1);
        for (const m of mounts.slice(1)) {
          expect(m.type).toBe("cgroup");
          expect(m.destination).toMatch(/^\/sys\/fs\/cgroup\/[^/]+$/);
          expect(m.options.slice(0, 4)).toEqual(["ro", "nosuid", "nodev", "noexec"]);
        }
      }
      // Mount them as a container would (in a private mount and cgroup namespace, under a temp root),
      // with the isolation contract's rule: "ro" mounts become read-only after all are in place.
      const root = mkdtempSync(join(tmp, "root-"));
      const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      const lines = ["set -e"];
      for (const m of mounts) {
        lines.push(`mkdir -p ${q(root + m.destination)}`);
        lines.push(`mount -t ${m.type} -o ${q(m.options.filter((o) => o !== "ro").join(","))} ${m.source} ${q(root + m.destination)}`);
      }
      for (const m of [...mounts].reverse().filter((x) => x.options.includes("ro"))) {
        lines.push(`mount -o remount,bind,ro ${q(root + m.destination)}`);
      }
      const ctl = (c: string) =>
        version === "cgroup2" ? mounts[0]!.destination : mounts.find((m) => m.type === "cgroup" && m.options.includes(c))!.destination;
      const memFile = version === "cgroup2" ? "memory.max" : "memory.limit_in_bytes";
      lines.push(`cat ${q(`${root}${ctl("memory")}/${memFile}`)}`);
      lines.push(`cat ${q(`${root}${ctl("pids")}/pids.max`)}`);
      lines.push(`cat ${q(`${root}${ctl("pids")}/cgroup.procs`)} | wc -l`);
      lines.push(`if (echo 1 > ${q(`${root}${ctl("pids")}/pids.max`)}) 2>/dev/null; then echo WRITABLE; else echo READONLY; fi`);
      lines.push("cat /proc/self/cgroup");
      const p = spawnIn(h, ["unshare", "--cgroup", "--mount", "--propagation", "private", "sh", "-c", lines.join("\n")]);
      const end = await exitOf(p);
      const out = (await new Response(p.stdout).text()).trim().split("\n");
      const err = await new Response(p.stderr).text();
      expect(end, err).toEqual({ code: 0, signal: null });
      expect(out.slice(0, 4)).toEqual([String(48 * MB), "33", expect.stringMatching(/^\s*[1-9]\d*$/), "READONLY"]);
      // Inside its cgroup namespace the process sees itself at the root of every hierarchy.
      for (const line of out.slice(4)) expect(line).toMatch(/:\/$/);
      expect(rd(h, "pids.max")).toBe("33");
      rmSync(root, { recursive: true, force: true });
    });

    test("devices: only the allowed ones can be opened, with the allowed access; mknod as allowed; \"a\" allows all", async () => {
      const rules: Resources["devices"] = [
        { type: "c", major: "*", minor: "*", access: "m" },
        { type: "c", major: 1, minor: 3, access: "rwm" }, // null
        { type: "c", major: 1, minor: 5, access: "r" }, // zero, read only
      ];
      const { h } = create({ devices: rules });
      const node = join(tmp, `urandom-${seq}`);
      const script = [
        "echo x > /dev/null && echo null-ok",
        "head -c 4 /dev/zero | wc -c",
        "(echo y > /dev/zero) 2>/dev/null || echo zero-write-denied",
        "head -c 1 /dev/urandom >/dev/null 2>&1 || echo urandom-denied",
        `mknod ${node} c 1 9 && echo mknod-ok`,
        `head -c 1 ${node} >/dev/null 2>&1 || echo node-denied`,
        `mknod ${node}-b b 7 0 2>/dev/null || echo block-mknod-denied`,
      ].join("; ");
      const p = spawnIn(h, ["sh", "-c", script]);
      expect(await exitOf(p)).toMatchObject({ signal: null });
      expect((await new Response(p.stdout).text()).trim().split("\n")).toEqual(["null-ok", "4", "zero-write-denied", "urandom-denied", "mknod-ok", "node-denied", "block-mknod-denied"]);

      const all = create({ devices: [{ type: "a", major: "*", minor: "*", access: "rwm" }] });
      const q = spawnIn(all.h, ["sh", "-c", "head -c 2 /dev/urandom | wc -c"]);
      expect(await exitOf(q)).toMatchObject({ code: 0 });
      expect((await new Response(q.stdout).text()).trim()).toBe("2");

      const id = newId();
      await expectKind("InvalidArgument", () => limits.create(id, { devices: [{ type: "x" as "a", major: "*", minor: "*", access: "rwm" }] }), /invalid device rule/);
      await expectKind("InvalidArgument", () => limits.create(id, { devices: [{ type: "c", major: 1, minor: 3, access: "rwx" }] }), /invalid device rule/);
      expect(limits.exists(id)).toBe(false);
    });

    test("operations on a missing group fail with NotFound; remove succeeds", async () => {
      const id = `${run}-absent`;
      await expectKind("NotFound", () => limits.freeze(id));
      await expectKind("NotFound", () => limits.thaw(id));
      await expectKind("NotFound", () => limits.stats(id));
      await expectKind("NotFound", () => limits.oomKilled(id));
      await expectKind("NotFound", () => limits.pids(id));
      await expectKind("NotFound", () => limits.killAll(id));
      await limits.remove(id);
      expect(limits.exists(id)).toBe(false);
    });
  });
}
