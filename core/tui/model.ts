// berth tui's view models: the tree of stacks, services and containers built
// from GET /containers/json, the rows' columns, sparklines and the small
// formats (uptime, ports, bytes). Pure: no blessed, no I/O, unit-tested.

export const PROJECT = "com.docker.compose.project";
export const SERVICE = "com.docker.compose.service";
export const NUMBER = "com.docker.compose.container-number";
export const CONFIG_FILES = "com.docker.compose.project.config_files";
export const WORKING_DIR = "com.docker.compose.project.working_dir";
export const ONEOFF = "com.docker.compose.oneoff";

export interface Port {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

/** The fields of a GET /containers/json entry the dashboard uses. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  State: string;
  Status: string;
  Created: number;
  Labels?: Record<string, string> | null;
  Ports?: Port[] | null;
}

/** What an inspect adds (fetched for visible containers only). */
export interface Detail {
  startedAt?: number;
  restarts: number;
  health?: string;
  tty: boolean;
}

/** Live usage from a container's stats stream. */
export interface Usage {
  cpu: number;
  mem: number;
  limit: number;
  history: number[];
}

export type Row =
  | { kind: "stack"; key: string; depth: number; name: string; project: string; containers: ContainerSummary[]; collapsed: boolean; configFiles: string[]; workingDir?: string }
  | { kind: "service"; key: string; depth: number; name: string; project: string; service: string; containers: ContainerSummary[]; collapsed: boolean; configFiles: string[]; workingDir?: string }
  | { kind: "container"; key: string; depth: number; name: string; project?: string; service?: string; container: ContainerSummary };

export const containerName = (c: ContainerSummary) => (c.Names[0] ?? c.Id.slice(0, 12)).replace(/^\//, "");

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Containers of a service: by container number, then name. */
function byNumber(a: ContainerSummary, b: ContainerSummary): number {
  const na = Number(a.Labels?.[NUMBER] ?? 0);
  const nb = Number(b.Labels?.[NUMBER] ?? 0);
  return na - nb || byName(containerName(a), containerName(b));
}

/**
 * The tree as rows in display order: stacks (compose projects, sorted by
 * name), their services, their containers; then loose containers by name.
 * `filter` keeps containers whose name, service or project contains it;
 * a collapsed key (a stack's "s:P", a service's "v:P/S") hides its children.
 */
export function buildRows(containers: ContainerSummary[], opts: { filter?: string; collapsed?: ReadonlySet<string> } = {}): Row[] {
  const filter = opts.filter?.toLowerCase() ?? "";
  const collapsed = opts.collapsed ?? new Set<string>();
  const stacks = new Map<string, Map<string, ContainerSummary[]>>();
  const loose: ContainerSummary[] = [];
  for (const c of containers) {
    const project = c.Labels?.[PROJECT];
    const service = c.Labels?.[SERVICE];
    if (filter && ![containerName(c), project ?? "", service ?? ""].some((s) => s.toLowerCase().includes(filter))) continue;
    if (!project || !service) {
      loose.push(c);
      continue;
    }
    let services = stacks.get(project);
    if (!services) stacks.set(project, (services = new Map()));
    let list = services.get(service);
    if (!list) services.set(service, (list = []));
    list.push(c);
  }
  const rows: Row[] = [];
  for (const project of [...stacks.keys()].sort(byName)) {
    const services = stacks.get(project)!;
    const all = [...services.values()].flat();
    const labelled = all.find((c) => c.Labels?.[CONFIG_FILES]) ?? all[0]!;
    const configFiles = (labelled.Labels?.[CONFIG_FILES] ?? "").split(",").filter(Boolean);
    const workingDir = labelled.Labels?.[WORKING_DIR] || undefined;
    const key = `s:${project}`;
    rows.push({ kind: "stack", key, depth: 0, name: project, project, containers: all, collapsed: collapsed.has(key), configFiles, workingDir });
    if (collapsed.has(key)) continue;
    for (const service of [...services.keys()].sort(byName)) {
      const list = services.get(service)!.sort(byNumber);
      const skey = `v:${project}/${service}`;
      rows.push({ kind: "service", key: skey, depth: 1, name: service, project, service, containers: list, collapsed: collapsed.has(skey), configFiles, workingDir });
      if (collapsed.has(skey)) continue;
      for (const c of list) rows.push({ kind: "container", key: c.Id, depth: 2, name: containerName(c), project, service, container: c });
    }
  }
  for (const c of loose.sort((a, b) => byName(containerName(a), containerName(b)))) rows.push({ kind: "container", key: c.Id, depth: 0, name: containerName(c), container: c });
  return rows;
}

/** The containers a row stands for (a stack's or service's all, a container itself). */
export const rowContainers = (row: Row): ContainerSummary[] => (row.kind === "container" ? [row.container] : row.containers);

/** Health from the Status text ("Up 2 minutes (healthy)"), as Docker and berth both write it. */
export function healthOf(status: string): string {
  const m = /\((healthy|unhealthy|health: starting)\)/.exec(status);
  return m ? (m[1] === "health: starting" ? "starting" : m[1]!) : "";
}

/** A compact duration: 42s, 5m, 3h, 2d. */
export function formatUptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** Binary sizes in at most 5 characters: 0B, 512B, 1.5K, 12M, 3.2G. */
export function formatBytes(n: number): string {
  const units = ["B", "K", "M", "G", "T", "P"];
  let i = 0;
  let v = Math.max(0, n);
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 || v >= 10 ? Math.round(v) : v.toFixed(1)}${units[i]}`;
}

/** Published ports as "8080->80/tcp", unpublished as "80/tcp"; IPv4 and IPv6 duplicates once. */
export function formatPorts(ports: Port[] | null | undefined): string {
  const seen = new Set<string>();
  const out: string[] = [];
  const sorted = [...(ports ?? [])].sort((a, b) => a.PrivatePort - b.PrivatePort || (a.PublicPort ?? 0) - (b.PublicPort ?? 0));
  for (const p of sorted) {
    const s = p.PublicPort ? `${p.PublicPort}->${p.PrivatePort}/${p.Type}` : `${p.PrivatePort}/${p.Type}`;
    if (!seen.has(s)) seen.add(s), out.push(s);
  }
  return out.join(",");
}

export function formatPercent(p: number): string {
  return p >= 100 ? `${Math.round(p)}%` : `${p.toFixed(1)}%`;
}

const BARS = "▁▂▃▄▅▆▇█";

/**
 * The last `width` values as bars, scaled to the largest of them (at least
 * `floor`, so idle noise stays low); padded on the left when there are fewer.
 */
export function sparkline(values: number[], width: number, floor = 1): string {
  if (width <= 0) return "";
  const last = values.slice(-width);
  const max = Math.max(floor, ...last);
  const bars = last.map((v) => BARS[Math.min(BARS.length - 1, Math.max(0, Math.round((v / max) * (BARS.length - 1))))]!);
  return " ".repeat(width - last.length) + bars.join("");
}

/** Push onto a bounded history. */
export function pushHistory(history: number[], v: number, max = 60): number[] {
  history.push(v);
  if (history.length > max) history.splice(0, history.length - max);
  return history;
}

export interface StatsSample {
  cpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number };
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> };
}

/** CPU % and memory of a stats sample, computed as `docker stats` computes them. */
export function usageOf(s: StatsSample): { cpu: number; mem: number; limit: number } {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const sysDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  const cpu = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * (s.cpu_stats.online_cpus || 1) * 100 : 0;
  const st = s.memory_stats.stats ?? {};
  const mem = Math.max(0, (s.memory_stats.usage ?? 0) - (st.total_inactive_file ?? st.inactive_file ?? 0));
  return { cpu, mem, limit: s.memory_stats.limit ?? 0 };
}

export interface Columns {
  name: number;
  state: number;
  health: number;
  up: number;
  restarts: number;
  cpu: number;
  mem: number;
  spark: number;
  ports: number;
}

/**
 * Column widths for a terminal width: the name gets what its longest entry
 * needs (up to 40), the ports what is left; narrow, the fixed columns shrink
 * and the sparkline with them.
 */
export function layoutColumns(width: number, nameNeed = 24): Columns {
  const wide = width >= 100;
  const fixed = wide ? { state: 10, health: 9, up: 5, restarts: 4, cpu: 7, mem: 6 } : { state: 8, health: 7, up: 4, restarts: 3, cpu: 6, mem: 5 };
  const spark = wide ? 16 : width >= 78 ? 6 : 0;
  const rest = width - Object.values(fixed).reduce((a, b) => a + b, 0) - spark - (spark ? 1 : 0) - 7; // the separators
  const name = Math.max(8, Math.min(40, nameNeed, rest));
  const ports = Math.max(0, rest - name);
  return { name, ...fixed, spark, ports };
}

export const HEADERS = { name: "NAME", state: "STATE", health: "HEALTH", up: "UP", restarts: "RST", cpu: "CPU", mem: "MEM", spark: "CPU HISTORY", ports: "PORTS" };

export function fit(s: string, w: number, right = false): string {
  if (w <= 0) return "";
  if (s.length > w) return w === 1 ? s.slice(0, 1) : `${s.slice(0, w - 1)}…`;
  return right ? s.padStart(w) : s.padEnd(w);
}

export interface RowCells {
  name: string;
  state: string;
  health: string;
  up: string;
  restarts: string;
  cpu: string;
  mem: string;
  spark: string;
  ports: string;
}

/** The cells of a row (aggregates for stacks and services). */
export function rowCells(row: Row, now: number, detail: (id: string) => Detail | undefined, usage: (id: string) => Usage | undefined): RowCells {
  const list = rowContainers(row);
  const indent = "  ".repeat(row.depth);
  const marker = row.kind === "container" ? "" : row.collapsed ? "+ " : "- ";
  let cpu = 0;
  let mem = 0;
  let have = false;
  let history: number[] = [];
  for (const c of list) {
    const u = usage(c.Id);
    if (!u) continue;
    have = true;
    cpu += u.cpu;
    mem += u.mem;
    // Sum the histories, aligned at their ends.
    const h = u.history;
    const len = Math.max(history.length, h.length);
    const sum: number[] = [];
    for (let i = 0; i < len; i++) sum.push((history[history.length - len + i] ?? 0) + (h[h.length - len + i] ?? 0));
    history = sum;
  }
  const name = `${indent}${marker}${row.name}`;
  const base = { name, cpu: have ? formatPercent(cpu) : "", mem: have ? formatBytes(mem) : "", spark: have ? sparkline(history, 60) : "" };
  if (row.kind === "container") {
    const c = row.container;
    const d = detail(c.Id);
    const running = c.State === "running" || c.State === "paused";
    return {
      ...base,
      state: c.State,
      health: healthOf(c.Status) || d?.health || "",
      up: running && d?.startedAt ? formatUptime(now - d.startedAt) : "",
      restarts: d ? String(d.restarts) : "",
      ports: formatPorts(c.Ports),
    };
  }
  const running = list.filter((c) => c.State === "running").length;
  const unhealthy = list.filter((c) => healthOf(c.Status) === "unhealthy").length;
  return { ...base, state: `${running}/${list.length} up`, health: unhealthy ? `${unhealthy} unhl` : "", up: "", restarts: "", ports: "" };
}

/** One line of the tree for a width (plain text; the caller colours it). */
export function formatLine(cells: RowCells, cols: Columns): string {
  const parts = [
    fit(cells.name, cols.name),
    fit(cells.state, cols.state),
    fit(cells.health, cols.health),
    fit(cells.up, cols.up, true),
    fit(cells.restarts, cols.restarts, true),
    fit(cells.cpu, cols.cpu, true),
    fit(cells.mem, cols.mem, true),
  ];
  if (cols.spark) parts.push(cells.spark.slice(-cols.spark).padStart(cols.spark));
  parts.push(fit(cells.ports, cols.ports));
  return parts.join(" ");
}

export function headerLine(cols: Columns): string {
  return formatLine({ ...HEADERS, spark: fit(HEADERS.spark, cols.spark) }, cols);
}

/** blessed tags escaped: "{" and "}" as {open} and {close}. */
export const escapeTags = (s: string) => s.replace(/[{}]/g, (ch) => (ch === "{" ? "{open}" : "{close}"));

/** A line with every (case-insensitive) match of `query` marked by `open`/`close`, escaped for blessed tags. */
export function highlight(line: string, query: string, open = "{black-fg}{yellow-bg}", close = "{/yellow-bg}{/black-fg}"): string {
  if (!query) return escapeTags(line);
  const lower = line.toLowerCase();
  const q = query.toLowerCase();
  let out = "";
  let i = 0;
  for (let j = lower.indexOf(q); j >= 0; j = lower.indexOf(q, i)) {
    out += escapeTags(line.slice(i, j)) + open + escapeTags(line.slice(j, j + q.length)) + close;
    i = j + q.length;
  }
  return out + escapeTags(line.slice(i));
}

/** Terminal control sequences and carriage returns out of a log line; tabs as spaces. */
export function cleanLine(s: string): string {
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]|\x1b./g, "").replace(/\t/g, "  ").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
}

/** Splits a stream into lines, keeping the unfinished tail for the next chunk. */
export class LineSplitter {
  private rest = "";
  push(text: string): string[] {
    const parts = (this.rest + text).split("\n");
    this.rest = parts.pop()!;
    return parts;
  }
}

/** A bounded list of lines. */
export class Ring<T> {
  items: T[] = [];
  constructor(readonly max: number) {}
  push(...xs: T[]) {
    this.items.push(...xs);
    if (this.items.length > this.max) this.items.splice(0, this.items.length - this.max);
  }
  clear() {
    this.items = [];
  }
}

/** The window of `height` rows that keeps `selected` visible, moving as little as possible from `top`. */
export function scrollWindow(top: number, selected: number, height: number, total: number): number {
  if (height <= 0) return 0;
  let t = Math.min(top, Math.max(0, total - height));
  if (selected < t) t = selected;
  if (selected >= t + height) t = selected - height + 1;
  return Math.max(0, t);
}

export interface WatchStatus {
  project: string;
  since?: string;
  detached?: boolean;
  services?: { service: string; rules?: { action: string; path: string; target?: string }[] }[];
  events?: { time: string; service?: string; message: string; error?: boolean }[];
}

/** The watch pane's lines. */
export function watchLines(list: WatchStatus[] | null): string[] {
  if (!list || list.length === 0) return ["no watch"];
  const out: string[] = [];
  for (const w of list) {
    out.push(`${w.project}${w.detached ? " (detached)" : ""}${w.since ? ` since ${w.since}` : ""}`);
    for (const s of w.services ?? []) for (const r of s.rules ?? []) out.push(`  ${s.service}: ${r.action} ${r.path}${r.target ? ` -> ${r.target}` : ""}`);
    for (const e of (w.events ?? []).slice(-10)) out.push(`  ${e.time.slice(11, 19)} ${e.service ? `${e.service}: ` : ""}${e.error ? "ERROR " : ""}${e.message}`);
  }
  return out;
}

export interface EngineEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  time?: number;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** An events pane line: "12:01:02 container start web-1". */
export function eventLine(e: EngineEvent): string {
  const t = e.time ? new Date(e.time * 1000).toISOString().slice(11, 19) : "";
  const attrs = e.Actor?.Attributes ?? {};
  const name = attrs.name ?? (e.Actor?.ID ?? e.id ?? "").slice(0, 12);
  return `${t} ${e.Type ?? ""} ${e.Action ?? e.status ?? ""} ${name}`.replace(/\s+/g, " ").trim();
}
