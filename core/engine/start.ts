// Start a created container: mount its root filesystem, give it a network
// namespace, a cgroup and its volumes, write its /etc files, and hand the
// sandbox to the isolation plugin, which runs it under a monitor. Whatever
// fails undoes what was done before it.
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname as hostHostname } from "node:os";
import type { AttachStream, MountSpec, SandboxSpec } from "../contracts/isolation.ts";
import type { Resources } from "../contracts/limits.ts";
import { conflict, failedPrecondition, invalidArgument, notFound, notModified, StartError } from "../errors.ts";
import { processStartTime } from "../proc.ts";
import { createNetns, removeNetns } from "../sys/netns.ts";
import { createNetnsIn } from "../userns/pin.ts";
import { beginUserns, prepareForUserns, remapOf, type ContainerUserns } from "./userns.ts";
import { libcSys } from "../sys/libc.ts";
import { trace } from "../trace.ts";
import { INIT_BINARY } from "../location.ts";
import { logLimits } from "./create.ts";
import {
  DEFAULT_MOUNTS, DEFAULT_MOUNTS_AFTER_CGROUP, DEFAULT_PATH_ENV, HOSTS_HEADER, MASKED_PATHS, READONLY_PATHS,
} from "./defaults.ts";
import type { Engine } from "./engine.ts";
import { handleExit } from "./exit.ts";
import { containerDevices } from "./devices.ts";
import { privilegedSandbox, processSecurity } from "./security.ts";
import { attachEndpoints, detachEndpoints, pluginOf } from "./networks.ts";
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
  const [limits, isolation] = await Promise.all([engine.plugin("limits"), engine.plugin("isolation")]);
  trace("start: plugins");
  const undo: (() => unknown)[] = [];
  const remap = remapOf(engine, rec);
  let userns: ContainerUserns | undefined;
  try {
    if (remap) userns = beginUserns(engine, id, remap);
    const rootfs = await storage.mount(id, userns?.idmap);
    undo.push(() => storage.unmount(id));

    const net = await startNetwork(engine, rec, undo, userns?.idmap.userns);
    const etcMounts = net.shareFrom ? sharedEtcFiles(engine, net.shareFrom) : writeEtcFiles(engine, rec, net);
    const hostname = net.hostname;
    const netnsPath = net.netnsPath;
    const volumeMounts = await mountVolumes(engine, rec, rootfs);
    undo.push(() => unmountVolumes(engine, rec));

    const devices = containerDevices(rec.HostConfig);
    const cgroup = limits.create(id, { ...resourcesOf(rec.HostConfig), devices: devices.rules });
    undo.push(() => limits.remove(id));
    trace("start: prepared");

    let spec: SandboxSpec = { ...sandboxSpec(rec, rootfs, hostname, netnsPath, etcMounts, volumeMounts, cgroup), devices: devices.nodes };
    if (rec.HostConfig.Privileged) spec = privilegedSandbox(spec);
    if (userns && remap) {
      spec.userns = userns.idmap.userns;
      prepareForUserns(engine, spec, remap);
    }
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
    limits.track?.(id, proc.pid);
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
  } finally {
    userns?.release();
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
    memoryReservation: h.MemoryReservation || undefined,
    cpus: h.NanoCpus ? h.NanoCpus / 1e9 : undefined,
    cpuShares: h.CpuShares || undefined,
    cpusetCpus: h.CpusetCpus || undefined,
    pidsLimit: h.PidsLimit && h.PidsLimit > 0 ? h.PidsLimit : undefined,
    blkioWeight: h.BlkioWeight || undefined,
  };
}

interface StartedNetwork {
  /** The namespace to join; undefined shares the host's. */
  netnsPath?: string;
  hostname: string;
  /** Use the host's /etc/hosts and /etc/resolv.conf (host networking). */
  useHostFiles: boolean;
  hostsEntries: string[];
  /** The nameserver berth's DNS answers on for this container. */
  nameserver?: string;
  /** container:<ref>: the container whose namespace and files it shares. */
  shareFrom?: ContainerRecord;
}

/**
 * The container's network: the host's, another container's (container:X),
 * or a namespace of its own connected to its networks. What it sets up is
 * pushed on `undo`.
 */
async function startNetwork(engine: Engine, rec: ContainerRecord, undo: (() => unknown)[], userns?: string): Promise<StartedNetwork> {
  const mode = rec.HostConfig.NetworkMode ?? "none";
  if (mode.startsWith("container:")) {
    const other = engine.container(mode.slice("container:".length));
    const proc = engine.rt(other.Id).proc;
    if (!proc) throw conflict(`cannot join network namespace of a non running container: ${other.Id}`);
    return { netnsPath: `/proc/${proc.pid}/ns/net`, hostname: other.Config.Hostname || other.Id.slice(0, 12), useHostFiles: false, hostsEntries: [], shareFrom: other };
  }
  if (!Object.keys(rec.NetworkSettings.Networks).length) {
    // A record from before networks existed, or one whose networks were all disconnected: its mode's network.
    const { initialEndpoints, resolveNetworkMode, findNetwork } = await import("./networks.ts");
    const r = resolveNetworkMode(engine, mode);
    rec.NetworkSettings.Networks = initialEndpoints(r.network ?? findNetwork(engine, r.mode), undefined);
  }
  const primary = Object.values(rec.NetworkSettings.Networks)[0];
  const network = primary && engine.db.listNetworks().find((n) => n.Id === primary.NetworkID);
  if (!network) throw notFound(`network ${mode} not found`, `connect the container to an existing network (berth network connect NETWORK ${rec.Name.slice(1)})`);
  const driver = await engine.plugin("network", pluginOf(network.Driver));
  if (driver.namespace === "host") {
    await attachEndpoints(engine, rec, null);
    undo.push(() => detachEndpoints(engine, rec, null));
    return { hostname: hostHostname(), useHostFiles: true, hostsEntries: [] };
  }
  const netnsPath = engine.netnsPath(rec.Id);
  // A remapped container's namespace is owned by its user namespace (so its root may mount sysfs).
  if (userns) createNetnsIn(libcSys, userns, netnsPath);
  else createNetns(libcSys, netnsPath);
  undo.push(() => removeNetns(libcSys, netnsPath));
  const hostsEntries = await attachEndpoints(engine, rec, netnsPath);
  undo.push(() => detachEndpoints(engine, rec, netnsPath, true)); // the namespace goes next
  return { netnsPath, hostname: rec.Config.Hostname || rec.Id.slice(0, 12), useHostFiles: false, hostsEntries, nameserver: engine.discovery.nameserverFor(primary.Gateway) };
}

/** /etc/hostname, /etc/hosts and /etc/resolv.conf of the container, bound in at start. */
function writeEtcFiles(engine: Engine, rec: ContainerRecord, net: StartedNetwork): MountSpec[] {
  const dir = engine.containerDir(rec.Id);
  const h = rec.HostConfig;
  const extra = (h.ExtraHosts ?? []).map((e) => {
    const i = e.lastIndexOf(":");
    if (i <= 0) throw invalidArgument(`invalid --add-host "${e}": use HOST:IP`);
    return `${e.slice(i + 1)}\t${e.slice(0, i)}`;
  });
  const hosts = net.useHostFiles ? readOr("/etc/hosts") : [...HOSTS_HEADER, ...net.hostsEntries, ...extra].join("\n") + "\n";
  const host = readOr("/etc/resolv.conf").split("\n");
  let resolv: string[];
  if (net.useHostFiles) resolv = host;
  else {
    // The host's loopback resolvers cannot be reached from another namespace: berth's DNS forwards to them.
    const nameservers = h.Dns?.length ? h.Dns : net.nameserver ? [net.nameserver] : host.flatMap((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.slice(1) ?? []).filter((s) => !/^(127\.|::1$)/.test(s));
    const search = h.DnsSearch?.length ? [`search ${h.DnsSearch.join(" ")}`] : host.filter((l) => /^\s*(search|domain)\s/.test(l));
    const options = h.DnsOptions?.length ? [`options ${h.DnsOptions.join(" ")}`] : host.filter((l) => /^\s*options\s/.test(l));
    resolv = [...nameservers.map((s) => `nameserver ${s}`), ...search, ...options, ""];
  }
  writeFileSync(`${dir}/hostname`, `${net.hostname}\n`);
  writeFileSync(`${dir}/hosts`, hosts);
  writeFileSync(`${dir}/resolv.conf`, resolv.join("\n"));
  return etcBinds(dir);
}

/** container:<ref> shares the other container's files. */
function sharedEtcFiles(engine: Engine, other: ContainerRecord): MountSpec[] {
  return etcBinds(engine.containerDir(other.Id));
}

function etcBinds(dir: string): MountSpec[] {
  return ["resolv.conf", "hostname", "hosts"].map((f) => ({ type: "bind", source: `${dir}/${f}`, destination: `/etc/${f}`, options: ["rbind", "rprivate"] }));
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

const INIT_MOUNT: MountSpec = { type: "bind", source: INIT_BINARY, destination: "/sbin/docker-init", options: ["rbind", "ro"] };

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
    mounts: [...DEFAULT_MOUNTS, ...cgroup.containerMounts, ...DEFAULT_MOUNTS_AFTER_CGROUP, ...etc, ...user, ...(h.Init ? [INIT_MOUNT] : [])],
    maskedPaths: h.MaskedPaths ?? MASKED_PATHS,
    readonlyPaths: h.ReadonlyPaths ?? READONLY_PATHS,
    netnsPath,
    cgroupJoin: cgroup.joinFiles,
    process: {
      args: h.Init ? [INIT_MOUNT.destination, "--", rec.Path, ...rec.Args] : [rec.Path, ...rec.Args],
      env: containerEnv(rec, hostname),
      cwd: rec.Config.WorkingDir || "/",
      user: rec.Config.User ?? "",
      ...processSecurity(h),
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
