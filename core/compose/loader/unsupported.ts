// berth implements the compose keys of model.ts (and the inputs normalize
// folds into them: env_file, extends, mem_limit, cpus, scale, ...). A key the
// schema accepts but berth would silently ignore (devices, ipc, security_opt,
// deploy.placement, ...) would make a container differ from what the file
// asks, so it is an error. `x-*` extension keys are allowed anywhere.
import { errorAt, formatPath, isMapping, keyPositionAt } from "./positions.ts";

/** The keys berth reads at one place: `true` means "any content", `"*"` stands for any name (services.<name>). */
type Spec = { [key: string]: Spec | true };

const RESOURCES: Spec = { cpus: true, memory: true, pids: true };
const FILE_REFERENCE: Spec = { source: true, target: true, uid: true, gid: true, mode: true };

const SERVICE: Spec = {
  image: true,
  build: {
    context: true, dockerfile: true, dockerfile_inline: true, args: true, target: true, labels: true,
    no_cache: true, pull: true, network: true, extra_hosts: true, tags: true,
  },
  pull_policy: true, command: true, entrypoint: true, environment: true,
  env_file: { path: true, required: true },
  ports: { target: true, published: true, host_ip: true, protocol: true, mode: true },
  expose: true,
  networks: { "*": { aliases: true, ipv4_address: true, priority: true } },
  network_mode: true,
  volumes: {
    type: true, source: true, target: true, read_only: true,
    bind: { create_host_path: true, propagation: true }, volume: { nocopy: true }, tmpfs: { size: true, mode: true },
  },
  tmpfs: true, secrets: FILE_REFERENCE, configs: FILE_REFERENCE,
  depends_on: { "*": { condition: true, restart: true, required: true } },
  healthcheck: { test: true, interval: true, timeout: true, start_period: true, start_interval: true, retries: true, disable: true },
  restart: true,
  deploy: {
    replicas: true,
    resources: { limits: RESOURCES, reservations: { cpus: true, memory: true } },
    restart_policy: { condition: true, max_attempts: true },
  },
  scale: true, user: true, working_dir: true, hostname: true, domainname: true, container_name: true, labels: true,
  init: true, stop_signal: true, stop_grace_period: true, cap_add: true, cap_drop: true, privileged: true,
  ulimits: true, read_only: true, extra_hosts: true, dns: true, dns_search: true, dns_opt: true,
  logging: { driver: true, options: true },
  tty: true, stdin_open: true, profiles: true, extends: true,
  develop: {
    watch: {
      path: true, action: true, target: true, ignore: true, include: true, initial_sync: true,
      exec: { command: true, user: true, privileged: true, working_dir: true, environment: true },
    },
  },
  mem_limit: true, mem_reservation: true, memswap_limit: true, cpus: true, pids_limit: true, cpu_shares: true, cpuset: true,
};

const TOP: Spec = {
  version: true,
  name: true,
  include: { path: true, project_directory: true, env_file: true },
  services: { "*": SERVICE },
  networks: {
    "*": {
      name: true, driver: true, driver_opts: true, external: { name: true }, internal: true, attachable: true, labels: true,
      ipam: { driver: true, config: { subnet: true, gateway: true, ip_range: true } },
    },
  },
  volumes: { "*": { name: true, driver: true, driver_opts: true, external: { name: true }, labels: true } },
  secrets: { "*": { name: true, environment: true, file: true, external: { name: true } } },
  configs: { "*": { name: true, content: true, environment: true, file: true, external: { name: true } } },
};

/** Throw for the first key berth does not implement; return warnings (an obsolete `version:`). */
export function checkSupported(doc: Record<string, unknown>, file: string): string[] {
  walk(doc, TOP, [], doc);
  return "version" in doc ? [`${file}: the attribute \`version\` is obsolete, it will be ignored, please remove it to avoid potential confusion`] : [];
}

function walk(value: unknown, spec: Spec, path: (string | number)[], doc: Record<string, unknown>): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => walk(item, spec, [...path, i], doc));
    return;
  }
  if (!isMapping(value)) return;
  for (const key of Object.keys(value)) {
    if (key.startsWith("x-")) continue;
    const sub = Object.hasOwn(spec, key) ? spec[key] : spec["*"];
    if (sub === undefined) {
      const where = path.length > 0 ? `${formatPath([...path, key])}: ` : "";
      throw errorAt(keyPositionAt(doc, [...path, key]), `${where}berth does not support ${JSON.stringify(key)}`, "remove it, or keep it under an x- key (which berth ignores)");
    }
    if (sub !== true) walk(value[key], sub, [...path, key], doc);
  }
}
