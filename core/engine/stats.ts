// Docker's stats JSON (GET /containers/{id}/stats, the swagger's
// ContainerStatsResponse), built from two samples of a container's cgroup.
//
// The docker CLI (28) computes `docker stats` from it as follows:
//   CPU %    = (cpu_stats.cpu_usage.total_usage - precpu_stats.cpu_usage.total_usage)
//            / (cpu_stats.system_cpu_usage - precpu_stats.system_cpu_usage)
//            * cpu_stats.online_cpus (or len(percpu_usage) when 0) * 100, when both deltas > 0
//   MEM USAGE = memory_stats.usage - stats.total_inactive_file (cgroup v1, when present and smaller)
//             | memory_stats.usage - stats.inactive_file       (otherwise, when smaller)
//   MEM %    = MEM USAGE / memory_stats.limit * 100
//   NET I/O  = sum of networks.*.rx_bytes / tx_bytes
//   BLOCK I/O = sum of blkio_stats.io_service_bytes_recursive by op (r.../w...)
//   PIDS     = pids_stats.current
// Field names, omissions and order follow moby's api/types/container StatsResponse.
import { readFileSync } from "node:fs";
import type { LimitStats } from "../contracts/limits.ts";
import { internal } from "../errors.ts";

/**
 * A cgroup sample: the contract's LimitStats, plus what a cgroup driver may
 * add (all optional, so a plain LimitStats fits). `memory.stats` is the raw
 * memory.stat (Docker passes it through; the CLI needs `inactive_file` on
 * cgroup v2 and `total_inactive_file` on v1 to subtract the page cache).
 */
export interface StatsSample extends LimitStats {
  memory: LimitStats["memory"] & {
    stats?: Record<string, number>;
    /** cgroup v1 memory.max_usage_in_bytes. */
    maxUsage?: number;
    /** cgroup v1 memory.failcnt. */
    failcnt?: number;
  };
  cpu: LimitStats["cpu"] & {
    userNanos?: number;
    systemNanos?: number;
    throttling?: { periods: number; throttledPeriods: number; throttledTimeNanos: number };
  };
}

export interface NetworkStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

export interface BlkioStatEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface StatsInput {
  id: string;
  /** The container's name, with or without Docker's leading "/". */
  name: string;
  /** When `current` was read. */
  read: Date;
  /** When `previous` was read; ignored (and Go's zero time written) without `previous`. */
  preread?: Date;
  current: StatsSample;
  previous?: StatsSample;
  /** systemCpuNanos() when `current` was read. */
  systemCpuNanos: number;
  /** systemCpuNanos() when `previous` was read. */
  previousSystemCpuNanos?: number;
  onlineCpus: number;
  previousOnlineCpus?: number;
  /** Per interface; omitted (as Docker omits it) when absent or empty. */
  networks?: Record<string, NetworkStats>;
  /** blkio_stats.io_service_bytes_recursive; [] when absent. */
  blkioServiceBytes?: BlkioStatEntry[];
}

/** Go's zero time.Time, as Docker writes `preread` when there is no previous sample. */
export const GO_ZERO_TIME = "0001-01-01T00:00:00Z";

/** RFC 3339 with the fraction Go's RFC3339Nano writes (trailing zeros dropped, none when zero), in UTC. */
export function rfc3339Nano(d: Date): string {
  const iso = d.toISOString(); // 2024-01-02T03:04:05.123Z
  const frac = iso.slice(20, 23).replace(/0+$/, "");
  return `${iso.slice(0, 19)}${frac ? `.${frac}` : ""}Z`;
}

// JSON numbers are doubles: a uint64 such as 2^64-1 ("max" in a cgroup file)
// would round up to 2^64, which Go refuses to decode into a uint64 and the
// whole stats object would be lost. The largest double below 2^64:
const MAX_U64_DOUBLE = 18446744073709549568;

/** A non-negative integer Go can decode into a uint64. */
function u64(v: number | undefined): number {
  if (v === undefined || !Number.isFinite(v) || v <= 0) return 0;
  return Math.min(Math.floor(v), MAX_U64_DOUBLE);
}

function cpuStats(s: StatsSample | undefined, systemNanos: number | undefined, onlineCpus: number | undefined) {
  const cpuUsage: Record<string, unknown> = { total_usage: u64(s?.cpu.usageNanos) };
  const perCpu = s?.cpu.perCpuNanos;
  if (perCpu && perCpu.length > 0) cpuUsage.percpu_usage = perCpu.map(u64); // omitempty
  cpuUsage.usage_in_kernelmode = u64(s?.cpu.systemNanos);
  cpuUsage.usage_in_usermode = u64(s?.cpu.userNanos);
  const out: Record<string, unknown> = { cpu_usage: cpuUsage };
  if (s && u64(systemNanos) > 0) out.system_cpu_usage = u64(systemNanos); // omitempty
  if (s && u64(onlineCpus) > 0) out.online_cpus = u64(onlineCpus); // omitempty
  const t = s?.cpu.throttling;
  out.throttling_data = {
    periods: u64(t?.periods),
    throttled_periods: u64(t?.throttledPeriods),
    throttled_time: u64(t?.throttledTimeNanos),
  };
  return out;
}

function memoryStats(m: StatsSample["memory"]) {
  const out: Record<string, unknown> = {};
  // Every field is omitempty in Docker's MemoryStats.
  if (u64(m.usage) > 0) out.usage = u64(m.usage);
  if (u64(m.maxUsage) > 0) out.max_usage = u64(m.maxUsage);
  let stats: Record<string, number> | undefined;
  if (m.stats) {
    stats = {};
    for (const [k, v] of Object.entries(m.stats)) stats[k] = u64(v);
  } else if (m.cache !== undefined) {
    // Without memory.stat, the page cache is all the contract has: the key
    // Docker's API documents and CLIs before 19.03 subtract.
    stats = { cache: u64(m.cache) };
  }
  if (stats && Object.keys(stats).length > 0) out.stats = stats;
  if (u64(m.failcnt) > 0) out.failcnt = u64(m.failcnt);
  if (u64(m.limit) > 0) out.limit = u64(m.limit);
  return out;
}

/** The stats object Docker sends for one sample (serialise with JSON.stringify). */
export function statsJSON(input: StatsInput): Record<string, unknown> {
  const { current: cur, previous: prev } = input;
  const pids: Record<string, number> = {};
  if (u64(cur.pids.current) > 0) pids.current = u64(cur.pids.current); // omitempty
  if (u64(cur.pids.limit) > 0) pids.limit = u64(cur.pids.limit); // 0 = no limit, omitted
  const blkioRest = null; // cgroup v1-only lists; Docker writes null when it has none
  const out: Record<string, unknown> = {
    read: rfc3339Nano(input.read),
    preread: prev && input.preread ? rfc3339Nano(input.preread) : GO_ZERO_TIME,
    pids_stats: pids,
    blkio_stats: {
      io_service_bytes_recursive: (input.blkioServiceBytes ?? []).map((e) => ({
        major: u64(e.major),
        minor: u64(e.minor),
        op: e.op,
        value: u64(e.value),
      })),
      io_serviced_recursive: blkioRest,
      io_queue_recursive: blkioRest,
      io_service_time_recursive: blkioRest,
      io_wait_time_recursive: blkioRest,
      io_merged_recursive: blkioRest,
      io_time_recursive: blkioRest,
      sectors_recursive: blkioRest,
    },
    num_procs: 0, // Windows only
    storage_stats: {}, // Windows only
    cpu_stats: cpuStats(cur, input.systemCpuNanos, input.onlineCpus),
    precpu_stats: cpuStats(prev, input.previousSystemCpuNanos, input.previousOnlineCpus ?? input.onlineCpus),
    memory_stats: memoryStats(cur.memory),
    name: input.name.startsWith("/") ? input.name : `/${input.name}`,
    id: input.id,
  };
  if (input.networks && Object.keys(input.networks).length > 0) {
    const nets: Record<string, NetworkStats> = {};
    for (const [ifname, n] of Object.entries(input.networks)) {
      nets[ifname] = {
        rx_bytes: u64(n.rx_bytes),
        rx_packets: u64(n.rx_packets),
        rx_errors: u64(n.rx_errors),
        rx_dropped: u64(n.rx_dropped),
        tx_bytes: u64(n.tx_bytes),
        tx_packets: u64(n.tx_packets),
        tx_errors: u64(n.tx_errors),
        tx_dropped: u64(n.tx_dropped),
      };
    }
    out.networks = nets;
  }
  return out;
}

/** Docker's clock ticks per second (runc's GetClockTicks: the kernel's USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100n;

export interface HostCpu {
  /** The `cpu` line's first seven fields (user nice system idle iowait irq softirq) in nanoseconds. */
  systemCpuNanos: number;
  /** The `cpuN` lines: the CPUs online. */
  onlineCpus: number;
}

/** Parse /proc/stat text as Docker's stats collector does. */
export function parseProcStat(text: string): HostCpu {
  let systemCpuNanos: number | undefined;
  let onlineCpus = 0;
  for (const line of text.split("\n")) {
    const parts = line.split(/\s+/).filter(Boolean);
    const key = parts[0];
    if (key === "cpu") {
      if (parts.length < 8) throw internal("invalid number of cpu fields in /proc/stat");
      let ticks = 0n;
      for (const f of parts.slice(1, 8)) {
        if (!/^\d+$/.test(f)) throw internal(`Unable to convert value ${f} to int in /proc/stat`);
        ticks += BigInt(f);
      }
      systemCpuNanos = Number((ticks * 1_000_000_000n) / CLOCK_TICKS);
    } else if (key && key.length > 3 && key.startsWith("cpu")) {
      onlineCpus++;
    }
  }
  if (systemCpuNanos === undefined) throw internal("invalid stat format. Error trying to parse the '/proc/stat' file");
  return { systemCpuNanos, onlineCpus };
}

/** The host's CPU time and online CPUs, read once from /proc/stat. */
export function hostCpu(procStat = "/proc/stat"): HostCpu {
  return parseProcStat(readFileSync(procStat, "utf8"));
}

/** Docker's system_cpu_usage: the host's total CPU time in nanoseconds (from /proc/stat). */
export function systemCpuNanos(): number {
  return hostCpu().systemCpuNanos;
}

/**
 * Per-interface counters of the network namespace `pid` lives in, from
 * /proc/PID/net/dev, without loopback (Docker reports only the endpoints).
 */
export function parseNetDev(text: string): Record<string, NetworkStats> {
  const out: Record<string, NetworkStats> = {};
  for (const line of text.split("\n").slice(2)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === "lo") continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    out[name] = { rx_bytes: f[0]!, rx_packets: f[1]!, rx_errors: f[2]!, rx_dropped: f[3]!, tx_bytes: f[8]!, tx_packets: f[9]!, tx_errors: f[10]!, tx_dropped: f[11]! };
  }
  return out;
}

export function containerNetworks(pid: number): Record<string, NetworkStats> {
  try {
    return parseNetDev(readFileSync(`/proc/${pid}/net/dev`, "utf8"));
  } catch {
    return {}; // it has just ended
  }
}
