// Devices of a container: Docker's default device-cgroup allowlist, --device
// mappings (a node in /dev and a rule), and --privileged's every host device.
import { readdirSync, statSync, type BigIntStats } from "node:fs";
import type { DeviceNode } from "../contracts/isolation.ts";
import type { DeviceRule } from "../contracts/limits.ts";
import { invalidArgument } from "../errors.ts";
import type { HostConfig } from "./types.ts";

/**
 * What Docker allows a container (moby's default spec plus runc's
 * AllowedDevices): mknod of any node; null, zero, full, random, urandom,
 * tty, console, ptmx, the pts terminals and tun.
 */
export const DEFAULT_DEVICE_RULES: DeviceRule[] = [
  { type: "c", major: "*", minor: "*", access: "m" },
  { type: "b", major: "*", minor: "*", access: "m" },
  ...([[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 1], [5, 2], [10, 200]] as const).map(([major, minor]): DeviceRule => ({ type: "c", major, minor, access: "rwm" })),
  { type: "c", major: 136, minor: "*", access: "rwm" },
];
export const ALLOW_ALL: DeviceRule[] = [{ type: "a", major: "*", minor: "*", access: "rwm" }];

/** Names in /dev the isolation makes itself (links, the pts instance): a host device never replaces them. */
const OWN_NAMES = new Set(["/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/ptmx", "/dev/core", "/dev/console"]);
/** Directories of host /dev that are not devices to copy (as runc skips them). */
const SKIP_DIRS = new Set(["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"]);

/** major and minor of a dev_t (glibc's gnu_dev_major/minor). */
export function splitDev(dev: bigint): [number, number] {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return [Number(major), Number(minor)];
}

function nodeOf(st: BigIntStats, path: string, hostPath: string): DeviceNode | undefined {
  const type = st.isCharacterDevice() ? "c" : st.isBlockDevice() ? "b" : undefined;
  if (!type) return undefined;
  const [major, minor] = splitDev(st.rdev);
  return { path, type, major, minor, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), hostPath };
}

/** Every device node under a host directory, at `inside` in the container. */
function walk(hostDir: string, inside: string, top: boolean): DeviceNode[] {
  const out: DeviceNode[] = [];
  let entries;
  try {
    entries = readdirSync(hostDir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const host = `${hostDir}/${e.name}`;
    const path = `${inside}/${e.name}`;
    if (e.isDirectory()) {
      if (!(top && SKIP_DIRS.has(e.name))) out.push(...walk(host, path, false));
      continue;
    }
    if (OWN_NAMES.has(path)) continue;
    try {
      const node = nodeOf(statSync(host, { bigint: true }), path, host);
      if (node && !e.isSymbolicLink()) out.push(node);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** --privileged: the host's devices, as runc's HostDevices lists them. */
export function hostDevices(): DeviceNode[] {
  return walk("/dev", "/dev", true);
}

/** Check --device mappings as the daemon gets them: paths, permissions, and that the host path is a device. */
export function checkDeviceMappings(h: HostConfig) {
  for (const d of h.Devices ?? []) mappingNodes(d);
  for (const r of h.DeviceCgroupRules ?? []) parseCgroupRule(r);
}

/** A --device-cgroup-rule as Docker takes it: "TYPE MAJOR:MINOR ACCESS", e.g. "c 42:* rmw". */
export function parseCgroupRule(rule: string): DeviceRule {
  const m = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.exec(rule);
  if (!m) throw invalidArgument(`invalid device cgroup format '${rule}'`, "use TYPE MAJOR:MINOR ACCESS, e.g. 'c 42:* rmw'");
  const num = (s: string) => (s === "*" ? "*" : Number(s));
  return { type: m[1] as DeviceRule["type"], major: num(m[2]!), minor: num(m[3]!), access: m[4]! };
}

/** The nodes of one --device mapping (a directory maps every device under it). */
function mappingNodes(d: NonNullable<HostConfig["Devices"]>[number]): DeviceNode[] {
  const host = d.PathOnHost;
  const inside = d.PathInContainer || host;
  if (!host?.startsWith("/")) throw invalidArgument(`invalid device mapping ${JSON.stringify(host)}: the host path must be absolute`, "use --device /dev/HOST[:/dev/CONTAINER][:rwm]");
  if (!inside.startsWith("/") || inside.split("/").includes("..")) throw invalidArgument(`invalid device mapping ${JSON.stringify(inside)}: the container path must be absolute, without ".."`);
  const perms = d.CgroupPermissions ?? "rwm";
  if (!/^[rwm]{1,3}$/.test(perms) || new Set(perms).size !== perms.length) throw invalidArgument(`invalid device cgroup permissions ${JSON.stringify(perms)} for ${host}: use a combination of r, w and m`);
  let st: BigIntStats;
  try {
    st = statSync(host, { bigint: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw invalidArgument(`error gathering device information while adding custom device ${JSON.stringify(host)}: ${code === "ENOENT" ? "no such file or directory" : (err as Error).message}`);
  }
  if (st.isDirectory()) return walk(host, inside, false);
  const node = nodeOf(st, inside, host);
  if (!node) throw invalidArgument(`error gathering device information while adding custom device ${JSON.stringify(host)}: not a device node`);
  return [node];
}

/** The container's extra device nodes and its device-cgroup rules. */
export function containerDevices(h: HostConfig): { nodes: DeviceNode[]; rules: DeviceRule[] } {
  const mapped = (h.Devices ?? []).map((d) => ({ d, nodes: mappingNodes(d) }));
  if (h.Privileged) {
    // Every host device; a mapping to another path adds that path too (Docker ignores its permissions here).
    const extra = mapped.flatMap(({ d, nodes }) => (d.PathInContainer && d.PathInContainer !== d.PathOnHost ? nodes : []));
    return { nodes: dedupe([...hostDevices(), ...extra]), rules: ALLOW_ALL };
  }
  const rules = [...DEFAULT_DEVICE_RULES];
  for (const { d, nodes } of mapped) {
    for (const n of nodes) rules.push({ type: n.type, major: n.major, minor: n.minor, access: d.CgroupPermissions || "rwm" });
  }
  rules.push(...(h.DeviceCgroupRules ?? []).map(parseCgroupRule));
  return { nodes: dedupe(mapped.flatMap((m) => m.nodes)), rules };
}

function dedupe(nodes: DeviceNode[]): DeviceNode[] {
  const byPath = new Map<string, DeviceNode>();
  for (const n of nodes) byPath.set(n.path, n);
  return [...byPath.values()];
}
