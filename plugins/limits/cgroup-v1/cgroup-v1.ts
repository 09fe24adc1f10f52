// Resource limits on cgroup v1: one directory per controller hierarchy,
// <mount>/<cgroup-parent>/<id>, with Docker's units and runc's write order.
import { existsSync, readdirSync, mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { MountSpec } from "../../../core/contracts/isolation.ts";
import type { CgroupHandle, DeviceRule, Limits, LimitStats, Resources } from "../../../core/contracts/limits.ts";
import { conflict, errnoCode, failedPrecondition, invalidArgument, notFound, notSupported, unavailable } from "../../../core/errors.ts";
import { checkDeviceRules, v1Line } from "../devices.ts";
import type { CgroupHierarchy, HostInfo } from "../../../core/host.ts";
import type { ProbeResult } from "../../../core/registry.ts";
import {
  BLKIO_WEIGHT_WARNING,
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
  sleep,
  SWAP_WARNING,
  sysError,
  waitUntil,
  writeCg,
  ownProcsFile,
  warmUpMigration,
  parseBlkioV1,
} from "../shared.ts";

/** The controllers berth puts a container in, as the host has them. */
export const V1_CONTROLLERS = ["memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "freezer", "devices"] as const;
/** Without these there is nothing worth limiting. */
export const V1_REQUIRED = ["memory", "cpu", "cpuacct", "pids"] as const;

export function probeV1(host: HostInfo): ProbeResult {
  const missing = V1_REQUIRED.filter((c) => !host.cgroupV1.has(c));
  if (missing.length > 0) {
    const have = [...host.cgroupV1.keys()];
    return {
      ok: false,
      reason: `no cgroup v1 hierarchy for ${missing.join(", ")}${have.length ? ` (v1 controllers mounted: ${have.join(", ")})` : " (no cgroup v1 hierarchy is mounted)"}`,
    };
  }
  for (const c of V1_REQUIRED) {
    const mp = host.cgroupV1.get(c)!.mountpoint;
    const kind = fsKind(mp);
    if (kind !== "cgroup") return { ok: false, reason: `${mp} (the ${c} hierarchy) is not a cgroup v1 filesystem (statfs: ${kind ?? "missing"})` };
  }
  return { ok: true };
}

interface Hierarchy extends CgroupHierarchy {
  /** `<mountpoint>/<parent>`. */
  parentDir: string;
}

const FREEZE_TIMEOUT_MS = 10_000;
const KILL_TIMEOUT_MS = 10_000;

export class CgroupV1 implements Limits {
  /** Distinct hierarchies berth uses, in V1_CONTROLLERS order. */
  private readonly hierarchies: Hierarchy[] = [];
  private readonly byController = new Map<string, Hierarchy>();

  constructor(
    host: HostInfo,
    private readonly parent: string[],
  ) {
    for (const c of V1_CONTROLLERS) {
      const h = host.cgroupV1.get(c);
      if (!h) continue;
      let entry = this.hierarchies.find((x) => x.mountpoint === h.mountpoint);
      if (!entry) {
        entry = { ...h, parentDir: join(h.mountpoint, ...parent) };
        this.hierarchies.push(entry);
      }
      this.byController.set(c, entry);
    }
    for (const c of V1_REQUIRED) {
      if (!this.byController.has(c)) throw notSupported(`cgroup v1: no hierarchy for the ${c} controller`);
    }
  }

  // ------------------------------------------------------------ paths

  private dir(controller: string, id: string): string | undefined {
    const h = this.byController.get(controller);
    return h && join(h.parentDir, id);
  }

  private dirs(id: string): string[] {
    return this.hierarchies.map((h) => join(h.parentDir, id));
  }

  private file(controller: string, id: string, name: string): string | undefined {
    const d = this.dir(controller, id);
    return d && join(d, name);
  }

  private mustExist(id: string): void {
    if (!this.exists(id)) throw notFound(`cgroup for "${id}" does not exist (${this.dir("memory", id)})`);
  }

  // ------------------------------------------------------------ contract

  exists(id: string): boolean {
    checkId(id);
    return this.dirs(id).some((d) => existsSync(d));
  }

  joinFiles(id: string): string[] {
    checkId(id);
    return this.dirs(id).map((d) => join(d, "cgroup.procs"));
  }

  ids(): string[] {
    const first = this.hierarchies[0];
    if (!first || !existsSync(first.parentDir)) return [];
    return readdirSync(first.parentDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  }

  create(id: string, resources: Resources): CgroupHandle {
    checkId(id);
    const p = plan(resources, true);
    if (resources.devices) checkDeviceRules(resources.devices);
    const busy = this.listPids(id);
    if (busy.length > 0) {
      throw conflict(`cgroup for "${id}" already exists and has processes (${busy.join(" ")})`, "remove the old container first");
    }
    const made: string[] = [];
    try {
      for (const h of this.hierarchies) {
        const cpuset = h.controllers.includes("cpuset");
        // Every level, so that a parent made by an older run gets fixed too.
        let dir = h.mountpoint;
        for (const part of [...this.parent, id]) {
          const child = join(dir, part);
          if (!existsSync(child)) {
            try {
              mkdirSync(child);
              if (part === id) made.push(child);
            } catch (err) {
              if (errnoCode(err) !== "EEXIST") throw sysError(err, "mkdir", child);
            }
          }
          if (cpuset) inheritCpuset(dir, child);
          dir = child;
        }
      }
      const warnings = this.apply(id, p, true);
      if (resources.devices) this.allowDevices(id, resources.devices);
      const first = this.hierarchies[0];
      if (first) warmUpMigration(ownProcsFile(first.mountpoint, first.controllers[0]!));
      return { joinFiles: this.dirs(id).map((d) => join(d, "cgroup.procs")), containerMounts: this.mounts(), warnings };
    } catch (err) {
      for (const d of made.reverse()) void removeTree(d, 0).catch(() => {});
      throw err;
    }
  }

  update(id: string, resources: Resources): string[] {
    this.mustExist(id);
    return this.apply(id, plan(resources, false), false);
  }

  async freeze(id: string): Promise<void> {
    this.mustExist(id);
    await this.setFreezer(id, "FROZEN", FREEZE_TIMEOUT_MS);
  }

  async thaw(id: string): Promise<void> {
    this.mustExist(id);
    await this.setFreezer(id, "THAWED", FREEZE_TIMEOUT_MS);
  }

  stats(id: string): LimitStats {
    this.mustExist(id);
    const read = (c: string, name: string) => {
      const f = this.file(c, id, name);
      const t = f ? readText(f) : undefined;
      return t === undefined ? undefined : t.trim();
    };
    const total = hostMemory();
    const memLimit = parseLimit(read("memory", "memory.limit_in_bytes") ?? "max");
    const memStat = parseKeyed(read("memory", "memory.stat") ?? "");
    const perCpu = read("cpuacct", "cpuacct.usage_percpu");
    const pidsMax = parseLimit(read("pids", "pids.max") ?? "max");
    return {
      memory: {
        usage: Number(read("memory", "memory.usage_in_bytes") ?? 0),
        limit: memLimit === undefined || (total > 0 && memLimit > total) ? total : memLimit,
        cache: memStat.get("total_cache") ?? memStat.get("cache"),
        stats: Object.fromEntries(memStat),
      },
      cpu: {
        usageNanos: Number(read("cpuacct", "cpuacct.usage") ?? 0),
        perCpuNanos: perCpu ? perCpu.split(/\s+/).filter(Boolean).map(Number) : undefined,
      },
      pids: { current: Number(read("pids", "pids.current") ?? 0), limit: pidsMax ?? 0 },
      // The throttle file counts every device, whatever the I/O scheduler (as runc reads it).
      io: parseBlkioV1(read("blkio", "blkio.throttle.io_service_bytes_recursive") ?? ""),
    };
  }

  oomKilled(id: string): boolean {
    this.mustExist(id);
    return (parseKeyed(readCg(this.file("memory", id, "memory.oom_control")!)).get("oom_kill") ?? 0) > 0;
  }

  pids(id: string): number[] {
    this.mustExist(id);
    return this.listPids(id);
  }

  /** Every pid in the group and below it, in any hierarchy. */
  private listPids(id: string): number[] {
    const all = new Set<number>();
    for (const d of this.dirs(id)) for (const pid of procsBelow(d)) all.add(pid);
    return [...all].sort((a, b) => a - b);
  }

  async killAll(id: string): Promise<void> {
    this.mustExist(id);
    await this.killEverything(id);
  }

  async remove(id: string): Promise<void> {
    checkId(id);
    if (!this.exists(id)) return;
    try {
      await this.killEverything(id);
    } catch (err) {
      if (!this.exists(id)) return; // removed meanwhile by another berth process
      throw err;
    }
    for (const d of this.dirs(id)) await removeTree(d);
  }

  // ------------------------------------------------------------ internals

  private async killEverything(id: string): Promise<void> {
    const deadline = Date.now() + KILL_TIMEOUT_MS;
    const freezer = this.file("freezer", id, "freezer.state");
    const canFreeze = freezer !== undefined && existsSync(freezer);
    for (;;) {
      const pids = this.listPids(id);
      if (pids.length === 0) return;
      if (Date.now() > deadline) {
        throw unavailable(
          `cannot empty cgroup ${this.dir("memory", id)}: processes ${pids.join(" ")} are still there ${KILL_TIMEOUT_MS / 1000}s after SIGKILL`,
          "a process stuck in uninterruptible sleep (D state) cannot die until its I/O completes",
        );
      }
      // Frozen, nothing can fork between reading cgroup.procs and the kill.
      let frozen = false;
      if (canFreeze) {
        try {
          await this.setFreezer(id, "FROZEN", 2_000);
          frozen = true;
        } catch {
          // A task stuck in the kernel can keep the group FREEZING: kill anyway.
        }
      }
      try {
        killPids(this.listPids(id));
      } finally {
        if (canFreeze) await this.setFreezer(id, "THAWED", 2_000).catch(() => {});
      }
      const until = Date.now() + (frozen ? 500 : 100);
      while (Date.now() < until && this.listPids(id).length > 0) await sleep(5);
    }
  }

  private async setFreezer(id: string, state: "FROZEN" | "THAWED", timeoutMs: number): Promise<void> {
    const file = this.file("freezer", id, "freezer.state");
    if (!file || !existsSync(file)) throw notSupported(`cannot ${state === "FROZEN" ? "freeze" : "thaw"} "${id}": the host has no cgroup v1 freezer hierarchy`);
    writeCg(file, state);
    await waitUntil(
      () => readCg(file).trim() === state,
      timeoutMs,
      () => `${file} did not reach ${state} within ${timeoutMs / 1000}s (it says ${readCg(file).trim()})`,
    );
  }

  private apply(id: string, p: Plan, creating: boolean): string[] {
    const warnings: string[] = [];
    const f = (c: string, name: string) => this.file(c, id, name);

    // Memory, in runc's order: memory+swap must never be below memory.
    if (p.memory !== undefined || p.memorySwap !== undefined) {
      const limit = f("memory", "memory.limit_in_bytes")!;
      const memsw = f("memory", "memory.memsw.limit_in_bytes")!;
      const hasSwap = existsSync(memsw);
      let swap = p.memorySwap;
      if (!hasSwap) {
        if (p.memorySwapExplicit || p.memory !== undefined) warnings.push(SWAP_WARNING);
        swap = undefined;
      }
      if (!creating && hasSwap && p.memory !== undefined && swap === undefined) {
        const cur = parseLimit(readCg(memsw));
        if (cur !== undefined && p.memory > cur) {
          throw invalidArgument(
            `Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time (memory ${p.memory}, memory+swap ${cur})`,
          );
        }
      }
      if (!creating && p.memory === undefined && swap !== undefined && swap !== -1) {
        const cur = parseLimit(readCg(limit));
        if (cur !== undefined && swap < cur) {
          throw invalidArgument(`Minimum memoryswap limit should be larger than memory limit, see usage (memory ${cur}, memory+swap ${swap})`);
        }
      }
      let swapDone = false;
      if (p.memory !== undefined && swap !== undefined) {
        const cur = parseLimit(readCg(limit)) ?? Infinity;
        if (swap === -1 || cur < swap) {
          writeCg(memsw, swap);
          swapDone = true;
        }
      }
      if (p.memory !== undefined) writeCg(limit, p.memory);
      if (swap !== undefined && !swapDone) writeCg(memsw, swap);
    }

    if (p.memoryReservation !== undefined) writeCg(f("memory", "memory.soft_limit_in_bytes")!, p.memoryReservation);
    if (p.cpuQuota !== undefined) {
      writeCg(f("cpu", "cpu.cfs_period_us")!, CFS_PERIOD_US);
      writeCg(f("cpu", "cpu.cfs_quota_us")!, p.cpuQuota);
    }
    if (p.cpuShares !== undefined) writeCg(f("cpu", "cpu.shares")!, p.cpuShares);
    if (p.cpusetCpus !== undefined) {
      const file = f("cpuset", "cpuset.cpus");
      if (!file) throw notSupported(`cannot set cpuset cpus "${p.cpusetCpus}": the host has no cgroup v1 cpuset hierarchy`);
      writeCg(file, p.cpusetCpus);
    }
    if (p.pidsMax !== undefined) writeCg(f("pids", "pids.max")!, p.pidsMax);
    if (p.blkioWeight !== undefined) {
      const file = [f("blkio", "blkio.weight"), f("blkio", "blkio.bfq.weight")].find((x) => x !== undefined && existsSync(x));
      if (file) writeCg(file, p.blkioWeight);
      else warnings.push(BLKIO_WEIGHT_WARNING);
    }
    return warnings;
  }

  /** Deny every device, then allow the rules' (runc's order: the group is never more open than asked). */
  private allowDevices(id: string, rules: DeviceRule[]) {
    const dir = this.dir("devices", id);
    if (!dir) throw failedPrecondition("cgroup v1: no hierarchy for the devices controller, so device access cannot be limited", "mount the devices controller (cgroup v1) or use cgroup v2");
    writeCg(join(dir, "devices.deny"), "a");
    for (const r of rules) writeCg(join(dir, "devices.allow"), v1Line(r));
  }

  /**
   * A read-only tmpfs at /sys/fs/cgroup with each hierarchy, read-only, under
   * its own name (the isolation makes "ro" mounts read-only last, so the
   * mount points in the tmpfs can still be made).
   */
  private mounts(): MountSpec[] {
    const out: MountSpec[] = [
      { type: "tmpfs", source: "tmpfs", destination: "/sys/fs/cgroup", options: ["ro", "nosuid", "nodev", "noexec", "mode=755"] },
    ];
    for (const h of this.hierarchies) {
      out.push({
        type: "cgroup",
        source: "cgroup",
        destination: `/sys/fs/cgroup/${basename(h.mountpoint)}`,
        options: ["ro", "nosuid", "nodev", "noexec", ...h.controllers],
      });
    }
    return out;
  }
}

/** A new v1 cpuset group has empty cpus and mems: no task could join it. Copy the parent's. */
function inheritCpuset(parentDir: string, dir: string): void {
  for (const name of ["cpuset.cpus", "cpuset.mems"]) {
    const file = join(dir, name);
    if (readCg(file).trim() !== "") continue;
    const value = readCg(join(parentDir, name)).trim();
    if (value === "") throw invalidArgument(`${join(parentDir, name)} is empty: no CPU or memory node to give ${dir}`);
    writeCg(file, value);
  }
}
