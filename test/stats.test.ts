// Docker's stats JSON: the shape against the swagger's ContainerStatsResponse,
// and what the docker CLI (28) computes from it, with its own formulas.
import { describe, expect, test } from "vitest";
import { readFileSync } from "node:fs";
import Ajv from "ajv";
import { GO_ZERO_TIME, hostCpu, parseProcStat, rfc3339Nano, statsJSON, systemCpuNanos, type StatsInput, type StatsSample } from "../core/engine/stats.ts";

// ---- The docker CLI's computations (cli/command/container/stats_helpers.go), transcribed. ----
interface CLICPU {
  cpu_usage: { total_usage: number; percpu_usage?: number[] };
  system_cpu_usage?: number;
  online_cpus?: number;
}
interface CLIStats {
  cpu_stats: CLICPU;
  precpu_stats: CLICPU;
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> };
  blkio_stats: { io_service_bytes_recursive: { op: string; value: number }[] | null };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
  pids_stats: { current?: number };
}
function calculateCPUPercentUnix(previous: CLICPU, current: CLICPU): number {
  const cpuDelta = current.cpu_usage.total_usage - (previous.cpu_usage.total_usage ?? 0);
  const systemDelta = (current.system_cpu_usage ?? 0) - (previous.system_cpu_usage ?? 0);
  let onlineCPUs = current.online_cpus ?? 0;
  if (onlineCPUs === 0) onlineCPUs = (current.cpu_usage.percpu_usage ?? []).length;
  return systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * onlineCPUs * 100 : 0;
}
function calculateMemUsageUnixNoCache(mem: CLIStats["memory_stats"]): number {
  const usage = mem.usage ?? 0;
  const stats = mem.stats ?? {};
  if ("total_inactive_file" in stats && stats.total_inactive_file! < usage) return usage - stats.total_inactive_file!; // cgroup v1
  const v = stats.inactive_file ?? 0; // cgroup v2 (a missing key reads as 0 in Go)
  if (v < usage) return usage - v;
  return usage;
}
function calculateMemPercentUnixNoCache(limit: number, usedNoCache: number): number {
  return limit !== 0 ? (usedNoCache / limit) * 100 : 0;
}
function calculateBlockIO(blkio: CLIStats["blkio_stats"]): [number, number] {
  let r = 0;
  let w = 0;
  for (const e of blkio.io_service_bytes_recursive ?? []) {
    if (e.op.length === 0) continue;
    if (e.op[0] === "r" || e.op[0] === "R") r += e.value;
    else if (e.op[0] === "w" || e.op[0] === "W") w += e.value;
  }
  return [r, w];
}
function calculateNetwork(n: CLIStats["networks"]): [number, number] {
  let rx = 0;
  let tx = 0;
  for (const v of Object.values(n ?? {})) {
    rx += v.rx_bytes;
    tx += v.tx_bytes;
  }
  return [rx, tx];
}
/** What `docker stats` shows for one decoded object (the Linux branch of collect()). */
function cliEntry(v: CLIStats) {
  const mem = calculateMemUsageUnixNoCache(v.memory_stats);
  return {
    cpuPercent: calculateCPUPercentUnix(v.precpu_stats, v.cpu_stats),
    memory: mem,
    memoryLimit: v.memory_stats.limit ?? 0,
    memoryPercent: calculateMemPercentUnixNoCache(v.memory_stats.limit ?? 0, mem),
    net: calculateNetwork(v.networks),
    block: calculateBlockIO(v.blkio_stats),
    pids: v.pids_stats.current ?? 0,
  };
}
/** As the CLI receives it: through JSON. */
const wire = (o: object) => JSON.parse(JSON.stringify(o)) as CLIStats;

// ---- The swagger definitions (moby docs/api/v1.48.yaml), as JSON Schema, closed to unknown keys. ----
const u64 = { type: "integer", minimum: 0, maximum: 18446744073709551615 };
const entry = { type: "object", additionalProperties: false, required: ["major", "minor", "op", "value"], properties: { major: u64, minor: u64, op: { type: "string" }, value: u64 } };
const entries = { type: ["array", "null"], items: entry };
const cpuStats = {
  type: "object",
  additionalProperties: false,
  required: ["cpu_usage", "throttling_data"],
  properties: {
    cpu_usage: {
      type: "object",
      additionalProperties: false,
      required: ["total_usage", "usage_in_kernelmode", "usage_in_usermode"],
      properties: { total_usage: u64, percpu_usage: { type: "array", items: u64 }, usage_in_kernelmode: u64, usage_in_usermode: u64 },
    },
    system_cpu_usage: u64,
    online_cpus: { type: "integer", minimum: 0, maximum: 4294967295 },
    throttling_data: {
      type: "object",
      additionalProperties: false,
      required: ["periods", "throttled_periods", "throttled_time"],
      properties: { periods: u64, throttled_periods: u64, throttled_time: u64 },
    },
  },
};
const rfc3339nano = { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z$" };
const ContainerStatsResponse = {
  type: "object",
  additionalProperties: false,
  required: ["read", "preread", "pids_stats", "blkio_stats", "num_procs", "storage_stats", "cpu_stats", "precpu_stats", "memory_stats", "name", "id"],
  properties: {
    name: { type: "string", pattern: "^/" },
    id: { type: "string" },
    read: rfc3339nano,
    preread: rfc3339nano,
    pids_stats: { type: "object", additionalProperties: false, properties: { current: u64, limit: u64 } },
    blkio_stats: {
      type: "object",
      additionalProperties: false,
      required: ["io_service_bytes_recursive"],
      properties: {
        io_service_bytes_recursive: { type: "array", items: entry },
        io_serviced_recursive: entries,
        io_queue_recursive: entries,
        io_service_time_recursive: entries,
        io_wait_time_recursive: entries,
        io_merged_recursive: entries,
        io_time_recursive: entries,
        sectors_recursive: entries,
      },
    },
    num_procs: { type: "integer", minimum: 0, maximum: 4294967295 },
    storage_stats: {
      type: "object",
      additionalProperties: false,
      properties: { read_count_normalized: u64, read_size_bytes: u64, write_count_normalized: u64, write_size_bytes: u64 },
    },
    cpu_stats: cpuStats,
    precpu_stats: cpuStats,
    memory_stats: {
      type: "object",
      additionalProperties: false,
      properties: {
        usage: u64,
        max_usage: u64,
        stats: { type: "object", additionalProperties: u64 },
        failcnt: u64,
        limit: u64,
        commitbytes: u64,
        commitpeakbytes: u64,
        privateworkingset: u64,
      },
    },
    networks: {
      type: "object",
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        required: ["rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes", "tx_packets", "tx_errors", "tx_dropped"],
        properties: {
          rx_bytes: u64,
          rx_packets: u64,
          rx_errors: u64,
          rx_dropped: u64,
          tx_bytes: u64,
          tx_packets: u64,
          tx_errors: u64,
          tx_dropped: u64,
          endpoint_id: { type: "string" },
          instance_id: { type: "string" },
        },
      },
    },
  },
};
const validate = new Ajv({ allErrors: true, strict: false }).compile(ContainerStatsResponse);
function expectSwaggerShape(o: object) {
  const ok = validate(wire(o));
  expect(validate.errors ?? [], JSON.stringify(validate.errors)).toEqual([]);
  expect(ok).toBe(true);
}

// ---- Hand-made samples. ----
const MiB = 1024 * 1024;
const t0 = new Date("2025-01-16T13:55:21.160Z");
const t1 = new Date("2025-01-16T13:55:22.165Z");

/** cgroup v1: per-CPU usage, the whole memory.stat (hierarchical total_* keys too). */
const v1prev: StatsSample = {
  memory: { usage: 100 * MiB, limit: 512 * MiB, cache: 30 * MiB },
  cpu: { usageNanos: 4_000_000_000, perCpuNanos: [2_500_000_000, 1_500_000_000] },
  pids: { current: 3, limit: 100 },
};
const v1cur: StatsSample = {
  memory: {
    usage: 120 * MiB,
    limit: 512 * MiB,
    cache: 40 * MiB,
    maxUsage: 130 * MiB,
    failcnt: 2,
    stats: { cache: 40 * MiB, inactive_file: 25 * MiB, total_inactive_file: 24 * MiB, rss: 80 * MiB, hierarchical_memory_limit: 512 * MiB },
  },
  cpu: {
    usageNanos: 4_500_000_000,
    perCpuNanos: [2_800_000_000, 1_700_000_000],
    userNanos: 3_000_000_000,
    systemNanos: 1_500_000_000,
    throttling: { periods: 10, throttledPeriods: 4, throttledTimeNanos: 123_000_000 },
  },
  pids: { current: 4, limit: 100 },
};

describe("stats JSON", () => {
  test("cgroup v1 sample: the CLI's CPU %, memory (minus total_inactive_file), net, block, pids", () => {
    const input: StatsInput = {
      id: "abc123",
      name: "web",
      read: t1,
      preread: t0,
      current: v1cur,
      previous: v1prev,
      systemCpuNanos: 2_002_000_000_000,
      previousSystemCpuNanos: 2_000_000_000_000, // 2 s of host CPU time over 2 CPUs in 1 s
      onlineCpus: 2,
      networks: {
        eth0: { rx_bytes: 1000, rx_packets: 10, rx_errors: 0, rx_dropped: 0, tx_bytes: 500, tx_packets: 5, tx_errors: 0, tx_dropped: 0 },
        eth1: { rx_bytes: 24, rx_packets: 1, rx_errors: 1, rx_dropped: 2, tx_bytes: 12, tx_packets: 1, tx_errors: 0, tx_dropped: 0 },
      },
      blkioServiceBytes: [
        { major: 254, minor: 0, op: "Read", value: 4096 },
        { major: 254, minor: 0, op: "Write", value: 8192 },
        { major: 254, minor: 0, op: "Total", value: 12288 },
      ],
    };
    const o = statsJSON(input);
    expectSwaggerShape(o);
    const cli = cliEntry(wire(o));
    // 0.5 s of container CPU over 2 s of host CPU time, times 2 CPUs: 50 %.
    expect(cli.cpuPercent).toBeCloseTo(50, 10);
    expect(cli.memory).toBe(120 * MiB - 24 * MiB);
    expect(cli.memoryLimit).toBe(512 * MiB);
    expect(cli.memoryPercent).toBeCloseTo((96 / 512) * 100, 10);
    expect(cli.net).toEqual([1024, 512]);
    expect(cli.block).toEqual([4096, 8192]);
    expect(cli.pids).toBe(4);

    const j = wire(o) as unknown as Record<string, any>;
    expect(j.name).toBe("/web");
    expect(j.id).toBe("abc123");
    expect(j.read).toBe("2025-01-16T13:55:22.165Z");
    expect(j.preread).toBe("2025-01-16T13:55:21.16Z"); // Go's RFC3339Nano drops trailing zeros
    expect(j.cpu_stats.cpu_usage).toEqual({ total_usage: 4_500_000_000, percpu_usage: [2_800_000_000, 1_700_000_000], usage_in_kernelmode: 1_500_000_000, usage_in_usermode: 3_000_000_000 });
    expect(j.cpu_stats.throttling_data).toEqual({ periods: 10, throttled_periods: 4, throttled_time: 123_000_000 });
    expect(j.precpu_stats.cpu_usage.total_usage).toBe(4_000_000_000);
    expect(j.precpu_stats.system_cpu_usage).toBe(2_000_000_000_000);
    expect(j.precpu_stats.online_cpus).toBe(2);
    expect(j.memory_stats).toEqual({
      usage: 120 * MiB,
      max_usage: 130 * MiB,
      stats: v1cur.memory.stats,
      failcnt: 2,
      limit: 512 * MiB,
    });
    expect(j.pids_stats).toEqual({ current: 4, limit: 100 });
    // Keys in Docker's order (encoding/json writes struct fields in declaration order).
    expect(Object.keys(j)).toEqual(["read", "preread", "pids_stats", "blkio_stats", "num_procs", "storage_stats", "cpu_stats", "precpu_stats", "memory_stats", "name", "id", "networks"]);
  });

  test("cgroup v2 sample: no percpu (the CLI falls back to online_cpus), memory minus inactive_file, no max_usage", () => {
    const prev: StatsSample = { memory: { usage: 50 * MiB, limit: 1024 * MiB }, cpu: { usageNanos: 10_000_000_000 }, pids: { current: 1, limit: 0 } };
    const cur: StatsSample = {
      memory: { usage: 64 * MiB, limit: 1024 * MiB, cache: 20 * MiB, stats: { anon: 40 * MiB, file: 20 * MiB, inactive_file: 16 * MiB, active_file: 4 * MiB } },
      cpu: { usageNanos: 13_000_000_000, userNanos: 2_000_000_000, systemNanos: 1_000_000_000 },
      pids: { current: 2, limit: 0 },
    };
    const o = statsJSON({ id: "x", name: "/db", read: t1, preread: t0, current: cur, previous: prev, systemCpuNanos: 108_000_000_000, previousSystemCpuNanos: 100_000_000_000, onlineCpus: 8 });
    expectSwaggerShape(o);
    const cli = cliEntry(wire(o));
    // 3 s over 8 s of host time on 8 CPUs: 300 %.
    expect(cli.cpuPercent).toBeCloseTo(300, 10);
    expect(cli.memory).toBe(48 * MiB);
    expect(cli.memoryPercent).toBeCloseTo((48 / 1024) * 100, 10);
    expect(cli.net).toEqual([0, 0]);
    const j = wire(o) as unknown as Record<string, any>;
    expect(j.cpu_stats.cpu_usage.percpu_usage).toBeUndefined();
    expect(j.memory_stats.max_usage).toBeUndefined();
    expect(j.memory_stats.failcnt).toBeUndefined();
    expect(j.pids_stats).toEqual({ current: 2 }); // limit 0 (none) is omitted, as Go's omitempty does
    expect(j.networks).toBeUndefined(); // no networking: omitted
    expect(j.name).toBe("/db");
  });

  test("online_cpus 0: the CLI counts percpu_usage instead", () => {
    const o = statsJSON({ id: "x", name: "n", read: t1, preread: t0, current: v1cur, previous: v1prev, systemCpuNanos: 3_000_000_000, previousSystemCpuNanos: 2_000_000_000, onlineCpus: 0 });
    expectSwaggerShape(o);
    const j = wire(o);
    expect(j.cpu_stats.online_cpus).toBeUndefined();
    expect(cliEntry(j).cpuPercent).toBeCloseTo((0.5 / 1) * 2 * 100, 10);
  });

  test("first sample: preread is Go's zero time and precpu_stats is empty, as Docker streams it", () => {
    const o = statsJSON({ id: "x", name: "n", read: t1, current: v1cur, systemCpuNanos: 5_000_000_000, onlineCpus: 2 });
    expectSwaggerShape(o);
    const j = wire(o) as unknown as Record<string, any>;
    expect(j.preread).toBe(GO_ZERO_TIME);
    expect(j.precpu_stats).toEqual({
      cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
      throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
    });
  });

  test("a plain LimitStats (no memory.stat): cache is given, the CLI shows the full usage", () => {
    const plain: StatsSample = { memory: { usage: 10 * MiB, limit: 100 * MiB, cache: 3 * MiB }, cpu: { usageNanos: 1 }, pids: { current: 1, limit: 0 } };
    const o = statsJSON({ id: "x", name: "n", read: t1, current: plain, systemCpuNanos: 1, onlineCpus: 1 });
    expectSwaggerShape(o);
    const j = wire(o);
    expect(j.memory_stats.stats).toEqual({ cache: 3 * MiB });
    expect(cliEntry(j).memory).toBe(10 * MiB);
  });

  test("uint64 'max' values stay decodable by Go: never above 2^64-1 once serialised", () => {
    const huge: StatsSample = {
      memory: { usage: 1, limit: 2 ** 64, stats: { hierarchical_memsw_limit: Number("18446744073709551615"), bogus: -5, nan: Number.NaN } },
      cpu: { usageNanos: 2 ** 70 },
      pids: { current: 1, limit: 2 ** 64 },
    };
    const text = JSON.stringify(statsJSON({ id: "x", name: "n", read: t1, current: huge, systemCpuNanos: 1, onlineCpus: 1 }));
    const numbers = [...text.matchAll(/":(-?\d[\d.eE+-]*)/g)].map((m) => m[1]!);
    expect(numbers.length).toBeGreaterThan(10);
    for (const n of numbers) {
      expect(n).toMatch(/^\d+$/); // plain non-negative integers, as Go's uint64 decoder wants
      expect(BigInt(n) <= 18446744073709551615n).toBe(true);
    }
    expect(text).toContain('"hierarchical_memsw_limit":18446744073709550000'); // JS's shortest form, still <= 2^64-1
    expectSwaggerShape(JSON.parse(text));
  });

  test("rfc3339Nano writes what Go's time.Time MarshalJSON writes (UTC)", () => {
    expect(rfc3339Nano(new Date("2024-01-02T03:04:05.000Z"))).toBe("2024-01-02T03:04:05Z");
    expect(rfc3339Nano(new Date("2024-01-02T03:04:05.100Z"))).toBe("2024-01-02T03:04:05.1Z");
    expect(rfc3339Nano(new Date("2024-01-02T03:04:05.123Z"))).toBe("2024-01-02T03:04:05.123Z");
  });
});

describe("system_cpu_usage from /proc/stat", () => {
  test("parsing: the first seven fields of the cpu line, in ns at 100 ticks/s; cpuN lines are the online CPUs", () => {
    const text = "cpu  100 2 30 1000 5 6 7 8 0 0\ncpu0 50 1 15 500 2 3 3 4 0 0\ncpu1 50 1 15 500 3 3 4 4 0 0\nintr 1 2 3\nctxt 5\n";
    expect(parseProcStat(text)).toEqual({ systemCpuNanos: (100 + 2 + 30 + 1000 + 5 + 6 + 7) * 10_000_000, onlineCpus: 2 });
    expect(() => parseProcStat("cpu 1 2 3\n")).toThrow("invalid number of cpu fields");
    expect(() => parseProcStat("intr 1\n")).toThrow("invalid stat format");
  });

  test("on this host: matches /proc/stat, grows, and counts the online CPUs", () => {
    const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").split(/\s+/).slice(1, 8).map(Number);
    const before = fields.reduce((a, b) => a + b, 0) * 10_000_000;
    const a = systemCpuNanos();
    expect(a).toBeGreaterThanOrEqual(before);
    expect(a - before).toBeLessThan(1e9); // read moments apart
    const online = readFileSync("/sys/devices/system/cpu/online", "utf8").trim();
    const count = online.split(",").reduce((n, r) => {
      const [lo, hi] = r.split("-").map(Number);
      return n + (hi === undefined ? 1 : hi - lo! + 1);
    }, 0);
    expect(hostCpu().onlineCpus).toBe(count);
  });

  test("end to end: a spinning thread measured as the CLI would: its share of one CPU", async () => {
    const sample = (): StatsSample => {
      const u = process.cpuUsage();
      return { memory: { usage: 1, limit: 1 }, cpu: { usageNanos: (u.user + u.system) * 1000 }, pids: { current: 1, limit: 0 } };
    };
    const h0 = hostCpu();
    const s0 = sample();
    const w0 = performance.now();
    let x = 0;
    while (performance.now() < w0 + 600) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    const s1 = sample();
    const h1 = hostCpu();
    const wallNs = (performance.now() - w0) * 1e6;
    const o = statsJSON({ id: "x", name: "n", read: new Date(), preread: new Date(), current: s1, previous: s0, systemCpuNanos: h1.systemCpuNanos, previousSystemCpuNanos: h0.systemCpuNanos, onlineCpus: h1.onlineCpus });
    const pct = cliEntry(wire(o)).cpuPercent;
    // What the thread really got: its CPU time over the wall time (100 % on an idle host).
    const actual = ((s1.cpu.usageNanos - s0.cpu.usageNanos) / wallNs) * 100;
    console.log(`spinning thread: docker stats would show ${pct.toFixed(1)}% CPU; it had ${actual.toFixed(1)}% of a CPU`);
    // system_cpu_usage advances by the wall time on every CPU (less steal time, in 10 ms ticks).
    const systemShare = (h1.systemCpuNanos - h0.systemCpuNanos) / (wallNs * h1.onlineCpus);
    expect(systemShare).toBeGreaterThan(0.75);
    expect(systemShare).toBeLessThan(1.05);
    expect(pct / actual).toBeGreaterThan(0.9);
    expect(pct / actual).toBeLessThan(1.35);
  });
});
