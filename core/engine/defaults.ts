// Docker's defaults for a container's sandbox, so a berth container is no
// easier to escape than a Docker one.
import type { MountSpec } from "../contracts/isolation.ts";

export const DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export const MASKED_PATHS = [
  "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
  "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
];

export const READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/** The kernel filesystems every container gets; the cgroup ones are added after /sys. */
export const DEFAULT_MOUNTS: MountSpec[] = [
  { type: "proc", source: "proc", destination: "/proc", options: ["nosuid", "noexec", "nodev"] },
  { type: "tmpfs", source: "tmpfs", destination: "/dev", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
  { type: "devpts", source: "devpts", destination: "/dev/pts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
  { type: "sysfs", source: "sysfs", destination: "/sys", options: ["nosuid", "noexec", "nodev", "ro"] },
];

export const DEFAULT_MOUNTS_AFTER_CGROUP: MountSpec[] = [
  { type: "mqueue", source: "mqueue", destination: "/dev/mqueue", options: ["nosuid", "noexec", "nodev"] },
  { type: "tmpfs", source: "shm", destination: "/dev/shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
];

/** Options of a `--tmpfs` mount when none are given, as in Docker. */
export const DEFAULT_TMPFS_OPTIONS = ["nosuid", "nodev", "noexec"];

export const HOSTS_HEADER = [
  "127.0.0.1\tlocalhost",
  "::1\tlocalhost ip6-localhost ip6-loopback",
  "fe00::0\tip6-localnet",
  "ff00::0\tip6-mcastprefix",
  "ff02::1\tip6-allnodes",
  "ff02::2\tip6-allrouters",
];
