// `berth compose config`: the normalized project printed the way Docker
// Compose prints its model: name, services (sorted), networks, volumes,
// secrets, configs; durations back as Go durations ("1m30s"); empty lists,
// empty maps and unset values left out.
import { stringify } from "yaml";
import type { Project, Resources, Service } from "../model.ts";

export function formatConfig(project: Project, format: "yaml" | "json"): string {
  const out = prune({
    name: project.name,
    services: Object.fromEntries(Object.keys(project.services).sort().map((k) => [k, service(project.services[k]!)])),
    networks: internal(project.networks),
    volumes: internal(project.volumes),
    secrets: internal(project.secrets),
    configs: internal(project.configs),
  });
  const text = format === "json" ? `${JSON.stringify(out, null, 2)}\n` : stringify(out, { lineWidth: 0, aliasDuplicateObjects: false });
  // As Docker Compose does, $ is escaped: the output is a compose file again, and loading it interpolates.
  return text.replace(/\$/g, () => "$$");
}

/** `external: false` left out, as Docker Compose omits it. */
function internal<T extends { external: boolean }>(m: Record<string, T>): Record<string, T | Omit<T, "external">> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.external ? v : { ...v, external: undefined }]));
}

/**
 * A service in Docker Compose's shape (a valid compose file again): keys
 * sorted, durations as strings, memory sizes as strings of bytes, the keys
 * the model folds into deploy back at the service level, `scale` for
 * replicas other than 1, tmpfs as a list, no name.
 */
function service(s: Service): Record<string, unknown> {
  const { name: _name, replicas, stop_grace_period, healthcheck, networks, deploy, tmpfs, ...rest } = s;
  const { memory_swap, cpu_shares, cpuset, resources, restart_policy } = deploy ?? {};
  const memory = (r: Resources | undefined) => r && { ...r, memory: r.memory === undefined ? undefined : String(r.memory) };
  const out: Record<string, unknown> = {
    ...rest,
    deploy: { resources: resources && { limits: memory(resources.limits), reservations: memory(resources.reservations) }, restart_policy },
    memswap_limit: memory_swap,
    cpu_shares,
    cpuset,
    tmpfs: Object.entries(tmpfs).map(([path, opts]) => (opts ? `${path}:${opts}` : path)),
    // Docker Compose prints an attachment without options as null.
    networks: Object.fromEntries(Object.entries(networks).map(([k, v]) => [k, Object.keys(v).length ? v : null])),
    scale: replicas === 1 ? undefined : replicas,
    stop_grace_period: stop_grace_period === undefined ? undefined : goDuration(stop_grace_period),
    healthcheck: healthcheck && {
      ...healthcheck,
      interval: optDuration(healthcheck.interval),
      timeout: optDuration(healthcheck.timeout),
      start_period: optDuration(healthcheck.start_period),
      start_interval: optDuration(healthcheck.start_interval),
    },
  };
  return Object.fromEntries(Object.keys(out).sort().map((k) => [k, out[k]]));
}

function optDuration(ns: number | undefined): string | undefined {
  return ns === undefined ? undefined : goDuration(ns);
}

/** Go's time.Duration.String(): "1h0m0s", "1m30s", "1.5s", "500ms", "0s". */
export function goDuration(ns: number): string {
  if (ns === 0) return "0s";
  const sign = ns < 0 ? "-" : "";
  const abs = Math.abs(ns);
  const trim = (n: number) => String(Number(n.toFixed(9)));
  if (abs < 1e3) return `${sign}${abs}ns`;
  if (abs < 1e6) return `${sign}${trim(abs / 1e3)}µs`;
  if (abs < 1e9) return `${sign}${trim(abs / 1e6)}ms`;
  const h = Math.floor(abs / 3600e9);
  const m = Math.floor((abs % 3600e9) / 60e9);
  const s = trim((abs % 60e9) / 1e9);
  if (h > 0) return `${sign}${h}h${m}m${s}s`;
  if (m > 0) return `${sign}${m}m${s}s`;
  return `${sign}${s}s`;
}

/** Drop undefined values, empty lists and empty maps, recursively (null stays: it means something). */
function prune(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(prune);
  if (typeof v !== "object" || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === "function") continue;
    const p = prune(x);
    if (p === undefined) continue;
    if (Array.isArray(p) && p.length === 0) continue;
    if (typeof p === "object" && p !== null && !Array.isArray(p) && Object.keys(p).length === 0) continue;
    out[k] = p;
  }
  return out;
}
