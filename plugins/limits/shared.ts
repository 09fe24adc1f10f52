// Helpers shared by the cgroup-v1 and cgroup-v2 limits plugins: validation
// of Docker-style resources, unit conversions, cgroup file I/O with typed
// errors, and the waiting/removal loops both versions need.
import { existsSync, readdirSync, readFileSync, rmdirSync, statfsSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BerthError, errnoCode, invalidArgument, notFound, SysError, unavailable } from "../../core/errors.ts";
import type { LimitStats, Resources } from "../../core/contracts/limits.ts";

/** statfs f_type of cgroup v1 and cgroup v2 filesystems (linux/magic.h). */
export const CGROUP_SUPER_MAGIC = 0x27e0eb;
export const CGROUP2_SUPER_MAGIC = 0x63677270;

/** Docker's smallest memory limit (linuxMinMemory). */
export const MIN_MEMORY = 6 * 1024 * 1024;
/** The CFS period Docker uses for --cpus. */
export const CFS_PERIOD_US = 100_000;

export const BLKIO_WEIGHT_WARNING =
  "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.";
export const SWAP_WARNING =
  "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.";

// ---------------------------------------------------------------- names

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

/** A container's group name: one path component, no dots-only names. */
export function checkId(id: string): string {
  if (typeof id !== "string" || !ID.test(id)) {
    throw invalidArgument(`invalid cgroup name "${id}": use letters, digits, "_", "." and "-" (at most 255), not starting with a dot or dash`);
  }
  return id;
}

/** The cgroup-parent option ("berth", "/berth", "a/b") as relative path components. */
export function parseParent(option: string | undefined): string[] {
  const raw = option ?? "berth";
  const parts = raw.split("/").filter((p) => p !== "");
  if (parts.length === 0) throw invalidArgument(`invalid cgroup-parent "${raw}": it must name a group below the hierarchy root`);
  for (const p of parts) {
    if (p === "." || p === ".." || !/^[A-Za-z0-9_.:@-]+$/.test(p)) {
      throw invalidArgument(`invalid cgroup-parent "${raw}": component "${p}" is not a plain directory name`);
    }
  }
  return parts;
}

// ---------------------------------------------------------------- cpus

/** Parse a cpu list ("0-2,4") into sorted distinct numbers; throws InvalidArgument. */
export function parseCpuList(list: string): number[] {
  const bad = () => invalidArgument(`Invalid value ${list} for cpuset cpus`, 'use a list such as "0-2" or "0,3"');
  const text = list.trim();
  if (text === "") throw bad();
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw bad();
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi > 8191) throw bad();
    for (let c = lo; c <= hi; c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

/** The CPUs the kernel has online (/sys/devices/system/cpu/online). */
export function onlineCpus(): number[] {
  try {
    const text = readFileSync("/sys/devices/system/cpu/online", "utf8").trim();
    if (text) return parseCpuList(text);
  } catch {
    // fall through
  }
  return Array.from({ length: navigator.hardwareConcurrency || 1 }, (_, i) => i);
}

/** runc's cpu.shares (2..262144) -> cpu.weight (1..10000) conversion. */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  const s = Math.min(Math.max(shares, 2), 262144);
  return 1 + Math.floor(((s - 2) * 9999) / 262142);
}

/** runc's blkio weight (10..1000) -> io.weight (1..10000) conversion. */
export function blkioToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** Docker's --cpus as a CFS quota in microseconds per CFS_PERIOD_US. */
export function cpusToQuota(cpus: number): number {
  const nanos = Math.round(cpus * 1e9);
  return Math.floor((nanos * CFS_PERIOD_US) / 1e9);
}

// ---------------------------------------------------------------- validation

/** Resources checked and in kernel terms. Absent fields are left as they are. */
export interface Plan {
  /** Bytes; -1 unlimited. */
  memory?: number;
  /** Memory plus swap in bytes; -1 unlimited. */
  memorySwap?: number;
  /** Soft limit in bytes. */
  memoryReservation?: number;
  /** Whether memorySwap came from the caller (not Docker's 2x default). */
  memorySwapExplicit?: boolean;
  /** CFS quota in µs per CFS_PERIOD_US. */
  cpuQuota?: number;
  /** 2..262144. */
  cpuShares?: number;
  cpusetCpus?: string;
  /** A number of tasks or "max". */
  pidsMax?: number | "max";
  /** 10..1000. */
  blkioWeight?: number;
}

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);

/**
 * Check `r` the way Docker's daemon does and turn it into kernel values.
 * `creating`: apply Docker's create-time defaults (swap = 2 x memory).
 */
export function plan(r: Resources, creating: boolean, cpus: number[] = onlineCpus()): Plan {
  if (r === null || typeof r !== "object") throw invalidArgument("resources must be an object");
  const p: Plan = {};
  const ncpu = cpus.length;

  if (r.memory !== undefined) {
    if (!isInt(r.memory)) throw invalidArgument(`invalid memory limit ${r.memory}: it must be a whole number of bytes`);
    if (r.memory !== 0) {
      if (r.memory < MIN_MEMORY) throw invalidArgument(`Minimum memory limit allowed is 6MB (got ${r.memory} bytes)`);
      p.memory = r.memory;
    }
  }
  if (r.memorySwap !== undefined) {
    if (!isInt(r.memorySwap) || r.memorySwap < -1) {
      throw invalidArgument(`invalid memory+swap limit ${r.memorySwap}: it must be a whole number of bytes, or -1 for unlimited`);
    }
    if (r.memorySwap !== 0) {
      if (p.memory === undefined && creating) {
        throw invalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage");
      }
      if (r.memorySwap > 0 && p.memory !== undefined && r.memorySwap < p.memory) {
        throw invalidArgument(
          `Minimum memoryswap limit should be larger than memory limit, see usage (memory ${p.memory}, memory+swap ${r.memorySwap})`,
        );
      }
      p.memorySwap = r.memorySwap;
      p.memorySwapExplicit = true;
    }
  }
  if (creating && p.memory !== undefined && p.memorySwap === undefined) p.memorySwap = p.memory * 2;
  if (r.memoryReservation !== undefined) {
    if (!isInt(r.memoryReservation) || r.memoryReservation < 0) throw invalidArgument(`invalid memory reservation ${r.memoryReservation}: it must be a whole number of bytes`);
    if (r.memoryReservation !== 0) {
      if (r.memoryReservation < MIN_MEMORY) throw invalidArgument(`Minimum memory reservation allowed is 6MB (got ${r.memoryReservation} bytes)`);
      if (p.memory !== undefined && p.memory < r.memoryReservation) throw invalidArgument("Minimum memory limit can not be less than memory reservation limit, see usage");
      p.memoryReservation = r.memoryReservation;
    }
  }

  if (r.cpus !== undefined) {
    const range = `Range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`;
    if (typeof r.cpus !== "number" || !Number.isFinite(r.cpus)) throw invalidArgument(`invalid cpus ${r.cpus}: ${range}`);
    if (r.cpus !== 0) {
      if (r.cpus < 0.01 || r.cpus > ncpu) throw invalidArgument(`${range} (got ${r.cpus})`);
      p.cpuQuota = cpusToQuota(r.cpus);
    }
  }
  if (r.cpuShares !== undefined) {
    if (!isInt(r.cpuShares) || r.cpuShares < 0 || r.cpuShares > 262144) {
      throw invalidArgument(`invalid cpu shares ${r.cpuShares}: use a whole number from 2 to 262144 (default 1024)`);
    }
    // The kernel raises 1 to its minimum of 2, as it does for Docker.
    if (r.cpuShares !== 0) p.cpuShares = Math.max(r.cpuShares, 2);
  }
  if (r.cpusetCpus !== undefined && r.cpusetCpus !== "") {
    if (typeof r.cpusetCpus !== "string") throw invalidArgument(`Invalid value ${r.cpusetCpus} for cpuset cpus`);
    const want = parseCpuList(r.cpusetCpus);
    const have = new Set(cpus);
    if (want.some((c) => !have.has(c))) {
      throw invalidArgument(`Requested CPUs are not available - requested ${r.cpusetCpus}, available: ${formatCpuList(cpus)}`);
    }
    p.cpusetCpus = formatCpuList(want);
  }
  if (r.pidsLimit !== undefined) {
    if (!isInt(r.pidsLimit)) throw invalidArgument(`invalid pids limit ${r.pidsLimit}: use a whole number (0 or -1 for unlimited)`);
    p.pidsMax = r.pidsLimit > 0 ? r.pidsLimit : "max";
  }
  if (r.blkioWeight !== undefined) {
    if (!isInt(r.blkioWeight) || (r.blkioWeight !== 0 && (r.blkioWeight < 10 || r.blkioWeight > 1000))) {
      throw invalidArgument(`Range of blkio weight is from 10 to 1000 (got ${r.blkioWeight})`);
    }
    if (r.blkioWeight !== 0) p.blkioWeight = r.blkioWeight;
  }
  return p;
}

/** [0,1,2,4] -> "0-2,4". */
export function formatCpuList(cpus: number[]): string {
  const out: string[] = [];
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(",");
}

// ---------------------------------------------------------------- parsing

/** "key value" lines (memory.stat, cpu.stat, memory.events, ...) as numbers. */
/** cgroup v1 blkio.*io_service_bytes_recursive: "8:0 Read 4096" lines (the "Total" line dropped). */
export function parseBlkioV1(text: string): NonNullable<LimitStats["io"]> {
  const out: NonNullable<LimitStats["io"]> = [];
  for (const line of text.split("\n")) {
    const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return out;
}

/** cgroup v2 io.stat: "8:0 rbytes=4096 wbytes=0 ..." -> Docker's lower-case "read"/"write" entries. */
export function parseIoStatV2(text: string): NonNullable<LimitStats["io"]> {
  const out: NonNullable<LimitStats["io"]> = [];
  for (const line of text.split("\n")) {
    const m = /^(\d+):(\d+) (.*)$/.exec(line.trim());
    if (!m) continue;
    const fields = new Map(m[3]!.split(" ").map((kv) => kv.split("=") as [string, string]));
    for (const [key, op] of [["rbytes", "read"], ["wbytes", "write"]] as const) {
      if (fields.has(key)) out.push({ major: Number(m[1]), minor: Number(m[2]), op, value: Number(fields.get(key)) });
    }
  }
  return out;
}

export function parseKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** A limit file's value: "max" (or the v1 "unlimited" page-rounded i64 max) -> undefined. */
export function parseLimit(text: string): number | undefined {
  const t = text.trim();
  if (t === "max" || t === "") return undefined;
  const n = Number(t);
  if (!Number.isFinite(n) || n < 0 || n >= 2 ** 62) return undefined;
  return n;
}

/** Total RAM in bytes (/proc/meminfo MemTotal). */
export function hostMemory(): number {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(readText("/proc/meminfo") ?? "");
  return m ? Number(m[1]) * 1024 : 0;
}

// ---------------------------------------------------------------- files

/** Write `value` to a cgroup file; errors name the file and the value. */
export function writeCg(file: string, value: string | number): void {
  try {
    writeFileSync(file, String(value));
  } catch (err) {
    throw sysError(err, "write", `"${value}" to ${file}`);
  }
}

/** Read a cgroup file; undefined when it does not exist. */
export function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw sysError(err, "read", file);
  }
}

/** Read a cgroup file that must exist. */
export function readCg(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw sysError(err, "read", file);
  }
}

export function sysError(err: unknown, call: string, subject: string): BerthError {
  if (err instanceof BerthError) return err;
  const code = errnoCode(err);
  if (!code) return new BerthError("Internal", `${call} ${subject}: ${String(err)}`);
  const errno = Math.abs(Number((err as { errno?: number }).errno ?? 0));
  return new SysError(call, errno, code, subject);
}

/** PIDs in a cgroup.procs file (empty when the file is gone). */
export function readProcs(file: string): number[] {
  const text = readText(file);
  if (!text) return [];
  return text.split("\n").filter(Boolean).map(Number);
}

/** The statfs type of `path`: "cgroup", "cgroup2", another hex magic, or undefined if it is missing. */
export function fsKind(path: string): string | undefined {
  let type: number;
  try {
    type = Number(statfsSync(path).type);
  } catch {
    return undefined;
  }
  if (type === CGROUP_SUPER_MAGIC) return "cgroup";
  if (type === CGROUP2_SUPER_MAGIC) return "cgroup2";
  return `0x${type.toString(16)}`;
}

/** Every directory below `dir` (children before parents), then `dir` itself. */
export function subtree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return;
      throw sysError(err, "readdir", d);
    }
    for (const e of entries) if (e.isDirectory()) walk(join(d, e.name));
    out.push(d);
  };
  walk(dir);
  return out;
}

/** PIDs in the cgroup `dir` and every group below it. */
export function procsBelow(dir: string): number[] {
  const all = new Set<number>();
  for (const d of subtree(dir)) for (const pid of readProcs(join(d, "cgroup.procs"))) all.add(pid);
  return [...all];
}

/**
 * Start moving this process into the cgroup it is already in, on a worker
 * thread, without waiting. The kernel's first cgroup migration after a
 * quiet spell waits for an RCU grace period (5-20 ms here); the ones in the
 * next ~10 ms do not. Done when a group is created, the container's own
 * join a few milliseconds later is then fast.
 */
export function warmUpMigration(ownProcsFile: string | undefined): void {
  if (ownProcsFile) void writeFile(ownProcsFile, String(process.pid)).catch(() => {});
}

/** The cgroup.procs of this process's own group in the hierarchy mounted at `mountpoint`. */
export function ownProcsFile(mountpoint: string, controller: string | null): string | undefined {
  const self = readText("/proc/self/cgroup") ?? "";
  for (const line of self.split("\n")) {
    const [, ctrls = "", path = ""] = line.split(":");
    if (controller === null ? line.startsWith("0::") : ctrls.split(",").includes(controller)) {
      return join(mountpoint, path, "cgroup.procs");
    }
  }
  return undefined;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll `done` every few ms until it is true; throw Unavailable(`what`) after `timeoutMs`. */
export async function waitUntil(done: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  while (!done()) {
    if (Date.now() > deadline) throw unavailable(what());
    await sleep(delay);
    delay = Math.min(delay * 2, 25);
  }
}

/** SIGKILL each pid; a pid that is already gone is fine. */
export function killPids(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch (err) {
      if (errnoCode(err) !== "ESRCH") throw sysError(err, "kill", `SIGKILL ${pid}`);
    }
  }
}

/**
 * rmdir the cgroup `dir` and any groups below it, children first. A missing
 * dir is fine; EBUSY (the last task is still exiting) is retried for `timeoutMs`.
 */
export async function removeTree(dir: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const d of subtree(dir)) {
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      try {
        rmdirSync(d);
        break;
      } catch (err) {
        const code = errnoCode(err);
        if (code === "ENOENT") break;
        if (code === "EBUSY" && Date.now() < deadline) {
          await sleep(delay);
          continue;
        }
        const e = sysError(err, "rmdir", d);
        if (code === "EBUSY") e.message += ` (tasks are still in ${d}${readProcs(join(d, "cgroup.procs")).length ? `: ${readProcs(join(d, "cgroup.procs")).join(" ")}` : ""})`;
        throw e;
      }
    }
  }
}

export function requireDir(dir: string, id: string): void {
  if (!existsSync(dir)) throw notFound(`cgroup for "${id}" does not exist (${dir})`);
}
