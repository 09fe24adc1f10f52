// A service of the model as the Docker Engine API's create request: what
// every replica of it is made from. Pure: the same service gives the same
// request, so its hash says whether a container is up to date.
import type { CreateRequest, EndpointSettings, HostConfig } from "../engine/types.ts";
import * as L from "./labels.ts";
import type { FileReference, Project, Service } from "./model.ts";

/** What a replica is made of: the create request, the networks to join before it starts, the files to copy in. */
export interface ContainerSpec {
  request: CreateRequest;
  /** Networks (real names) after the first one, with their endpoint settings. */
  moreNetworks: Record<string, EndpointSettings>;
  /** Secrets and configs, copied into the container before it starts. */
  files: SpecFile[];
  /** Docker Compose's config hash of the service: a container with another hash is recreated. */
  hash: string;
}

export interface SpecFile {
  target: string;
  content: Uint8Array;
  uid: number;
  gid: number;
  mode: number;
}

const NANOS_PER_SECOND = 1_000_000_000;

/**
 * The spec of `service`'s replicas. `imageId` is the image the service runs
 * (so a rebuilt image recreates); `readFile`/`env` give the content of
 * secrets and configs (their content is part of the hash too).
 */
export function serviceSpec(project: Project, service: Service, imageId: string, io: { readFile(path: string): Uint8Array; env: Record<string, string | undefined> }): ContainerSpec {
  const s = service;
  const networks = attachedNetworks(project, s);
  const [first, ...rest] = networks;
  const files = [...s.secrets.map((r) => fileOf(project, "secrets", r, io)), ...s.configs.map((r) => fileOf(project, "configs", r, io))];
  const host: HostConfig = {
    NetworkMode: s.network_mode ? networkMode(project, s.network_mode) : first ? first[0] : "none",
    PortBindings: portBindings(s),
    Mounts: s.volumes
      .filter((v) => v.type !== "tmpfs")
      .map((v) => ({
        Type: v.type as "volume" | "bind",
        Source: v.type === "volume" ? (v.source ? project.volumes[v.source]!.name : undefined) : v.source,
        Target: v.target,
        ReadOnly: v.read_only || undefined,
        VolumeOptions: v.volume?.nocopy ? { NoCopy: true } : undefined,
      })),
    Tmpfs: {
      ...s.tmpfs,
      ...Object.fromEntries(s.volumes.filter((v) => v.type === "tmpfs").map((v) => [v.target, tmpfsOptions(v.tmpfs)])),
    },
    ReadonlyRootfs: s.read_only || undefined,
    RestartPolicy: restartPolicy(s),
    CapAdd: s.cap_add.length ? s.cap_add : undefined,
    CapDrop: s.cap_drop.length ? s.cap_drop : undefined,
    Privileged: s.privileged || undefined,
    Ulimits: Object.entries(s.ulimits).map(([Name, l]) => ({ Name, Soft: l.soft, Hard: l.hard })),
    ExtraHosts: s.extra_hosts.length ? s.extra_hosts : undefined,
    Dns: s.dns.length ? s.dns : undefined,
    DnsSearch: s.dns_search.length ? s.dns_search : undefined,
    DnsOptions: s.dns_opt.length ? s.dns_opt : undefined,
    LogConfig: s.logging ? { Type: s.logging.driver ?? "json-file", Config: s.logging.options ?? {} } : undefined,
    Init: s.init || undefined,
    ...resources(s),
  };
  const exposed = [...s.expose.map((e) => (e.includes("/") ? e : `${e}/tcp`)), ...s.ports.map((p) => `${p.target}/${p.protocol}`)];
  const request: CreateRequest = {
    Image: s.image,
    Cmd: s.command ?? undefined,
    Entrypoint: s.entrypoint ?? undefined,
    Env: Object.entries(s.environment).flatMap(([k, v]) => (v === null ? (io.env[k] === undefined ? [] : [`${k}=${io.env[k]}`]) : [`${k}=${v}`])),
    Labels: { ...s.labels },
    Hostname: s.hostname,
    Domainname: s.domainname,
    User: s.user,
    WorkingDir: s.working_dir,
    Tty: s.tty || undefined,
    OpenStdin: s.stdin_open || undefined,
    StopSignal: s.stop_signal,
    StopTimeout: s.stop_grace_period === undefined ? undefined : Math.ceil(s.stop_grace_period / NANOS_PER_SECOND),
    ExposedPorts: exposed.length ? Object.fromEntries(exposed.map((e) => [e, {}])) : undefined,
    Healthcheck: s.healthcheck && {
      Test: s.healthcheck.disable ? ["NONE"] : s.healthcheck.test,
      Interval: s.healthcheck.interval,
      Timeout: s.healthcheck.timeout,
      StartPeriod: s.healthcheck.start_period,
      StartInterval: s.healthcheck.start_interval,
      Retries: s.healthcheck.retries,
    },
    HostConfig: host,
    NetworkingConfig: first ? { EndpointsConfig: { [first[0]]: first[1] } } : undefined,
  };
  const moreNetworks = Object.fromEntries(rest);
  const hash = sha256(stableJSON({ request, moreNetworks, imageId, files: files.map((f) => ({ ...f, content: sha256(f.content) })) }));
  return { request, moreNetworks, files, hash };
}

/** The labels of replica `number` (the service's own labels are in the request already). */
export function replicaLabels(project: Project, service: Service, number: number, hash: string, oneoff = false): Record<string, string> {
  const deps = Object.entries(service.depends_on).map(([name, d]) => `${name}:${d.condition}:${d.restart}`);
  return {
    [L.PROJECT]: project.name,
    [L.SERVICE]: service.name,
    [L.NUMBER]: String(number),
    [L.CONFIG_HASH]: hash,
    [L.ONEOFF]: oneoff ? "True" : "False",
    [L.CONFIG_FILES]: project.files.join(","),
    [L.WORKING_DIR]: project.workingDir,
    [L.DEPENDS_ON]: deps.join(","),
    [L.IMAGE]: service.image,
    [L.VERSION]: L.COMPOSE_VERSION,
  };
}

/** The container name of replica `number`: container_name, or "<project>-<service>-<n>" as Docker Compose v2 names it. */
export function containerName(project: Project, service: Service, number: number): string {
  return service.container_name ?? `${project.name}-${service.name}-${number}`;
}

/** The service's networks in the order they are joined: by priority (highest first), then name. */
function attachedNetworks(project: Project, s: Service): [string, EndpointSettings][] {
  if (s.network_mode) return [];
  return Object.entries(s.networks)
    .sort(([a, x], [b, y]) => (y.priority ?? 0) - (x.priority ?? 0) || (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, n]) => [
      project.networks[key]!.name,
      { Aliases: [s.name, ...(n.aliases ?? [])], IPAMConfig: n.ipv4_address ? { IPv4Address: n.ipv4_address } : undefined },
    ]);
}

/** network_mode "service:x" joins replica 1 of service x; other modes pass through. */
function networkMode(project: Project, mode: string): string {
  const m = /^service:(.+)$/.exec(mode);
  if (!m) return mode;
  const other = project.services[m[1]!];
  return `container:${other ? containerName(project, other, 1) : m[1]}`;
}

function portBindings(s: Service): HostConfig["PortBindings"] {
  const out: Record<string, { HostIp?: string; HostPort?: string }[]> = {};
  for (const p of s.ports) (out[`${p.target}/${p.protocol}`] ??= []).push({ HostIp: p.host_ip ?? "", HostPort: p.published ?? "" });
  return Object.keys(out).length ? out : undefined;
}

function tmpfsOptions(t: { size?: number; mode?: number } | undefined): string {
  const opts = [];
  if (t?.size !== undefined) opts.push(`size=${t.size}`);
  if (t?.mode !== undefined) opts.push(`mode=${t.mode.toString(8)}`);
  return opts.join(",");
}

function restartPolicy(s: Service): HostConfig["RestartPolicy"] {
  const p = s.deploy?.restart_policy;
  if (p && !s.restart) {
    const name = p.condition === "none" ? "no" : p.condition === "on-failure" ? "on-failure" : "always";
    return { Name: name, MaximumRetryCount: p.max_attempts ?? 0 };
  }
  const [name, count] = (s.restart ?? "no").split(":");
  return { Name: name as NonNullable<HostConfig["RestartPolicy"]>["Name"], MaximumRetryCount: count ? Number(count) : 0 };
}

function resources(s: Service): Partial<HostConfig> {
  const d = s.deploy;
  const limits = d?.resources?.limits;
  const reservations = d?.resources?.reservations;
  const out: Partial<HostConfig> = {};
  if (limits?.memory !== undefined) out.Memory = limits.memory;
  if (d?.memory_swap !== undefined) out.MemorySwap = d.memory_swap;
  if (limits?.cpus !== undefined) out.NanoCpus = Math.round(limits.cpus * NANOS_PER_SECOND);
  if (limits?.pids !== undefined) out.PidsLimit = limits.pids;
  if (reservations?.memory !== undefined) out.MemoryReservation = reservations.memory;
  // A CPU reservation is a relative weight on one host: 1024 shares per CPU reserved.
  if (reservations?.cpus !== undefined) out.CpuShares = Math.max(2, Math.round(reservations.cpus * 1024));
  if (d?.cpu_shares !== undefined) out.CpuShares = d.cpu_shares;
  if (d?.cpuset !== undefined) out.CpusetCpus = d.cpuset;
  return out;
}

/** A secret or config as the file to copy into the container. */
function fileOf(project: Project, kind: "secrets" | "configs", ref: FileReference, io: { readFile(path: string): Uint8Array; env: Record<string, string | undefined> }): SpecFile {
  const obj = project[kind][ref.source]!;
  const content =
    obj.content !== undefined
      ? new TextEncoder().encode(obj.content)
      : obj.environment !== undefined
        ? new TextEncoder().encode(io.env[obj.environment] ?? "")
        : io.readFile(obj.file!);
  return { target: ref.target, content, uid: Number(ref.uid ?? 0), gid: Number(ref.gid ?? 0), mode: ref.mode ?? 0o444 };
}

/** Hex SHA-256 (Bun's hasher: node:crypto costs ~5 ms to load). */
const sha256 = (data: string | Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest("hex");

/** JSON with object keys sorted and undefined left out: the same value always hashes the same. */
export function stableJSON(v: unknown): string {
  if (v === undefined) return "null";
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stableJSON).join(",")}]`;
  const entries = Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJSON(x)}`).join(",")}}`;
}
