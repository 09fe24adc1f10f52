// What this host offers, read once from /proc: the facts plugins probe.
import { readFileSync } from "node:fs";

export interface CgroupHierarchy {
  mountpoint: string;
  /** For v1: the controllers co-mounted here (e.g. ["cpu","cpuacct"]). */
  controllers: string[];
}

export interface HostInfo {
  kernel: string;
  /** "hybrid": v1 controllers plus a cgroup2 tree (usually at /sys/fs/cgroup/unified). */
  cgroupMode: "v1" | "v2" | "hybrid" | "none";
  /** v1 hierarchies by controller name ("memory" -> its mount). */
  cgroupV1: Map<string, CgroupHierarchy>;
  /** The cgroup2 mount and the controllers available at its root. */
  cgroupV2?: CgroupHierarchy;
  filesystems: Set<string>;
  capLastCap: number;
}

const read = (path: string) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
};

/** Parse /proc/self/mountinfo into {mountpoint, fstype, superOptions}. */
export function parseMountinfo(text: string) {
  const mounts: { mountpoint: string; fstype: string; source: string; superOptions: string[] }[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const [left, right] = line.split(" - ");
    if (!left || !right) continue;
    const mountpoint = unescapeMountPath(left.split(" ")[4] ?? "");
    const [fstype = "", source = "", opts = ""] = right.split(" ");
    mounts.push({ mountpoint, fstype, source, superOptions: opts.split(",") });
  }
  return mounts;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
export const unescapeMountPath = (p: string) =>
  p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function probeHost(): HostInfo {
  const mounts = parseMountinfo(read("/proc/self/mountinfo"));
  const cgroupV1 = new Map<string, CgroupHierarchy>();
  let cgroupV2: CgroupHierarchy | undefined;
  for (const m of mounts) {
    if (m.fstype === "cgroup") {
      const controllers = m.superOptions.filter((o) => !/^(rw|ro|relatime|noatime|nosuid|nodev|noexec|clone_children|xattr|name=.*)$/.test(o));
      for (const c of controllers) if (!cgroupV1.has(c)) cgroupV1.set(c, { mountpoint: m.mountpoint, controllers });
    } else if (m.fstype === "cgroup2" && !cgroupV2) {
      const controllers = read(`${m.mountpoint}/cgroup.controllers`).trim().split(/\s+/).filter(Boolean);
      cgroupV2 = { mountpoint: m.mountpoint, controllers };
    }
  }
  const cgroupMode = cgroupV1.size > 0 ? (cgroupV2 ? "hybrid" : "v1") : cgroupV2 ? "v2" : "none";
  const filesystems = new Set(
    read("/proc/filesystems").split("\n").map((l) => l.split("\t").pop()!.trim()).filter(Boolean),
  );
  return {
    kernel: read("/proc/sys/kernel/osrelease").trim(),
    cgroupMode,
    cgroupV1,
    cgroupV2,
    filesystems,
    capLastCap: Number(read("/proc/sys/kernel/cap_last_cap").trim() || 40),
  };
}
