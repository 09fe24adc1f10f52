// The compose model: what the loader produces and the reconciler consumes.
// It is the compose-spec document after every stage (interpolated, merged,
// validated, normalized): short syntaxes are expanded to the long ones,
// paths are absolute, env_file is folded into environment, sizes are bytes
// and durations are nanoseconds; mem_limit, cpus, pids_limit, memswap_limit,
// cpu_shares and cpuset are folded into deploy. `berth compose config` prints it as is
// (durations and sizes printed the way Docker Compose prints them).

/** Where a value came from: 1-based line and column. */
export interface Position {
  file: string;
  line: number;
  col: number;
}

/** A path into the document: ["services", "web", "ports", 0]. */
export type ValuePath = readonly (string | number)[];

export interface Project {
  /** The project name (-p, COMPOSE_PROJECT_NAME, `name:`, or the directory), already lower-cased and checked. */
  name: string;
  /** The directory relative paths are resolved against (the first file's). */
  workingDir: string;
  /** The files loaded, absolute, in order. */
  files: string[];
  /** Active services only (profiles applied), by name. */
  services: Record<string, Service>;
  networks: Record<string, Network>;
  volumes: Record<string, Volume>;
  secrets: Record<string, FileObject>;
  configs: Record<string, FileObject>;
  /** Services left out by profiles (for error messages: "service x is in profile debug"). */
  disabled: Record<string, { profiles: string[] }>;
  /** Where a value was written, for errors found after loading (undefined for defaults). */
  positionOf(path: ValuePath): Position | undefined;
}

export interface Service {
  name: string;
  /** Image reference; for a service with `build` and no image, "<project>-<service>" as Docker Compose names it. */
  image: string;
  build?: Build;
  pull_policy?: "always" | "never" | "missing" | "build" | "if_not_present";
  command?: string[] | null;
  entrypoint?: string[] | null;
  /** env_file entries folded in (file values first, `environment` wins); null: inherit from the shell with no value. */
  environment: Record<string, string | null>;
  ports: Port[];
  /** "80", "8000-8010/udp" as written. */
  expose: string[];
  /** Network key (project-level name) -> attachment; {"default": {}} when none is given and network_mode is unset. */
  networks: Record<string, ServiceNetwork>;
  network_mode?: string;
  volumes: ServiceVolume[];
  /** Paths: "/run" -> options ("size=64m", "" for none). */
  tmpfs: Record<string, string>;
  secrets: FileReference[];
  configs: FileReference[];
  depends_on: Record<string, Dependency>;
  healthcheck?: Healthcheck;
  /** "no" | "always" | "on-failure[:N]" | "unless-stopped". */
  restart?: string;
  deploy?: Deploy;
  /** deploy.replicas or `scale`, default 1. */
  replicas: number;
  user?: string;
  working_dir?: string;
  hostname?: string;
  domainname?: string;
  container_name?: string;
  labels: Record<string, string>;
  init?: boolean;
  stop_signal?: string;
  /** Nanoseconds. */
  stop_grace_period?: number;
  cap_add: string[];
  cap_drop: string[];
  privileged?: boolean;
  ulimits: Record<string, { soft: number; hard: number }>;
  read_only?: boolean;
  /** "host:ip" entries. */
  extra_hosts: string[];
  dns: string[];
  dns_search: string[];
  dns_opt: string[];
  logging?: { driver?: string; options?: Record<string, string> };
  tty?: boolean;
  stdin_open?: boolean;
  profiles: string[];
  /** develop.watch: what watch mode does when files under a path change. */
  develop?: { watch: WatchRule[] };
}

/** A develop.watch rule. */
export interface WatchRule {
  action: "sync" | "rebuild" | "restart" | "sync+restart" | "sync+exec";
  /** Absolute host path (a directory or a file). */
  path: string;
  /** Absolute container path the sync actions write to. */
  target?: string;
  /** .dockerignore-style patterns relative to `path`: changes they match are ignored. */
  ignore: string[];
  /** Patterns relative to `path`: when given, only changes they match count. */
  include: string[];
  /** Sync everything under `path` when watching starts (and after a container is recreated). */
  initial_sync?: boolean;
  /** sync+exec: the command run in the container after a sync. */
  exec?: { command: string[]; user?: string; privileged?: boolean; working_dir?: string; environment: Record<string, string> };
}

export interface Build {
  /** Absolute directory. */
  context: string;
  /** Relative to context, as written ("Dockerfile" by default). */
  dockerfile: string;
  /** Inline Dockerfile (dockerfile_inline). */
  dockerfile_inline?: string;
  args: Record<string, string | null>;
  target?: string;
  labels: Record<string, string>;
  no_cache?: boolean;
  pull?: boolean;
  network?: string;
  extra_hosts: string[];
  tags: string[];
}

export interface Port {
  /** Container port. */
  target: number;
  /** Host port or range ("8080", "8000-8010"); undefined: a free one. */
  published?: string;
  host_ip?: string;
  protocol: "tcp" | "udp";
  /** Always "ingress" (the spec's default). */
  mode: "ingress" | "host";
}

export interface ServiceNetwork {
  aliases?: string[];
  ipv4_address?: string;
  priority?: number;
}

export interface ServiceVolume {
  type: "volume" | "bind" | "tmpfs";
  /** Volume key (project-level name) for "volume" (undefined: anonymous); absolute host path for "bind". */
  source?: string;
  target: string;
  read_only?: boolean;
  bind?: { create_host_path?: boolean; propagation?: string };
  volume?: { nocopy?: boolean };
  /** Bytes. */
  tmpfs?: { size?: number; mode?: number };
}

export interface FileReference {
  /** Top-level secret/config key. */
  source: string;
  /** Absolute path in the container (secrets: /run/secrets/<source> by default; configs: /<source>). */
  target: string;
  uid?: string;
  gid?: string;
  mode?: number;
}

export interface Dependency {
  condition: "service_started" | "service_healthy" | "service_completed_successfully";
  /** Recreate/restart this service when the dependency is recreated/restarted. */
  restart: boolean;
  /** false: a missing or disabled dependency is not an error. */
  required: boolean;
}

export interface Healthcheck {
  /** ["CMD", ...], ["CMD-SHELL", "..."] or ["NONE"]; a string test becomes CMD-SHELL. */
  test?: string[];
  /** Nanoseconds. */
  interval?: number;
  timeout?: number;
  start_period?: number;
  start_interval?: number;
  retries?: number;
  disable?: boolean;
}

export interface Resources {
  /** cpus as a number (0.5). */
  cpus?: number;
  /** Bytes. */
  memory?: number;
  pids?: number;
}

export interface Deploy {
  resources?: {
    limits?: Resources;
    reservations?: Resources;
  };
  /** Bytes; memswap_limit. */
  memory_swap?: number;
  cpu_shares?: number;
  cpuset?: string;
  restart_policy?: { condition?: "none" | "on-failure" | "any"; max_attempts?: number };
}

export interface Network {
  /** The real network name: "<project>_<key>" unless `name:` or external. */
  name: string;
  external: boolean;
  driver?: string;
  driver_opts: Record<string, string>;
  ipam?: { driver?: string; config: { subnet?: string; gateway?: string; ip_range?: string }[] };
  internal?: boolean;
  attachable?: boolean;
  labels: Record<string, string>;
}

export interface Volume {
  /** The real volume name: "<project>_<key>" unless `name:` or external. */
  name: string;
  external: boolean;
  driver?: string;
  driver_opts: Record<string, string>;
  labels: Record<string, string>;
}

/** A top-level secret or config: its content comes from a file, an environment variable, or inline (configs). */
export interface FileObject {
  name: string;
  external: boolean;
  /** Absolute path. */
  file?: string;
  /** Environment variable name whose value is the content. */
  environment?: string;
  /** Inline content (configs only). */
  content?: string;
}
