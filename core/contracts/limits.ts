// Resource limits: a control group per container. cgroup-v1 and cgroup-v2
// implement it; both pass test/conformance/limits.ts. `none` (hosts without
// cgroups) follows a container by its PID namespace instead and applies no limit.
import type { MountSpec } from "./isolation.ts";

/** Limits in Docker's units (HostConfig fields). Absent means "no limit". */
export interface Resources {
  /** Bytes. */
  memory?: number;
  /** Memory plus swap, bytes; -1 is unlimited. Docker's default is twice `memory`. */
  memorySwap?: number;
  /** CPUs as a fraction, e.g. 0.5 or 1.5 (Docker's --cpus). */
  cpus?: number;
  /** Soft limit in bytes (--memory-reservation): memory the kernel reclaims from this group last. */
  memoryReservation?: number;
  /** Relative weight, 2..262144 (default 1024). */
  cpuShares?: number;
  /** "0-1", "0,2". */
  cpusetCpus?: string;
  /** Maximum number of tasks; 0 or -1 is unlimited. */
  pidsLimit?: number;
  /** Block IO weight 10..1000. */
  blkioWeight?: number;
  /**
   * The devices the group may use (open or mknod): when given, every other
   * device is denied. Set at create only; update leaves it as it is.
   */
  devices?: DeviceRule[];
}

/** One allowed device (Docker's and the OCI spec's device cgroup rule, allow only). */
export interface DeviceRule {
  /** "a" is every device (then major, minor and type do not matter), "c" character, "b" block. */
  type: "a" | "c" | "b";
  /** A number, or "*" for any. */
  major: number | "*";
  minor: number | "*";
  /** Any of "r" (read), "w" (write), "m" (mknod). */
  access: string;
}

export interface LimitStats {
  /** `stats`: the group's memory.stat as it is (clients subtract inactive_file from usage). */
  memory: { usage: number; limit: number; cache?: number; stats?: Record<string, number> };
  cpu: { usageNanos: number; perCpuNanos?: number[] };
  pids: { current: number; limit: number };
  /** Bytes read and written per block device, as Docker's blkio_stats.io_service_bytes_recursive lists them. */
  io?: { major: number; minor: number; op: string; value: number }[];
}

export interface CgroupHandle {
  /** Files a process writes "0" to, to join the group (one per hierarchy). */
  joinFiles: string[];
  /** Filesystems to mount at /sys/fs/cgroup inside the container. */
  containerMounts: MountSpec[];
  /** Limits this host cannot apply, worded as Docker words them. */
  warnings: string[];
}

export interface Limits {
  /** Create the group for a container and apply `resources`. */
  create(id: string, resources: Resources): CgroupHandle;
  update(id: string, resources: Resources): string[];
  /** What create would warn about, known before any group exists (docker create's Warnings). */
  warnings?(resources: Resources): string[];
  /** The container's first process is `pid` (host namespace): how a driver without kernel groups finds its processes. */
  track?(id: string, pid: number): void;
  freeze(id: string): Promise<void>;
  thaw(id: string): Promise<void>;
  stats(id: string): LimitStats;
  /** Did the kernel's OOM killer kill a process in this group? */
  oomKilled(id: string): boolean;
  /** PIDs (host namespace) of every process in the group. */
  pids(id: string): number[];
  /** Kill every process in the group and wait until it is empty. */
  killAll(id: string): Promise<void>;
  /** Kill what is left and remove the group. Removing a missing group succeeds. */
  remove(id: string): Promise<void>;
  /** Does the group exist? */
  exists(id: string): boolean;
  /** The files a process writes "0" to, to join an existing group (as create returned them). */
  joinFiles(id: string): string[];
  /** IDs of every group under the parent: what a restarted engine checks for leftovers. */
  ids(): string[];
}
