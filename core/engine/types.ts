import type { Owner } from "../owner.ts";
// Container and image records in the shapes of the Docker Engine API, so
// the API server and `inspect` hand them out as they are.

/** Docker's container Config (the image-independent part of a create request). */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[];
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  Image?: string;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object> | null;
  Healthcheck?: HealthConfig;
}

/** Docker's HealthConfig; durations in nanoseconds. Test: ["NONE"] | ["CMD", ...] | ["CMD-SHELL", "cmd"]. */
export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface Health {
  Status: "starting" | "healthy" | "unhealthy";
  FailingStreak: number;
  Log: HealthLogEntry[];
}

export interface LogConfig {
  Type: string;
  Config: Record<string, string>;
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

export interface RestartPolicy {
  Name: "" | "no" | "always" | "unless-stopped" | "on-failure";
  MaximumRetryCount?: number;
}

/** Docker's HostConfig, the fields berth implements. */
export interface HostConfig {
  Binds?: string[] | null;
  Tmpfs?: Record<string, string>;
  ReadonlyRootfs?: boolean;
  NetworkMode?: string;
  /** "" or "private": the daemon's --userns-remap, if on; "host": none. */
  UsernsMode?: string;
  AutoRemove?: boolean;
  Memory?: number;
  MemorySwap?: number;
  /** Soft memory limit (--memory-reservation, deploy.resources.reservations.memory). */
  MemoryReservation?: number;
  NanoCpus?: number;
  CpuShares?: number;
  CpusetCpus?: string;
  PidsLimit?: number | null;
  BlkioWeight?: number;
  Ulimits?: Ulimit[] | null;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  Privileged?: boolean;
  /** --device: host devices made in the container's /dev and allowed in its device cgroup. */
  Devices?: { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }[] | null;
  /** --device-cgroup-rule: more allowed devices ("c 42:* rmw"), with no node made. */
  DeviceCgroupRules?: string[] | null;
  /** --init: a small init (berth-init) runs as PID 1, reaps zombies and forwards signals to the command. */
  Init?: boolean | null;
  RestartPolicy?: RestartPolicy;
  SecurityOpt?: string[] | null;
  /** Paths hidden in the container (Docker's defaults when null; [] with --security-opt systempaths=unconfined). */
  MaskedPaths?: string[] | null;
  /** Paths made read-only in the container (as MaskedPaths). */
  ReadonlyPaths?: string[] | null;
  LogConfig?: LogConfig;
  /** The tty's size when the container starts: [rows, columns]. */
  ConsoleSize?: [number, number] | null;
  /** -p: {"80/tcp": [{HostIp: "", HostPort: "8080"}]} ("" HostPort: pick a free one). */
  PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null;
  /** -P: publish every exposed port on a free host port. */
  PublishAllPorts?: boolean;
  /** --add-host HOST:IP lines for /etc/hosts. */
  ExtraHosts?: string[] | null;
  /** Legacy links ("container:alias"): only on user-defined networks, where they become endpoint links. */
  Links?: string[] | null;
  /** --dns, --dns-search, --dns-option: the container's resolv.conf instead of berth's DNS. */
  Dns?: string[] | null;
  DnsSearch?: string[] | null;
  DnsOptions?: string[] | null;
  /** --mount style mounts (type volume, bind or tmpfs). */
  Mounts?: { Type: "volume" | "bind" | "tmpfs"; Source?: string; Target: string; ReadOnly?: boolean; VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> } }[] | null;
}

/** A create request: POST /containers/create's body. */
export interface CreateRequest extends ContainerConfig {
  HostConfig?: HostConfig;
  /** --network's endpoint settings: {"mynet": {IPAMConfig: {IPv4Address}, Aliases}}. */
  NetworkingConfig?: { EndpointsConfig?: Record<string, EndpointSettings> | null } | null;
}

/** What a client asks of an endpoint (create's NetworkingConfig, network connect's EndpointConfig). */
export interface EndpointSettings {
  IPAMConfig?: { IPv4Address?: string } | null;
  Aliases?: string[] | null;
  /** "container:alias" (or "container"): names only this container's lookups resolve, on this network. */
  Links?: string[] | null;
}

export type ContainerStatus = "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";

/** Docker's State object. */
export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: Health;
}

export const ZERO_TIME = "0001-01-01T00:00:00Z";

export const newState = (): ContainerState => ({
  Status: "created",
  Running: false,
  Paused: false,
  Restarting: false,
  OOMKilled: false,
  Dead: false,
  Pid: 0,
  ExitCode: 0,
  Error: "",
  StartedAt: ZERO_TIME,
  FinishedAt: ZERO_TIME,
});

export interface MountPoint {
  Type: "bind" | "volume" | "tmpfs";
  /** Volume name (type volume). */
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** Do not fill an empty volume from the image (volume-nocopy). */
  NoCopy?: boolean;
  /** A volume made for this container alone (an image VOLUME or -v /path): removed by rm -v. */
  Anonymous?: boolean;
}

export interface ContainerRecord {
  Id: string;
  /** Who created it (berth's own field; see core/owner.ts). */
  Owner?: Owner;
  /** With Docker's leading slash: "/web". */
  Name: string;
  Created: string;
  /** The image ID ("sha256:..."). */
  Image: string;
  Path: string;
  Args: string[];
  Config: ContainerConfig;
  HostConfig: HostConfig;
  State: ContainerState;
  Mounts: MountPoint[];
  Driver: string;
  LogPath: string;
  RestartCount: number;
  /** Stopped by stop/kill: the restart policy leaves it alone (Docker's HasBeenManuallyStopped). */
  ManuallyStopped: boolean;
  /** Host start time of State.Pid (/proc/<pid>/stat field 22), so a reused pid is not mistaken for it. */
  PidStartTime?: number;
  MonitorPid?: number;
  /** Still being created: a record left like this by a crash is removed at the next start. */
  Creating?: boolean;
  /** Endpoints by network name, and the ports published while it runs. */
  NetworkSettings: { Networks: Record<string, EndpointRecord>; Ports: PortMap };
}

/** A `docker exec` session. */
export interface ExecRecord {
  ID: string;
  ContainerID: string;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  OpenStdin: boolean;
  OpenStdout: boolean;
  OpenStderr: boolean;
  CanRemove: boolean;
  DetachKeys: string;
  ProcessConfig: { tty: boolean; entrypoint: string; arguments: string[]; privileged: boolean; user: string };
  Env: string[];
  WorkingDir: string;
}

/** Docker's network object (GET /networks/{id}), as berth keeps it. */
export interface NetworkRecord {
  Name: string;
  /** Who created it (berth's own field; see core/owner.ts). */
  Owner?: Owner;
  Id: string;
  Created: string;
  Scope: "local";
  Driver: string;
  EnableIPv6: false;
  IPAM: { Driver: "default"; Options: Record<string, string> | null; Config: { Subnet: string; Gateway: string }[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: false;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** A container's endpoint on a network (NetworkSettings.Networks.<name>), kept across restarts. */
export interface EndpointRecord {
  NetworkID: string;
  /** Asked for with --ip / IPAMConfig.IPv4Address: kept for every start. */
  IPAMConfig: { IPv4Address?: string } | null;
  Aliases: string[] | null;
  /** Endpoint-scoped links ("container:alias"): the embedded DNS answers them for this container only. */
  Links?: string[] | null;
  /** Set while the container runs (the address is given back at its end). */
  EndpointID: string;
  IPAddress: string;
  IPPrefixLen: number;
  Gateway: string;
  MacAddress: string;
  /** berth's: the interface in the container (eth0, eth1, ...), while it runs. */
  Interface?: string;
}

/** Published ports as Docker lists them: {"80/tcp": [{HostIp: "0.0.0.0", HostPort: "8080"}]}; null for exposed only. */
export type PortMap = Record<string, { HostIp: string; HostPort: string }[] | null>;

/** Docker's volume object. */
export interface VolumeRecord {
  Name: string;
  /** Who created it (berth's own field; see core/owner.ts). */
  Owner?: Owner;
  Driver: string;
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Scope: "local";
  /** Made for one container (image VOLUME, -v /path); rm -v removes it. */
  Anonymous: boolean;
}

/** OCI image config (application/vnd.oci.image.config.v1+json). */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  config?: {
    User?: string;
    ExposedPorts?: Record<string, object>;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Volumes?: Record<string, object> | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
    Healthcheck?: HealthConfig;
    /** ONBUILD triggers: instructions run when a build starts FROM this image. */
    OnBuild?: string[] | null;
    /** SHELL: the shell of shell-form RUN, CMD and ENTRYPOINT. */
    Shell?: string[];
  };
  rootfs: { type: "layers"; diff_ids: string[] };
  history?: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean }[];
}

export interface ImageRecord {
  /** "sha256:<hex of the config blob>". */
  id: string;
  config: ImageConfig;
  /** Digest of the manifest berth keeps for it. */
  manifestDigest: string;
  /** Uncompressed bytes of all layers. */
  size: number;
  created: string;
  /** The image a build step made this one from (Docker's Parent). */
  parent?: string;
  /** Who brought it in first (pull, load, import, build, commit): kept in image_owners. */
  owner?: Owner;
}
