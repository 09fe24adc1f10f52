// Resource limits on cgroup v2: one directory <mount>/<cgroup-parent>/<id>
// in the unified hierarchy, with Docker's units converted as runc does.
import { existsSync, readdirSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { MountSpec } from "../../../core/contracts/isolation.ts";
import type { CgroupHandle, Limits, LimitStats, Resources } from "../../../core/contracts/limits.ts";
import { conflict, errnoCode, failedPrecondition, invalidArgument, notSupported, unavailable } from "../../../core/errors.ts";
import type { HostInfo } from "../../../core/host.ts";
import type { ProbeResult } from "../../../core/registry.ts";
import { attachDeviceProgram, checkDeviceRules } from "../devices.ts";
import {
  BLKIO_WEIGHT_WARNING,
  blkioToIoWeight,
  CFS_PERIOD_US,
  checkId,
  fsKind,
  hostMemory,
  killPids,
  parseKeyed,
  parseLimit,
  plan,
  type Plan,
  procsBelow,
  readCg,
  readText,
  removeTree,
  requireDir,
  sharesToWeight,
  sleep,
  SWAP_WARNING,
  sysError,
  waitUntil,
  writeCg,
  ownProcsFile,
  warmUpMigration,
  parseIoStatV2,
} from "../shared.ts";

/** Controllers without which cgroup-v2 is not offered. */
export const V2_REQUIRED = ["memory", "cpu", "pids"] as const;
/** Controllers enabled for berth's groups, when the hierarchy has them. */
export const V2_WANTED = ["memory", "pids", "cpu", "io", "cpuset"] as const;

export function probeV2(host: HostInfo): ProbeResult {
  const h = host.cgroupV2;
  if (!h) return { ok: false, reason: "no cgroup2 filesystem is mounted" };
  const kind = fsKind(h.mountpoint);
  if (kind !== "cgroup2") return { ok: false, reason: `${h.mountpoint} is not a cgroup2 filesystem (statfs: ${kind ?? "missing"})` };
  const missing = V2_REQUIRED.filter((c) => !h.controllers.includes(c));
  if (missing.length > 0) {
    return { ok: false, reason: `cgroup2 at ${h.mountpoint} offers only [${h.controllers.join(" ")}] (cgroup-v2 needs ${V2_REQUIRED.join(", ")})` };
  }
  return { ok: true };
}

const FREEZE_TIMEOUT_MS = 10_000;
const KILL_TIMEOUT_MS = 10_000;

export class CgroupV2 implements Limits {
  private readonly mountpoint: string;
  private readonly parentDir: string;

  constructor(
    host: HostInfo,
    private readonly parent: string[],
  ) {
    if (!host.cgroupV2) throw notSupported("cgroup v2: no cgroup2 filesystem is mounted");
    this.mountpoint = host.cgroupV2.mountpoint;
    this.parentDir = join(this.mountpoint, ...parent);
  }

  private dir(id: string): string {
    return join(this.parentDir, checkId(id));
  }

  private mustExist(id: string): string {
    const d = this.dir(id);
    requireDir(d, id);
    return d;
  }

  exists(id: string): boolean {
    return existsSync(this.dir(id));
  }

  joinFiles(id: string): string[] {
    return [join(this.dir(id), "cgroup.procs")];
  }

  ids(): string[] {
    if (!existsSync(this.parentDir)) return [];
    return readdirSync(this.parentDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  }

  create(id: string, resources: Resources): CgroupHandle {
    const dir = this.dir(id);
    const p = plan(resources, true);
    if (resources.devices) checkDeviceRules(resources.devices);
    const busy = procsBelow(dir);
    if (busy.length > 0) {
      throw conflict(`cgroup for "${id}" already exists and has processes (${busy.join(" ")})`, "remove the old container first");
    }
    this.prepareParent();
    let made = false;
    try {
      mkdirSync(dir);
      made = true;
    } catch (err) {
      if (errnoCode(err) !== "EEXIST") throw sysError(err, "mkdir", dir);
    }
    try {
      const warnings = this.apply(dir, p);
      if (resources.devices) {
        try {
          attachDeviceProgram(dir, resources.devices);
        } catch (err) {
          throw failedPrecondition(`cannot limit the devices of ${dir}: ${(err as Error).message}`, "the kernel needs CONFIG_CGROUP_BPF, and berth CAP_SYS_ADMIN (or CAP_BPF)");
        }
      }
      const mounts: MountSpec[] = [
        { type: "cgroup2", source: "cgroup2", destination: "/sys/fs/cgroup", options: ["ro", "nosuid", "nodev", "noexec"] },
      ];
      warmUpMigration(ownProcsFile(this.mountpoint, null));
      return { joinFiles: [join(dir, "cgroup.procs")], containerMounts: mounts, warnings };
    } catch (err) {
      if (made) void removeTree(dir, 0).catch(() => {});
      throw err;
    }
  }

  update(id: string, resources: Resources): string[] {
    const dir = this.mustExist(id);
    return this.apply(dir, plan(resources, false));
  }

  async freeze(id: string): Promise<void> {
    await this.setFrozen(this.mustExist(id), true, FREEZE_TIMEOUT_MS);
  }

  async thaw(id: string): Promise<void> {
    await this.setFrozen(this.mustExist(id), false, FREEZE_TIMEOUT_MS);
  }

  stats(id: string): LimitStats {
    const dir = this.mustExist(id);
    const read = (name: string) => readText(join(dir, name))?.trim();
    const total = hostMemory();
    const memLimit = parseLimit(read("memory.max") ?? "max");
    const cpu = parseKeyed(read("cpu.stat") ?? "");
    const memStat = parseKeyed(read("memory.stat") ?? "");
    return {
      memory: {
        usage: Number(read("memory.current") ?? 0),
        limit: memLimit === undefined || (total > 0 && memLimit > total) ? total : memLimit,
        cache: memStat.get("file"),
        stats: Object.fromEntries(memStat),
      },
      cpu: { usageNanos: (cpu.get("usage_usec") ?? 0) * 1000 },
      pids: { current: Number(read("pids.current") ?? 0), limit: parseLimit(read("pids.max") ?? "max") ?? 0 },
      io: parseIoStatV2(read("io.stat") ?? ""),
    };
  }

  oomKilled(id: string): boolean {
    const dir = this.mustExist(id);
    return (parseKeyed(readCg(join(dir, "memory.events"))).get("oom_kill") ?? 0) > 0;
  }

  pids(id: string): number[] {
    return procsBelow(this.mustExist(id)).sort((a, b) => a - b);
  }

  async killAll(id: string): Promise<void> {
    await this.killEverything(this.mustExist(id));
  }

  async remove(id: string): Promise<void> {
    const dir = this.dir(id);
    if (!existsSync(dir)) return;
    try {
      await this.killEverything(dir);
    } catch (err) {
      if (!existsSync(dir)) return; // removed meanwhile by another berth process
      throw err;
    }
    await removeTree(dir);
  }

  // ------------------------------------------------------------ internals

  /**
   * Create the parent levels and enable the controllers berth needs in each
   * level's cgroup.subtree_control, from the mount root down. A level other
   * than the root must hold no processes for that (no internal processes).
   */
  private prepareParent(): void {
    let dir = this.mountpoint;
    const levels = [dir];
    for (const part of this.parent) {
      dir = join(dir, part);
      try {
        mkdirSync(dir);
      } catch (err) {
        if (errnoCode(err) !== "EEXIST") throw sysError(err, "mkdir", dir);
      }
      levels.push(dir);
    }
    for (const level of levels) {
      const available = readCg(join(level, "cgroup.controllers")).trim().split(/\s+/);
      const control = join(level, "cgroup.subtree_control");
      const enabled = readCg(control).trim().split(/\s+/);
      for (const c of V2_WANTED) {
        if (!available.includes(c) || enabled.includes(c)) continue;
        try {
          writeCg(control, `+${c}`);
        } catch (err) {
          if (errnoCode(err) === "EBUSY") {
            const procs = readText(join(level, "cgroup.procs"))?.trim().split("\n").filter(Boolean) ?? [];
            throw failedPrecondition(
              `cannot enable the ${c} controller in ${control}: ${level} has processes of its own (${procs.join(" ") || "threads"})`,
              "cgroup v2 allows controllers for child groups only in groups without processes: move them out or choose another cgroup-parent",
            );
          }
          throw err;
        }
      }
    }
  }

  private apply(dir: string, p: Plan): string[] {
    const warnings: string[] = [];
    const f = (name: string) => join(dir, name);

    if (p.memory !== undefined || p.memorySwap !== undefined) {
      const swapFile = f("memory.swap.max");
      const hasSwap = existsSync(swapFile);
      if (p.memorySwap !== undefined && hasSwap) {
        let swap: number | "max";
        if (p.memorySwap === -1) swap = "max";
        else {
          const mem = p.memory ?? parseLimit(readCg(f("memory.max")));
          if (mem === undefined) throw invalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage");
          if (p.memorySwap < mem) {
            throw invalidArgument(`Minimum memoryswap limit should be larger than memory limit, see usage (memory ${mem}, memory+swap ${p.memorySwap})`);
          }
          swap = p.memorySwap - mem;
        }
        writeCg(swapFile, swap);
      } else if (!hasSwap && (p.memory !== undefined || p.memorySwapExplicit)) {
        warnings.push(SWAP_WARNING);
      }
      if (p.memory !== undefined) writeCg(f("memory.max"), p.memory);
    }

    if (p.memoryReservation !== undefined) writeCg(f("memory.low"), p.memoryReservation);
    if (p.cpuQuota !== undefined) writeCg(f("cpu.max"), `${p.cpuQuota} ${CFS_PERIOD_US}`);
    if (p.cpuShares !== undefined) writeCg(f("cpu.weight"), sharesToWeight(p.cpuShares));
    if (p.cpusetCpus !== undefined) {
      if (!existsSync(f("cpuset.cpus"))) throw notSupported(`cannot set cpuset cpus "${p.cpusetCpus}": the cpuset controller is not enabled for ${dir}`);
      writeCg(f("cpuset.cpus"), p.cpusetCpus);
    }
    if (p.pidsMax !== undefined) writeCg(f("pids.max"), p.pidsMax);
    if (p.blkioWeight !== undefined) {
      if (existsSync(f("io.bfq.weight"))) writeCg(f("io.bfq.weight"), p.blkioWeight);
      else if (existsSync(f("io.weight"))) writeCg(f("io.weight"), `default ${blkioToIoWeight(p.blkioWeight)}`);
      else warnings.push(BLKIO_WEIGHT_WARNING);
    }
    return warnings;
  }

  private async setFrozen(dir: string, frozen: boolean, timeoutMs: number): Promise<void> {
    const file = join(dir, "cgroup.freeze");
    if (!existsSync(file)) throw notSupported(`cannot ${frozen ? "freeze" : "thaw"} ${dir}: this kernel has no cgroup.freeze (needs Linux 5.2)`);
    writeCg(file, frozen ? "1" : "0");
    const events = join(dir, "cgroup.events");
    const want = frozen ? 1 : 0;
    await waitUntil(
      () => parseKeyed(readCg(events)).get("frozen") === want,
      timeoutMs,
      () => `${events} did not say "frozen ${want}" within ${timeoutMs / 1000}s`,
    );
  }

  private async killEverything(dir: string): Promise<void> {
    const deadline = Date.now() + KILL_TIMEOUT_MS;
    const kill = join(dir, "cgroup.kill");
    const events = join(dir, "cgroup.events");
    const populated = () => parseKeyed(readText(events) ?? "").get("populated") === 1;
    const fail = () =>
      unavailable(
        `cannot empty cgroup ${dir}: processes ${procsBelow(dir).join(" ")} are still there ${KILL_TIMEOUT_MS / 1000}s after SIGKILL`,
        "a process stuck in uninterruptible sleep (D state) cannot die until its I/O completes",
      );
    if (!populated()) return;
    if (existsSync(kill)) {
      writeCg(kill, "1");
      await waitUntil(() => !populated(), KILL_TIMEOUT_MS, () => fail().message);
      return;
    }
    // Before Linux 5.14: freeze so nothing forks, SIGKILL each task, thaw.
    while (populated()) {
      if (Date.now() > deadline) throw fail();
      let frozen = false;
      try {
        await this.setFrozen(dir, true, 2_000);
        frozen = true;
      } catch {
        // kill anyway
      }
      try {
        killPids(procsBelow(dir));
      } finally {
        await this.setFrozen(dir, false, 2_000).catch(() => {});
      }
      const until = Date.now() + (frozen ? 500 : 100);
      while (Date.now() < until && populated()) await sleep(5);
    }
  }
}
