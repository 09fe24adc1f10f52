// Start a created container: mount its root filesystem, give it a network
// namespace and a cgroup, write its /etc files, and hand the sandbox to
// the isolation plugin. Whatever fails undoes what was done before it.
import { readFileSync, writeFileSync } from "node:fs";
import { hostname as hostHostname } from "node:os";
import { DEFAULT_CAPABILITIES } from "../caps.ts";
import type { ExitStatus, MountSpec, SandboxSpec, StdioSpec } from "../contracts/isolation.ts";
import type { Resources } from "../contracts/limits.ts";
import type { Attachment } from "../contracts/network.ts";
import { conflict, isKind, StartError } from "../errors.ts";
import { isSameProcess, processStartTime } from "../proc.ts";
import { createNetns, removeNetns } from "../sys/netns.ts";
import { libcSys } from "../sys/libc.ts";
import {
  DEFAULT_MOUNTS, DEFAULT_MOUNTS_AFTER_CGROUP, DEFAULT_PATH_ENV, HOSTS_HEADER, MASKED_PATHS, READONLY_PATHS,
} from "./defaults.ts";
import type { Engine } from "./engine.ts";
import { bindToMountSpec, parseTmpfs, sortByDepth } from "./mounts.ts";
import type { ContainerRecord, HostConfig } from "./types.ts";
import { trace } from "../trace.ts";

export interface StartedContainer {
  id: string;
  pid: number;
  exited: Promise<ExitStatus>;
  warnings: string[];
}

export async function startContainer(engine: Engine, rec: ContainerRecord, stdio: [StdioSpec, StdioSpec, StdioSpec]): Promise<StartedContainer> {
  if (rec.State.Running && isSameProcess(rec.State.Pid, rec.PidStartTime)) {
    throw conflict(`container ${rec.Id.slice(0, 12)} is already running`);
  }
  const id = rec.Id;
  const storage = await engine.storage(rec.Driver);
  const [limits, isolation, network] = await Promise.all([
    engine.plugin("limits"),
    engine.plugin("isolation"),
    engine.plugin("network", rec.HostConfig.NetworkMode),
  ]);
  const undo: (() => unknown)[] = [];
  try {
    trace("start: plugins");
    const rootfs = await storage.mount(id);
    trace("start: mounted");
    undo.push(() => storage.unmount(id));

    let netnsPath: string | undefined;
    if (network.namespace === "private") {
      netnsPath = engine.netnsPath(id);
      createNetns(libcSys, netnsPath);
      undo.push(() => removeNetns(libcSys, netnsPath!));
    }
    trace("start: netns");
    const attachment = await network.attach(id, netnsPath ?? null);
    undo.push(() => network.detach(id));

    const hostname = network.namespace === "host" ? hostHostname() : rec.Config.Hostname || id.slice(0, 12);
    const etcMounts = writeEtcFiles(engine.containerDir(id), hostname, attachment, network.namespace === "private");

    trace("start: etc files");
    const cgroup = limits.create(id, resourcesOf(rec.HostConfig));
    trace("start: cgroup");
    undo.push(() => limits.remove(id));

    const spec = sandboxSpec(rec, rootfs, hostname, netnsPath, etcMounts, cgroup);
    const proc = await isolation.start(spec, stdio);
    trace("start: isolation started");

    rec.State = {
      ...rec.State,
      Status: "running",
      Running: true,
      Paused: false,
      OOMKilled: false,
      Dead: false,
      Pid: proc.pid,
      ExitCode: 0,
      Error: "",
      StartedAt: new Date().toISOString(),
    };
    rec.PidStartTime = processStartTime(proc.pid);
    engine.db.saveContainer(rec);
    return { id, pid: proc.pid, exited: proc.exited, warnings: cgroup.warnings };
  } catch (err) {
    for (const step of undo.reverse()) await Promise.resolve().then(step).catch(() => {});
    rec.State.Error = err instanceof Error ? err.message : String(err);
    if (err instanceof StartError) rec.State.ExitCode = err.exitCode;
    engine.db.saveContainer(rec);
    throw err;
  }
}

/**
 * Record how a container ended and release what it held: its cgroup,
 * network namespace and root filesystem mount. Safe to call twice.
 */
export async function finishContainer(engine: Engine, id: string, status: ExitStatus) {
  const rec = engine.db.getContainer(id);
  const limits = await engine.plugin("limits");
  let oomKilled = false;
  try {
    oomKilled = limits.exists(id) && limits.oomKilled(id);
  } catch (err) {
    if (!isKind(err, "NotFound")) throw err; // removed meanwhile (rm -f from another process)
  }
  await releaseResources(engine, id, rec);
  if (!rec) return;
  rec.State = {
    ...rec.State,
    Status: "exited",
    Running: false,
    Paused: false,
    Pid: 0,
    ExitCode: status.code,
    OOMKilled: oomKilled,
    Error: status.error ?? "",
    FinishedAt: new Date().toISOString(),
  };
  engine.db.saveContainer(rec);
}

/** Undo everything start did. Idempotent: every step tolerates "already gone". */
export async function releaseResources(engine: Engine, id: string, rec?: ContainerRecord) {
  const limits = await engine.plugin("limits");
  await limits.remove(id);
  if (rec) {
    const network = await engine.plugin("network", rec.HostConfig.NetworkMode).catch(() => undefined);
    await network?.detach(id);
  }
  removeNetns(libcSys, engine.netnsPath(id));
  if (rec) await (await engine.storage(rec.Driver)).unmount(id);
}

export function resourcesOf(h: HostConfig): Resources {
  return {
    memory: h.Memory || undefined,
    memorySwap: h.MemorySwap || undefined,
    cpus: h.NanoCpus ? h.NanoCpus / 1e9 : undefined,
    cpuShares: h.CpuShares || undefined,
    cpusetCpus: h.CpusetCpus || undefined,
    pidsLimit: h.PidsLimit && h.PidsLimit > 0 ? h.PidsLimit : undefined,
    blkioWeight: h.BlkioWeight || undefined,
  };
}

/** /etc/hostname, /etc/hosts and /etc/resolv.conf of the container, bound in at start. */
function writeEtcFiles(dir: string, hostname: string, net: Attachment, privateNet: boolean): MountSpec[] {
  const hosts = net.useHostFiles
    ? readOr("/etc/hosts")
    : [...HOSTS_HEADER, ...net.hostsEntries].join("\n") + "\n";
  let resolv = readOr("/etc/resolv.conf");
  if (privateNet) {
    // The host's loopback resolvers cannot be reached from another namespace.
    resolv = resolv.split("\n").filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l)).join("\n");
  }
  writeFileSync(`${dir}/hostname`, `${hostname}\n`);
  writeFileSync(`${dir}/hosts`, hosts);
  writeFileSync(`${dir}/resolv.conf`, resolv);
  return ["resolv.conf", "hostname", "hosts"].map((f) => ({
    type: "bind",
    source: `${dir}/${f}`,
    destination: `/etc/${f}`,
    options: ["rbind", "rprivate"],
  }));
}

function sandboxSpec(
  rec: ContainerRecord,
  rootfs: string,
  hostname: string,
  netnsPath: string | undefined,
  etcMounts: MountSpec[],
  cgroup: { joinFiles: string[]; containerMounts: MountSpec[] },
): SandboxSpec {
  const h = rec.HostConfig;
  const user = sortByDepth([...rec.Mounts.map(bindToMountSpec), ...parseTmpfs(h.Tmpfs ?? {})]);
  const userDests = new Set(user.map((m) => m.destination));
  const env = [DEFAULT_PATH_ENV, `HOSTNAME=${hostname}`, ...(rec.Config.Tty ? ["TERM=xterm"] : [])];
  for (const e of rec.Config.Env ?? []) {
    const key = e.split("=", 1)[0];
    const at = env.findIndex((x) => x.split("=", 1)[0] === key);
    if (at >= 0) env[at] = e;
    else env.push(e);
  }
  return {
    id: rec.Id,
    rootfs,
    hostname,
    readonlyRootfs: !!h.ReadonlyRootfs,
    mounts: [
      ...DEFAULT_MOUNTS,
      ...cgroup.containerMounts,
      ...DEFAULT_MOUNTS_AFTER_CGROUP,
      ...etcMounts.filter((m) => !userDests.has(m.destination)),
      ...user,
    ],
    maskedPaths: MASKED_PATHS,
    readonlyPaths: READONLY_PATHS,
    netnsPath,
    cgroupJoin: cgroup.joinFiles,
    process: {
      args: [rec.Path, ...rec.Args],
      env,
      cwd: rec.Config.WorkingDir || "/",
      user: rec.Config.User ?? "",
      capabilities: DEFAULT_CAPABILITIES,
      noNewPrivileges: false,
      rlimits: (h.Ulimits ?? []).map((u) => ({ type: u.Name, soft: u.Soft, hard: u.Hard })),
    },
  };
}

function readOr(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
