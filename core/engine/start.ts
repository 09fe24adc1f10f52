// Start a created container: mount its root filesystem, give it a network
// namespace, a cgroup and its volumes, write its /etc files, and hand the
// sandbox to the isolation plugin, which runs it under a monitor. Whatever
// fails undoes what was done before it.
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname as hostHostname } from "node:os";
import { containerCapabilities } from "../caps.ts";
import type { AttachStream, MountSpec, SandboxSpec } from "../contracts/isolation.ts";
import type { Resources } from "../contracts/limits.ts";
import type { Attachment } from "../contracts/network.ts";
import { failedPrecondition, notModified, StartError } from "../errors.ts";
import { processStartTime } from "../proc.ts";
import { createNetns, removeNetns } from "../sys/netns.ts";
import { libcSys } from "../sys/libc.ts";
import { trace } from "../trace.ts";
import { logLimits } from "./create.ts";
import {
  DEFAULT_MOUNTS, DEFAULT_MOUNTS_AFTER_CGROUP, DEFAULT_PATH_ENV, HOSTS_HEADER, MASKED_PATHS, READONLY_PATHS,
} from "./defaults.ts";
import type { Engine } from "./engine.ts";
import { handleExit } from "./exit.ts";
import { startHealthChecks } from "./health.ts";
import { bindToMountSpec, parseTmpfs, sortByDepth } from "./mounts.ts";
import type { ContainerRecord, HostConfig } from "./types.ts";

export async function startContainer(engine: Engine, rec: ContainerRecord): Promise<void> {
  if (rec.State.Running) throw notModified(`container ${rec.Id.slice(0, 12)} is already running`);
  if (rec.Creating) throw failedPrecondition(`container ${rec.Id.slice(0, 12)} is still being created`);
  const id = rec.Id;
  const rt = engine.rt(id);
  if (rt.restartTimer) clearTimeout(rt.restartTimer);
  rt.restartTimer = undefined;
  const storage = await engine.storage(rec.Driver);
  const [limits, isolation, network] = await Promise.all([
    engine.plugin("limits"),
    engine.plugin("isolation"),
    engine.plugin("network", rec.HostConfig.NetworkMode),
  ]);
  trace("start: plugins");
  const undo: (() => unknown)[] = [];
  try {
    const rootfs = await storage.mount(id);
    undo.push(() => storage.unmount(id));

    let netnsPath: string | undefined;
    if (network.namespace === "private") {
      netnsPath = engine.netnsPath(id);
      createNetns(libcSys, netnsPath);
      undo.push(() => removeNetns(libcSys, netnsPath!));
    }
    const attachment = await network.attach(id, netnsPath ?? null);
    undo.push(() => network.detach(id));

    const hostname = network.namespace === "host" ? hostHostname() : rec.Config.Hostname || id.slice(0, 12);
    const etcMounts = writeEtcFiles(engine.containerDir(id), hostname, attachment, network.namespace === "private");
    const volumeMounts = await mountVolumes(engine, rec, rootfs);
    undo.push(() => unmountVolumes(engine, rec));

    const cgroup = limits.create(id, resourcesOf(rec.HostConfig));
    undo.push(() => limits.remove(id));
    trace("start: prepared");

    const spec = sandboxSpec(rec, rootfs, hostname, netnsPath, etcMounts, volumeMounts, cgroup);
    const stateDir = engine.monitorDir(id);
    rmSync(stateDir, { recursive: true, force: true });
    const log = logLimits(rec.HostConfig.LogConfig?.Config ?? {});
    const proc = await isolation.start(
      spec,
      { stateDir, tty: !!rec.Config.Tty, stdin: !!rec.Config.OpenStdin, stdinOnce: !!rec.Config.StdinOnce, log: { path: rec.LogPath, ...log } },
      async (attach) => {
        for (const p of rt.pendingAttach.splice(0)) await attach(p.streams).then(p.resolve, p.reject);
      },
    );
    trace("start: running");
    rt.proc = proc;
    rec.State = {
      ...rec.State,
      Status: "running",
      Running: true,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: proc.pid,
      ExitCode: 0,
      Error: "",
      StartedAt: new Date().toISOString(),
      Health: rec.Config.Healthcheck?.Test && rec.Config.Healthcheck.Test[0] !== "NONE" ? { Status: "starting", FailingStreak: 0, Log: [] } : undefined,
    };
    rec.PidStartTime = processStartTime(proc.pid);
    rec.MonitorPid = proc.monitorPid;
    engine.save(rec);
    for (const w of cgroup.warnings) engine.emit("container", "warning", id, { message: w });
    engine.emit("container", "start", id, engine.containerAttributes(rec));
    watchExit(engine, rec);
    startHealthChecks(engine, rec);
  } catch (err) {
    for (const p of rt.pendingAttach.splice(0)) p.reject(err);
    for (const step of undo.reverse()) await Promise.resolve().then(step).catch(() => {});
    rec.State.Error = err instanceof Error ? err.message : String(err);
    if (err instanceof StartError) rec.State.ExitCode = err.exitCode;
    engine.save(rec);
    throw err;
  }
}

/** When the container's process ends, record it (once) and apply the restart policy. */
export function watchExit(engine: Engine, rec: ContainerRecord) {
  const rt = engine.rt(rec.Id);
  const proc = rt.proc!;
  rt.finished = proc.exited.then((status) => handleExit(engine, rec.Id, proc, status));
}

/** Attach to a container: now if it runs, else when it starts (docker run attaches before it starts). */
export function attachContainer(engine: Engine, rec: ContainerRecord, streams: { stdin?: boolean; stdout?: boolean; stderr?: boolean }): Promise<AttachStream> {
  const rt = engine.rt(rec.Id);
  if (rt.proc) return rt.proc.attach(streams);
  return new Promise((resolve, reject) => rt.pendingAttach.push({ streams, resolve, reject }));
}

/** Mount the container's volumes (filling new ones from the image) and give their binds. */
async function mountVolumes(engine: Engine, rec: ContainerRecord, rootfs: string): Promise<MountSpec[]> {
  const { populateVolume } = await import("./volume-populate.ts");
  const out: MountSpec[] = [];
  for (const m of rec.Mounts) {
    if (m.Type !== "volume") continue;
    const driver = await engine.plugin("volume", m.Driver || "local");
    const path = await driver.mount(m.Name!, rec.Id);
    if (!m.NoCopy && isEmptyDir(path)) await populateVolume(rootfs, m.Destination, path);
    out.push({ type: "bind", source: path, destination: m.Destination, options: ["rbind", "rprivate", ...(m.RW ? [] : ["ro"])] });
  }
  return out;
}

export async function unmountVolumes(engine: Engine, rec: ContainerRecord) {
  for (const m of rec.Mounts) {
    if (m.Type !== "volume" || !m.Name) continue;
    const driver = await engine.plugin("volume", m.Driver || "local");
    await driver.unmount(m.Name, rec.Id).catch(() => {});
  }
}

function isEmptyDir(path: string): boolean {
  try {
    return readdirSync(path).length === 0;
  } catch {
    return false;
  }
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
  const hosts = net.useHostFiles ? readOr("/etc/hosts") : [...HOSTS_HEADER, ...net.hostsEntries].join("\n") + "\n";
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

/** The environment of the container's processes: Docker's defaults, then the container's own. */
export function containerEnv(rec: ContainerRecord, hostname: string, extra: string[] = []): string[] {
  const env = [DEFAULT_PATH_ENV, `HOSTNAME=${hostname}`, ...(rec.Config.Tty ? ["TERM=xterm"] : [])];
  for (const e of [...(rec.Config.Env ?? []), ...extra]) {
    const key = e.split("=", 1)[0];
    const at = env.findIndex((x) => x.split("=", 1)[0] === key);
    if (at >= 0) env[at] = e;
    else env.push(e);
  }
  return env;
}

function sandboxSpec(
  rec: ContainerRecord,
  rootfs: string,
  hostname: string,
  netnsPath: string | undefined,
  etcMounts: MountSpec[],
  volumeMounts: MountSpec[],
  cgroup: { joinFiles: string[]; containerMounts: MountSpec[] },
): SandboxSpec {
  const h = rec.HostConfig;
  const binds = rec.Mounts.filter((m) => m.Type === "bind").map(bindToMountSpec);
  const tmpfs = parseTmpfs({ ...(h.Tmpfs ?? {}), ...Object.fromEntries((h.Mounts ?? []).filter((m) => m.Type === "tmpfs").map((m) => [m.Target, m.ReadOnly ? "ro" : ""])) });
  const user = sortByDepth([...binds, ...volumeMounts, ...tmpfs]);
  // A user's mount on /etc/hosts (and the others) wins over berth's file, as in Docker.
  const userDests = new Set(user.map((m) => m.destination));
  const etc = etcMounts.filter((m) => !userDests.has(m.destination));
  return {
    id: rec.Id,
    rootfs,
    hostname,
    readonlyRootfs: !!h.ReadonlyRootfs,
    mounts: [...DEFAULT_MOUNTS, ...cgroup.containerMounts, ...DEFAULT_MOUNTS_AFTER_CGROUP, ...etc, ...user],
    maskedPaths: MASKED_PATHS,
    readonlyPaths: READONLY_PATHS,
    netnsPath,
    cgroupJoin: cgroup.joinFiles,
    process: {
      args: [rec.Path, ...rec.Args],
      env: containerEnv(rec, hostname),
      cwd: rec.Config.WorkingDir || "/",
      user: rec.Config.User ?? "",
      capabilities: containerCapabilities(h.CapAdd ?? [], h.CapDrop ?? []),
      noNewPrivileges: false,
      rlimits: (h.Ulimits ?? []).map((u) => ({ type: u.Name, soft: u.Soft, hard: u.Hard })),
      terminal: !!rec.Config.Tty,
      consoleSize: h.ConsoleSize ?? undefined,
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
