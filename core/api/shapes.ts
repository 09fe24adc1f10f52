// The JSON shapes of the Docker Engine API that clients read: container
// inspect and list, image inspect, list and history, volumes, exec.
import type { Owner } from "../owner.ts";
import type { Engine } from "../engine/engine.ts";
import { hostname } from "node:os";
import { ZERO_TIME, type ContainerRecord, type EndpointRecord, type ImageRecord, type NetworkRecord, type VolumeRecord } from "../engine/types.ts";
import { humanDuration } from "../cli/format.ts";
import { MASKED_PATHS, READONLY_PATHS } from "../engine/defaults.ts";

const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/** GET /containers/{id}/json */
export function containerInspect(engine: Engine, c: ContainerRecord) {
  const dir = engine.containerDir(c.Id);
  const execIDs = [...engine.execs.values()].filter((s) => s.record.ContainerID === c.Id).map((s) => s.record.ID);
  const h = c.HostConfig;
  return {
    Id: c.Id,
    Created: c.Created,
    Path: c.Path,
    Args: c.Args,
    State: c.State,
    Image: c.Image,
    ResolvConfPath: `${dir}/resolv.conf`,
    HostnamePath: `${dir}/hostname`,
    HostsPath: `${dir}/hosts`,
    LogPath: c.LogPath,
    Name: c.Name,
    RestartCount: c.RestartCount,
    Driver: c.Driver,
    Platform: "linux",
    MountLabel: "",
    ProcessLabel: "",
    AppArmorProfile: "",
    ExecIDs: execIDs.length ? execIDs : null,
    HostConfig: {
      Binds: h.Binds ?? null,
      ContainerIDFile: "",
      LogConfig: h.LogConfig ?? { Type: "json-file", Config: {} },
      NetworkMode: h.NetworkMode ?? "none",
      PortBindings: h.PortBindings ?? {},
      PublishAllPorts: !!h.PublishAllPorts,
      Links: h.Links?.length ? h.Links : null,
      ExtraHosts: h.ExtraHosts ?? null,
      Dns: h.Dns ?? [],
      DnsOptions: h.DnsOptions ?? [],
      DnsSearch: h.DnsSearch ?? [],
      RestartPolicy: { Name: h.RestartPolicy?.Name || "no", MaximumRetryCount: h.RestartPolicy?.MaximumRetryCount ?? 0 },
      AutoRemove: !!h.AutoRemove,
      VolumeDriver: "",
      VolumesFrom: null,
      CapAdd: h.CapAdd ?? null,
      CapDrop: h.CapDrop ?? null,
      Privileged: !!h.Privileged,
      Devices: h.Devices ?? [],
      DeviceCgroupRules: h.DeviceCgroupRules ?? null,
      ReadonlyRootfs: !!h.ReadonlyRootfs,
      SecurityOpt: h.SecurityOpt ?? null,
      MaskedPaths: h.MaskedPaths ?? (h.Privileged ? null : MASKED_PATHS),
      ReadonlyPaths: h.ReadonlyPaths ?? (h.Privileged ? null : READONLY_PATHS),
      Tmpfs: h.Tmpfs ?? null,
      Memory: h.Memory ?? 0,
      MemorySwap: h.MemorySwap ?? 0,
      MemoryReservation: h.MemoryReservation ?? 0,
      Init: h.Init ?? null,
      NanoCpus: h.NanoCpus ?? 0,
      CpuShares: h.CpuShares ?? 0,
      CpusetCpus: h.CpusetCpus ?? "",
      PidsLimit: h.PidsLimit ?? null,
      BlkioWeight: h.BlkioWeight ?? 0,
      Ulimits: h.Ulimits ?? null,
      Mounts: h.Mounts ?? undefined,
    },
    GraphDriver: { Name: c.Driver, Data: null },
    Mounts: c.Mounts.map(mountJSON),
    Config: { ...c.Config, Hostname: configHostname(c), OnBuild: null },
    NetworkSettings: networkSettings(c),
    // berth's own: who created it (null: berthd itself, or before owners were kept).
    Owner: c.Owner ?? null,
  };
}

/** Docker fills Config.Hostname in at the first start: the short ID, or the host's name with --network host. */
function configHostname(c: ContainerRecord): string {
  if (c.Config.Hostname) return c.Config.Hostname;
  const mode = c.HostConfig.NetworkMode ?? "";
  if (c.State.StartedAt === ZERO_TIME || mode.startsWith("container:")) return "";
  return mode === "host" ? hostname() : c.Id.slice(0, 12);
}

function mountJSON(m: ContainerRecord["Mounts"][number]) {
  return m.Type === "volume"
    ? { Type: "volume", Name: m.Name, Source: m.Source, Destination: m.Destination, Driver: m.Driver ?? "local", Mode: m.Mode, RW: m.RW, Propagation: m.Propagation }
    : { Type: m.Type, Source: m.Source, Destination: m.Destination, Mode: m.Mode, RW: m.RW, Propagation: m.Propagation };
}

/** NetworkSettings as Docker shows it: the endpoints by network name, the first one also at the top level. */
export function networkSettings(c: ContainerRecord) {
  const mode = c.HostConfig.NetworkMode ?? "none";
  const networks: Record<string, unknown> = {};
  for (const [name, e] of Object.entries(c.NetworkSettings.Networks)) networks[name] = endpointJSON(e);
  const first = Object.values(c.NetworkSettings.Networks)[0];
  return {
    Bridge: "",
    SandboxID: c.State.Running ? c.Id : "",
    HairpinMode: false,
    LinkLocalIPv6Address: "",
    LinkLocalIPv6PrefixLen: 0,
    Ports: c.State.Running ? c.NetworkSettings.Ports : {},
    SandboxKey: c.State.Running && mode !== "host" ? `/proc/${c.State.Pid}/ns/net` : "",
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: first?.EndpointID ?? "",
    Gateway: first?.Gateway ?? "",
    GlobalIPv6Address: "",
    GlobalIPv6PrefixLen: 0,
    IPAddress: first?.IPAddress ?? "",
    IPPrefixLen: first?.IPPrefixLen ?? 0,
    IPv6Gateway: "",
    MacAddress: first?.MacAddress ?? "",
    Networks: networks,
  };
}

export function endpointJSON(e: EndpointRecord) {
  return {
    IPAMConfig: e.IPAMConfig,
    Links: e.Links?.length ? e.Links : null,
    Aliases: e.Aliases,
    MacAddress: e.MacAddress,
    NetworkID: e.NetworkID,
    EndpointID: e.EndpointID,
    Gateway: e.Gateway,
    IPAddress: e.IPAddress,
    IPPrefixLen: e.IPPrefixLen,
    IPv6Gateway: "",
    GlobalIPv6Address: "",
    GlobalIPv6PrefixLen: 0,
    DriverOpts: null,
    DNSNames: null,
  };
}

/** The Ports of a list entry: [{IP, PrivatePort, PublicPort, Type}], or just {PrivatePort, Type} when only exposed. */
export function portList(c: ContainerRecord) {
  const out: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] = [];
  const ports = c.State.Running ? c.NetworkSettings.Ports : Object.fromEntries(Object.keys(c.Config.ExposedPorts ?? {}).map((k) => [k, null]));
  for (const [key, bindings] of Object.entries(ports)) {
    const [port, type = "tcp"] = key.split("/");
    if (!bindings?.length) out.push({ PrivatePort: Number(port), Type: type });
    for (const b of bindings ?? []) out.push({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type });
  }
  return out;
}

/** GET /networks/{id}: the network, with its running containers when asked. */
export function networkJSON(n: NetworkRecord, containers: ContainerRecord[] = []) {
  const members: Record<string, unknown> = {};
  for (const c of containers) {
    const e = Object.values(c.NetworkSettings.Networks).find((x) => x.NetworkID === n.Id && x.EndpointID);
    if (e) members[c.Id] = { Name: c.Name.slice(1), EndpointID: e.EndpointID, MacAddress: e.MacAddress, IPv4Address: e.IPAddress ? `${e.IPAddress}/${e.IPPrefixLen}` : "", IPv6Address: "" };
  }
  return { ...n, ConfigFrom: { Network: "" }, ConfigOnly: false, Containers: members, Owner: n.Owner ?? null };
}

/** The STATUS column: "Up 3 seconds (healthy)", "Exited (0) 2 minutes ago", "Created", ... */
export function statusText(c: ContainerRecord): string {
  const s = c.State;
  const since = (iso: string) => humanDuration(Date.now() - Date.parse(iso));
  if (s.Restarting) return `Restarting (${s.ExitCode}) ${since(s.FinishedAt)} ago`;
  if (s.Running) {
    const health = s.Health ? (s.Health.Status === "starting" ? " (health: starting)" : ` (${s.Health.Status})`) : "";
    return `Up ${since(s.StartedAt)}${s.Paused ? " (Paused)" : health}`;
  }
  if (s.Status === "dead") return "Dead";
  if (s.Status === "created" || s.FinishedAt.startsWith("0001")) return "Created";
  return `Exited (${s.ExitCode}) ${since(s.FinishedAt)} ago`;
}

/** GET /containers/json entries. */
export function containerSummary(c: ContainerRecord) {
  return { ...containerSummaryBase(c), Status: statusText(c) };
}

/** A list entry without its Status, which changes with the clock alone (cacheable until the record changes). */
export function containerSummaryBase(c: ContainerRecord) {
  return {
    Id: c.Id,
    Names: [c.Name],
    Image: c.Config.Image ?? c.Image,
    ImageID: c.Image,
    Command: [c.Path, ...c.Args].join(" "),
    Created: seconds(c.Created),
    Ports: portList(c),
    Labels: c.Config.Labels ?? {},
    State: c.State.Status,
    HostConfig: { NetworkMode: c.HostConfig.NetworkMode ?? "none" },
    NetworkSettings: { Networks: networkSettings(c).Networks },
    Mounts: c.Mounts.map(mountJSON),
  };
}

/** GET /images/json entries. */
export function imageSummary(img: ImageRecord, tags: string[], containers: number, digests: string[] = []) {
  return {
    Id: img.id,
    ParentId: img.parent ?? "",
    RepoTags: tags,
    RepoDigests: digests,
    Created: seconds(img.created),
    Size: img.size,
    SharedSize: -1,
    VirtualSize: img.size,
    Labels: img.config.config?.Labels ?? null,
    Containers: containers,
  };
}

/** GET /images/{name}/json */
export function imageInspect(img: ImageRecord, tags: string[], driver: string, digests: string[] = [], owner?: Owner) {
  const history = img.config.history ?? [];
  return {
    Id: img.id,
    RepoTags: tags,
    RepoDigests: digests,
    Parent: img.parent ?? "",
    Comment: history[history.length - 1]?.comment ?? "",
    Created: img.created,
    Container: "",
    ContainerConfig: {},
    DockerVersion: "",
    Author: img.config.author ?? "",
    Config: img.config.config ?? {},
    Architecture: img.config.architecture,
    Os: img.config.os,
    Size: img.size,
    VirtualSize: img.size,
    GraphDriver: { Name: driver, Data: null },
    RootFS: { Type: "layers", Layers: img.config.rootfs.diff_ids },
    Metadata: { LastTagTime: "0001-01-01T00:00:00Z" },
    // berth's own: who brought it in first (null: berthd itself, or before owners were kept).
    Owner: owner ?? null,
  };
}

/** GET /images/{name}/history: newest first; layer sizes from the layers table. */
export function imageHistory(img: ImageRecord, tags: string[], layerSizes: number[], ancestors: { image: ImageRecord; tags: string[] }[] = []) {
  const history = img.config.history ?? [];
  let layer = 0;
  const rows = history.map((h) => {
    const size = h.empty_layer ? 0 : (layerSizes[layer++] ?? 0);
    return { Id: "<missing>", Created: h.created ? seconds(h.created) : 0, CreatedBy: h.created_by ?? "", Tags: null as string[] | null, Size: size, Comment: h.comment ?? "" };
  });
  // A built image's steps are its parents: each one's last history entry is its step.
  for (const a of [{ image: img, tags }, ...ancestors]) {
    const row = rows[(a.image.config.history ?? []).length - 1];
    if (!row) continue;
    row.Id = a.image.id;
    row.Tags = a.tags.length ? a.tags : null;
  }
  return rows.reverse();
}

/** Docker's volume object (without berth's own bookkeeping fields). */
export function volumeJSON(v: VolumeRecord) {
  return { CreatedAt: v.CreatedAt, Driver: v.Driver, Labels: v.Labels, Mountpoint: v.Mountpoint, Name: v.Name, Options: v.Options, Scope: v.Scope, Owner: v.Owner ?? null };
}
