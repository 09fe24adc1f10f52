// Create a container: merge the request with its image's config, check it,
// record it, prepare its writable layer and volumes. Nothing runs yet.
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { containerCapabilities } from "../caps.ts";
import { invalidArgument, notSupported } from "../errors.ts";
import { randomHex } from "../ids.ts";
import type { Engine } from "./engine.ts";
import { parseBinds, parseTmpfs } from "./mounts.ts";
import { randomName } from "./names.ts";
import { checkDeviceMappings } from "./devices.ts";
import { checkSecurity } from "./security.ts";
import { newState, type ContainerConfig, type ContainerRecord, type CreateRequest, type EndpointSettings, type HostConfig, type MountPoint, type NetworkRecord } from "./types.ts";
import { createAnonymousVolume, ensureVolume } from "./volumes.ts";
import { checkUsernsMode, chownCreated } from "./userns.ts";
import { findNetwork, initialEndpoints, PREDEFINED, resolveNetworkMode } from "./networks.ts";

const NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const RESTART_POLICIES = ["", "no", "always", "unless-stopped", "on-failure"];

/** Defaults of the json-file log: rotation on, as Docker's `local` driver does it. */
export const DEFAULT_LOG_OPTIONS = { "max-size": "20m", "max-file": "5" };

export async function createContainer(engine: Engine, req: CreateRequest, name?: string): Promise<{ Id: string; Warnings: string[] }> {
  if (!req.Image) throw invalidArgument("no image given", "usage: berth run [OPTIONS] IMAGE [COMMAND] [ARG...]");
  const images = await engine.images();
  const image = images.resolve(req.Image);
  const host: HostConfig = { ...(req.HostConfig ?? {}) };

  // An unknown network or container is refused now, as Docker does.
  const { mode: networkMode, network } = resolveContainerNetwork(engine, host.NetworkMode);
  checkRestartPolicy(host);
  checkUsernsMode(engine, host as HostConfig & Record<string, unknown>);
  checkSupported(host as HostConfig & Record<string, unknown>);
  checkSecurity(host);
  checkDeviceMappings(host);
  const logConfig = checkLogConfig(host);

  const img = image.config.config ?? {};
  const entrypoint = req.Entrypoint !== undefined && req.Entrypoint !== null ? req.Entrypoint : (img.Entrypoint ?? null);
  // An overridden entrypoint drops the image's CMD, as in Docker.
  const cmd = req.Cmd && req.Cmd.length > 0 ? req.Cmd : req.Entrypoint != null ? [] : (img.Cmd ?? []);
  const args = [...(entrypoint ?? []), ...cmd];
  if (args.length === 0) throw invalidArgument("no command specified", "give a command after the image name, or import the image with --change 'CMD [...]'");

  const config: ContainerConfig = {
    Hostname: req.Hostname || undefined,
    Domainname: req.Domainname,
    User: req.User || img.User || "",
    AttachStdin: !!req.AttachStdin,
    AttachStdout: req.AttachStdout ?? true,
    AttachStderr: req.AttachStderr ?? true,
    Tty: !!req.Tty,
    OpenStdin: !!req.OpenStdin,
    StdinOnce: !!req.StdinOnce,
    Env: mergeEnv(img.Env ?? [], req.Env ?? []),
    Cmd: cmd,
    Entrypoint: entrypoint,
    Image: req.Image,
    WorkingDir: req.WorkingDir || img.WorkingDir || "",
    Labels: { ...(img.Labels ?? {}), ...(req.Labels ?? {}) },
    StopSignal: req.StopSignal ?? img.StopSignal,
    StopTimeout: req.StopTimeout,
    ExposedPorts: { ...(img.ExposedPorts ?? {}), ...(req.ExposedPorts ?? {}) },
    Volumes: { ...(img.Volumes ?? {}), ...(req.Volumes ?? {}) },
    Healthcheck: req.Healthcheck ?? img.Healthcheck,
  };
  if (config.WorkingDir && !config.WorkingDir.startsWith("/")) {
    throw invalidArgument(`the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`);
  }
  if (config.Healthcheck?.Test && !["NONE", "CMD", "CMD-SHELL"].includes(config.Healthcheck.Test[0] ?? "")) {
    throw invalidArgument(`invalid healthcheck test ${JSON.stringify(config.Healthcheck.Test)}: it must start with NONE, CMD or CMD-SHELL`);
  }

  let finalName: string;
  if (name) {
    finalName = `/${name.replace(/^\//, "")}`;
    if (!NAME.test(finalName)) throw invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  } else {
    finalName = `/${randomName()}`;
    for (let i = 1; engine.nameTaken(finalName); i++) finalName = `/${randomName(i)}`;
  }

  const id = randomHex(32);
  const storageName = engine.pluginName("storage")!;
  const record: ContainerRecord = {
    Id: id,
    Name: finalName,
    Created: new Date().toISOString(),
    Image: image.id,
    Path: args[0]!,
    Args: args.slice(1),
    Config: config,
    HostConfig: { ...host, NetworkMode: networkMode, LogConfig: logConfig },
    NetworkSettings: { Networks: initialEndpoints(network, withLinks(host, network, req.NetworkingConfig?.EndpointsConfig)), Ports: {} },
    State: newState(),
    Mounts: [],
    Driver: storageName,
    LogPath: `${engine.containerDir(id)}/${id}-json.log`,
    RestartCount: 0,
    ManuallyStopped: false,
    Creating: true,
  };
  // The name check and the insert happen in one turn of the event loop: two
  // concurrent creates of the same name cannot both pass.
  record.Mounts = planMounts(host, config);
  engine.insert(record);

  try {
    mkdirSync(engine.containerDir(id), { mode: 0o710 });
    await materializeVolumes(engine, record);
    const top = await images.ensureUnpacked(image);
    await (await engine.storage(storageName)).createWritable(id, top);
    delete record.Creating;
    engine.save(record);
  } catch (err) {
    const storage = await engine.storage(storageName);
    await storage.removeWritable(id).catch(() => {});
    rmSync(engine.containerDir(id), { recursive: true, force: true });
    engine.forget(id);
    throw err;
  }
  engine.emit("container", "create", id, engine.containerAttributes(record));
  const limits = await engine.plugin("limits");
  const { resourcesOf } = await import("./start.ts");
  return { Id: id, Warnings: limits.warnings?.(resourcesOf(record.HostConfig)) ?? [] };
}

/**
 * Every mount of the container: -v binds and volumes, --mount, and an
 * anonymous volume for each image VOLUME nothing else covers. Volumes are
 * named here and made by materializeVolumes.
 */
function planMounts(host: HostConfig, config: ContainerConfig): MountPoint[] {
  const mounts: MountPoint[] = [...parseBinds(host.Binds ?? [])];
  for (const m of host.Mounts ?? []) {
    if (m.Type === "tmpfs") continue; // like --tmpfs: HostConfig.Tmpfs
    if (!m.Target?.startsWith("/")) throw invalidArgument(`invalid mount config: mount path must be absolute: '${m.Target}'`);
    if (m.Type === "bind") {
      if (!m.Source?.startsWith("/")) throw invalidArgument(`invalid mount config for type "bind": invalid mount path: '${m.Source}' mount path must be absolute`);
      if (!existsSync(m.Source)) throw invalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
      mounts.push({ Type: "bind", Source: m.Source, Destination: m.Target, Mode: "", RW: !m.ReadOnly, Propagation: "rprivate" });
    } else {
      mounts.push({ Type: "volume", Name: m.Source || "", Source: "", Destination: m.Target, Driver: "local", Mode: "z", RW: !m.ReadOnly, Propagation: "", NoCopy: !!m.VolumeOptions?.NoCopy, Anonymous: !m.Source });
    }
  }
  const tmpfs = parseTmpfs(host.Tmpfs ?? {});
  for (const m of host.Mounts ?? []) if (m.Type === "tmpfs") tmpfs.push({ type: "tmpfs", source: "tmpfs", destination: m.Target, options: [] });
  const taken = new Set<string>();
  for (const d of [...mounts.map((m) => m.Destination), ...tmpfs.map((m) => m.destination)]) {
    if (taken.has(d)) throw invalidArgument(`Duplicate mount point: ${d}`);
    taken.add(d);
  }
  for (const path of Object.keys(config.Volumes ?? {})) {
    if (!taken.has(path)) mounts.push({ Type: "volume", Name: "", Source: "", Destination: path, Driver: "local", Mode: "", RW: true, Propagation: "", Anonymous: true });
  }
  return mounts;
}

/** Make missing -v host directories, the named volumes that do not exist yet, and the anonymous ones. */
async function materializeVolumes(engine: Engine, rec: ContainerRecord) {
  for (const m of rec.Mounts) {
    // -v makes a missing host directory, as Docker does (--mount refused it above).
    if (m.Type === "bind" && !existsSync(m.Source)) chownCreated(engine, rec, mkdirSync(m.Source, { recursive: true }), m.Source);
    if (m.Type !== "volume") continue;
    const v = m.Name ? await ensureVolume(engine, m.Name) : await createAnonymousVolume(engine);
    m.Name = v.Name;
    m.Source = v.Mountpoint;
    m.Driver = v.Driver;
  }
}

/** Refuse what berth does not do yet, rather than run a container that lacks it. */
function checkSupported(host: HostConfig & Record<string, unknown>) {
  try {
    containerCapabilities(host.CapAdd ?? [], host.CapDrop ?? []);
  } catch (err) {
    throw invalidArgument((err as Error).message, "use capability names such as NET_ADMIN or ALL");
  }
  const unsupported: [string, string][] = [
    ["PidMode", "--pid"],
    ["IpcMode", "--ipc"],
  ];
  for (const [field, flag] of unsupported) {
    const v = host[field];
    const set = Array.isArray(v) ? v.length > 0 : v && typeof v === "object" ? Object.keys(v).length > 0 : !!v;
    if (set) throw notSupported(`${flag} (HostConfig.${field}) is not supported by berth yet`, "run the container without it");
  }
}

/**
 * Legacy links (HostConfig.Links, which docker-compose run and docker-py
 * send) on a user-defined network: endpoint links there, as the docker CLI
 * makes them of --link, which the embedded DNS answers for this container.
 * The default bridge's links (/etc/hosts and environment) berth has not.
 */
function withLinks(host: HostConfig, network: NetworkRecord | undefined, settings: Record<string, EndpointSettings> | null | undefined) {
  const links = host.Links ?? [];
  if (!links.length) return settings;
  if (!network || PREDEFINED.includes(network.Name)) throw notSupported("--link (HostConfig.Links) on the default bridge is not supported by berth yet", "put the containers on a user-defined network: its DNS resolves their names");
  const key = Object.keys(settings ?? {}).find((k) => k === network.Name || k === network.Id) ?? network.Name;
  const own = settings?.[key] ?? {};
  return { ...settings, [key]: { ...own, Links: [...new Set([...(own.Links ?? []), ...links])] } };
}

/** NetworkMode as recorded ("bridge", a network's name, "host", "none", "container:<ref>") and its network. */
function resolveContainerNetwork(engine: Engine, mode: string | undefined) {
  if (mode?.startsWith("container:")) {
    engine.container(mode.slice("container:".length)); // it must exist
    return { mode };
  }
  if ((!mode || mode === "default") && !engine.db.listNetworks().some((n) => n.Name === "bridge")) return resolveNetworkMode(engine, "none");
  const r = resolveNetworkMode(engine, mode);
  return { mode: r.mode, network: r.network ?? findNetwork(engine, r.mode) };
}

function checkRestartPolicy(host: HostConfig) {
  const p = host.RestartPolicy;
  if (!p) return;
  if (!RESTART_POLICIES.includes(p.Name)) throw invalidArgument(`invalid restart policy '${p.Name}'`, "use no, always, unless-stopped or on-failure[:max-retries]");
  if (p.MaximumRetryCount && p.Name !== "on-failure") throw invalidArgument(`maximum retry count cannot be used with restart policy '${p.Name}'`);
  if ((p.MaximumRetryCount ?? 0) < 0) throw invalidArgument("maximum retry count cannot be negative");
  if (host.AutoRemove && p.Name && p.Name !== "no") throw invalidArgument("Conflicting options: --restart and --rm");
}

function checkLogConfig(host: HostConfig) {
  const lc = host.LogConfig;
  const type = lc?.Type || "json-file";
  if (type !== "json-file") throw notSupported(`log driver "${type}" is not supported: berth writes json-file logs`);
  const config = { ...DEFAULT_LOG_OPTIONS, ...(lc?.Config ?? {}) };
  for (const k of Object.keys(config)) {
    if (!["max-size", "max-file", "compress", "labels", "env", "tag"].includes(k)) throw invalidArgument(`unknown log opt '${k}' for json-file log driver`);
  }
  logLimits(config); // validates
  return { Type: type, Config: config };
}

/** max-size and max-file of a json-file log config, in bytes and files. */
export function logLimits(config: Record<string, string>): { maxSize: number; maxFiles: number } {
  const size = config["max-size"] ?? "-1";
  const m = /^(-1|\d+(?:\.\d+)?)([kmg]?)$/i.exec(size);
  if (!m) throw invalidArgument(`invalid max-size '${size}' for json-file log driver`, "use a size like 10m");
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  const maxSize = m[1] === "-1" ? 0 : Math.floor(Number(m[1]) * mult);
  const maxFiles = Number(config["max-file"] ?? "1");
  if (!Number.isInteger(maxFiles) || maxFiles < 1) throw invalidArgument(`invalid max-file '${config["max-file"]}': must be a positive integer`);
  return { maxSize, maxFiles };
}

/** Image env first, the request's entries replacing those with the same key. */
export function mergeEnv(base: string[], extra: string[]): string[] {
  const out = new Map<string, string>();
  for (const e of [...base, ...extra]) {
    const eq = e.indexOf("=");
    out.set(eq < 0 ? e : e.slice(0, eq), e);
  }
  return [...out.values()];
}
