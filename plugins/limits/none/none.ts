// The `none` limits driver: for hosts without control groups (a container
// runtime inside some sandboxes, kernels built without cgroups). There is no
// kernel group, so a container is its PID namespace: every process whose
// /proc/<pid>/ns/pid is the container init's. Limits cannot be applied; like
// Docker on a host without a controller, each requested limit becomes a
// warning and is discarded. Pause stops every process with SIGSTOP, which a
// process can notice (a freezer cannot be noticed): `berth info` says so.
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from "node:fs";
import type { CgroupHandle, Limits, LimitStats, Resources } from "../../../core/contracts/limits.ts";
import { errnoCode, notFound } from "../../../core/errors.ts";
import { processStartTime } from "../../../core/proc.ts";
import { BLKIO_WEIGHT_WARNING, checkId, hostMemory, killPids, sleep, sysError, waitUntil } from "../shared.ts";

/** Docker's words when the host lacks a controller (daemon/daemon_unix.go verifyPlatformContainerResources). */
export const NONE_WARNINGS = {
  memory: "Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.",
  memorySwap: "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.",
  memoryReservation: "Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.",
  cpus: "Your kernel does not support CPU cfs period/quota or the cgroup is not mounted. Period/quota discarded.",
  cpuShares: "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.",
  cpusetCpus: "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.",
  pidsLimit: "Your kernel does not support pids limit capabilities or the cgroup is not mounted. PIDs limit discarded.",
  blkioWeight: BLKIO_WEIGHT_WARNING,
} as const;

const KILL_TIMEOUT_MS = 10_000;
const CLOCK_TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux
const PAGE = 4096;

/** What the driver keeps per container: its init and the PID namespace it made. */
interface Tracked {
  pid?: number;
  startTime?: number;
  pidNs?: string;
}

export class NoneLimits implements Limits {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  create(id: string, r: Resources): CgroupHandle {
    checkId(id);
    this.write(id, {});
    return { joinFiles: [], containerMounts: [], warnings: [] }; // create's response carried them
  }

  update(id: string, r: Resources): string[] {
    this.mustExist(id);
    return warningsFor(r);
  }

  warnings(r: Resources): string[] {
    return warningsFor(r);
  }

  track(id: string, pid: number): void {
    this.mustExist(id);
    const pidNs = readNs(pid);
    this.write(id, { pid, startTime: processStartTime(pid), pidNs });
  }

  async freeze(id: string): Promise<void> {
    await this.signalUntilSettled(id, "SIGSTOP", (state) => state === "T" || state === "t");
  }

  async thaw(id: string): Promise<void> {
    await this.signalUntilSettled(id, "SIGCONT", (state) => state !== "T" && state !== "t");
  }

  stats(id: string): LimitStats {
    const pids = this.pids(id);
    let rss = 0;
    let ticks = 0;
    for (const pid of pids) {
      const stat = procStat(pid);
      if (!stat) continue;
      ticks += stat.utime + stat.stime;
      rss += stat.rssPages * PAGE;
    }
    return {
      memory: { usage: rss, limit: hostMemory() },
      cpu: { usageNanos: Math.round((ticks * 1e9) / CLOCK_TICKS) },
      pids: { current: pids.length, limit: 0 },
    };
  }

  /** No group, no OOM record: the kernel's OOM killer leaves only a SIGKILL (exit 137). */
  oomKilled(_id: string): boolean {
    return false;
  }

  pids(id: string): number[] {
    const t = this.mustExist(id);
    if (!t.pid || !t.pidNs || !sameProcess(t)) return [];
    const out: number[] = [];
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      if (readNs(pid) === t.pidNs) out.push(pid);
    }
    return out.sort((a, b) => a - b);
  }

  /** SIGKILL of a PID namespace's init kills every process in it; wait until all are gone. */
  async killAll(id: string): Promise<void> {
    this.mustExist(id);
    const deadline = Date.now() + KILL_TIMEOUT_MS;
    for (;;) {
      const pids = this.pids(id);
      if (pids.length === 0) return;
      killPids(pids);
      if (Date.now() > deadline) throw sysError(new Error("processes survived SIGKILL"), "kill", `container ${id}: pids ${pids.join(" ")}`);
      await sleep(5);
    }
  }

  async remove(id: string): Promise<void> {
    checkId(id);
    if (!this.exists(id)) return;
    await this.killAll(id);
    rmSync(this.file(id), { force: true });
  }

  exists(id: string): boolean {
    return existsSync(this.file(checkId(id)));
  }

  joinFiles(id: string): string[] {
    this.mustExist(id);
    return [];
  }

  ids(): string[] {
    return readdirSync(this.dir).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5));
  }

  // ------------------------------------------------------------ internals

  /** Signal every process until each is in the wanted state (a process forked meanwhile gets it too). */
  private async signalUntilSettled(id: string, signal: "SIGSTOP" | "SIGCONT", settled: (state: string) => boolean) {
    this.mustExist(id);
    await waitUntil(
      () => {
        const pending = this.pids(id).filter((pid) => !settled(procState(pid) ?? "T"));
        for (const pid of pending) {
          try {
            process.kill(pid, signal);
          } catch (err) {
            if (errnoCode(err) !== "ESRCH") throw sysError(err, "kill", `${signal} ${pid}`);
          }
        }
        return pending.length === 0;
      },
      KILL_TIMEOUT_MS,
      () => `container ${id}: its processes did not all ${signal === "SIGSTOP" ? "stop" : "continue"} within ${KILL_TIMEOUT_MS / 1000} s`,
    );
  }

  private file(id: string) {
    return `${this.dir}/${id}.json`;
  }

  private write(id: string, t: Tracked) {
    const tmp = `${this.file(id)}.tmp`;
    writeFileSync(tmp, JSON.stringify(t));
    renameSync(tmp, this.file(id));
  }

  private mustExist(id: string): Tracked {
    checkId(id);
    try {
      return JSON.parse(readFileSync(this.file(id), "utf8")) as Tracked;
    } catch (err) {
      if (errnoCode(err) === "ENOENT") throw notFound(`no container group for ${id} (cgroup driver none)`);
      throw err;
    }
  }
}

function warningsFor(r: Resources): string[] {
  const out: string[] = [];
  for (const key of Object.keys(NONE_WARNINGS) as (keyof typeof NONE_WARNINGS)[]) {
    const v = r[key];
    // -1 and 0 mean "no limit" for swap and pids.
    if (v === undefined || ((key === "memorySwap" || key === "pidsLimit") && (v as number) <= 0)) continue;
    if (key === "memorySwap" && r.memory !== undefined) continue; // one memory warning is enough
    out.push(NONE_WARNINGS[key]);
  }
  return out;
}

/** The init we tracked is still the same process (not a recycled PID). */
function sameProcess(t: Tracked): boolean {
  return t.pid !== undefined && processStartTime(t.pid) === t.startTime && readNs(t.pid) === t.pidNs;
}

function readNs(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

function procStat(pid: number): { state: string; utime: number; stime: number; rssPages: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may hold spaces: fields start after the last ")".
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: f[0]!, utime: Number(f[11]), stime: Number(f[12]), rssPages: Number(f[21]) };
}

function procState(pid: number): string | undefined {
  return procStat(pid)?.state;
}
