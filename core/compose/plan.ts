// The reconciler's first half: compare the model with what runs and say
// what to do, service by service, in dependency order. Pure, so every kind
// of change is tested without a daemon; apply.ts carries the plan out.
import { invalidArgument } from "../errors.ts";
import type { Project } from "./model.ts";

/** A container of the project as the backend reports it (read from its labels and state). */
export interface Observed {
  id: string;
  name: string;
  service: string;
  number: number;
  hash: string;
  oneoff: boolean;
  state: "created" | "running" | "paused" | "restarting" | "exited" | "dead" | "removing";
  /** Health status when the container has a healthcheck. */
  health?: string;
  image?: string;
  labels: Record<string, string>;
}

export type Action =
  | { kind: "create"; service: string; number: number }
  | { kind: "recreate"; service: string; number: number; container: Observed; reason: string }
  | { kind: "start"; service: string; container: Observed }
  | { kind: "remove"; service: string; container: Observed }
  | { kind: "keep"; service: string; container: Observed };

export interface ServicePlan {
  service: string;
  actions: Action[];
}

export interface Plan {
  /** In dependency order: a service comes after everything it depends on. */
  services: ServicePlan[];
  /** Containers of services the model no longer has. */
  orphans: Observed[];
}

export interface UpOptions {
  /** Services named on the command line (default: all); their dependencies come too unless noDeps. */
  services?: string[];
  noDeps?: boolean;
  forceRecreate?: boolean;
  noRecreate?: boolean;
  /** --scale service=n. */
  scale?: Record<string, number>;
}

/** The desired hash of each service's replicas (spec.ts), by service name. */
export type Hashes = Record<string, string>;

export function planUp(project: Project, observed: Observed[], hashes: Hashes, opts: UpOptions = {}): Plan {
  if (opts.forceRecreate && opts.noRecreate) throw invalidArgument("--force-recreate and --no-recreate are incompatible");
  for (const name of Object.keys(opts.scale ?? {})) if (!project.services[name]) throw invalidArgument(`no such service: ${name}`, `the services are: ${Object.keys(project.services).join(", ")}`);
  const order = dependencyOrder(project);
  const targets = targetServices(project, opts.services, opts.noDeps);
  const mine = observed.filter((c) => !c.oneoff);
  const recreated = new Set<string>();
  const services: ServicePlan[] = [];
  for (const name of order) {
    if (!targets.has(name)) continue;
    const service = project.services[name]!;
    const want = opts.scale?.[name] ?? service.replicas;
    const have = mine.filter((c) => c.service === name).sort((a, b) => a.number - b.number);
    const changedDep = Object.keys(service.depends_on).find((d) => recreated.has(d));
    const actions: Action[] = [];
    // Replicas past the wanted count go first, highest numbers first (as Compose scales down).
    const keep = have.filter((c, i) => i < want);
    for (const c of have.slice(want).reverse()) actions.push({ kind: "remove", service: name, container: c });
    for (const c of keep) {
      const reason = opts.noRecreate
        ? undefined
        : opts.forceRecreate
          ? "forced"
          : c.hash !== hashes[name]
            ? "configuration changed"
            : changedDep
              ? `dependency ${changedDep} was recreated`
              : undefined;
      if (reason) actions.push({ kind: "recreate", service: name, number: c.number, container: c, reason });
      else if (c.state === "running" || c.state === "restarting") actions.push({ kind: "keep", service: name, container: c });
      else if (c.state === "paused") actions.push({ kind: "keep", service: name, container: c });
      else actions.push({ kind: "start", service: name, container: c });
    }
    // New replicas take the lowest free numbers.
    const used = new Set(keep.map((c) => c.number));
    for (let n = 1, added = keep.length; added < want; n++) {
      if (used.has(n)) continue;
      actions.push({ kind: "create", service: name, number: n });
      added++;
    }
    if (actions.some((a) => a.kind === "recreate")) recreated.add(name);
    services.push({ service: name, actions });
  }
  const orphans = mine.filter((c) => !project.services[c.service] && !project.disabled[c.service]);
  return { services, orphans };
}

/** The plan in words, one line per action ("recreate p-web-1 (configuration changed)"); `keep` lists the unchanged too. */
export function planLines(plan: Plan, opts: { removeOrphans?: boolean; keep?: boolean } = {}): string[] {
  const lines: string[] = [];
  for (const sp of plan.services)
    for (const a of sp.actions) {
      if (a.kind === "create") lines.push(`create ${sp.service} replica ${a.number}`);
      else if (a.kind === "recreate") lines.push(`recreate ${a.container.name} (${a.reason})`);
      else if (a.kind === "start") lines.push(`start ${a.container.name}`);
      else if (a.kind === "remove") lines.push(`remove ${a.container.name} (scale down)`);
      else if (opts.keep) lines.push(`keep ${a.container.name} (up to date)`);
    }
  for (const c of plan.orphans) lines.push(opts.removeOrphans ? `remove ${c.name} (orphan)` : `leave ${c.name} (orphan; --remove-orphans removes it)`);
  return lines;
}

/** Does the plan change anything? */
export const planChanges = (plan: Plan, removeOrphans: boolean) =>
  plan.services.some((s) => s.actions.some((a) => a.kind !== "keep")) || (removeOrphans && plan.orphans.length > 0);

/** Services sorted so that each comes after its dependencies; a cycle is an error naming it. */
export function dependencyOrder(project: Project): string[] {
  const out: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, path: string[]) => {
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") throw invalidArgument(`dependency cycle detected: ${[...path.slice(path.indexOf(name)), name].join(" -> ")}`);
    state.set(name, "visiting");
    for (const dep of dependenciesOf(project, name)) visit(dep, [...path, name]);
    state.set(name, "done");
    out.push(name);
  };
  for (const name of Object.keys(project.services).sort()) visit(name, []);
  return out;
}

/** The services a service needs running first: its depends_on (those in the model) and the one its network_mode joins. */
export function dependenciesOf(project: Project, name: string): string[] {
  const deps = Object.keys(project.services[name]?.depends_on ?? {}).filter((d) => project.services[d]).sort();
  for (const d of networkModeDeps(project, name)) if (!deps.includes(d)) deps.push(d);
  return deps;
}

/** The services to restart with `names`: those and, transitively, every service depending on one of them with `restart: true`. */
export function withRestartDependants(project: Project, names: string[]): string[] {
  const out = new Set(names);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [name, s] of Object.entries(project.services)) {
      if (out.has(name)) continue;
      if (Object.entries(s.depends_on).some(([d, dep]) => dep.restart && out.has(d))) {
        out.add(name);
        grew = true;
      }
    }
  }
  return [...out];
}

/** Services a service's network_mode joins ("service:db"). */
function networkModeDeps(project: Project, name: string): string[] {
  const m = /^service:(.+)$/.exec(project.services[name]?.network_mode ?? "");
  return m && project.services[m[1]!] ? [m[1]!] : [];
}

/** The named services and, unless noDeps, everything they depend on. */
export function targetServices(project: Project, names: string[] | undefined, noDeps = false): Set<string> {
  if (!names?.length) return new Set(Object.keys(project.services));
  const out = new Set<string>();
  const add = (name: string) => {
    if (out.has(name)) return;
    if (!project.services[name]) {
      const disabled = project.disabled[name];
      throw invalidArgument(`no such service: ${name}`, disabled ? `it is in profile ${disabled.profiles.join(", ")}: add --profile ${disabled.profiles[0]}` : `the services are: ${Object.keys(project.services).sort().join(", ")}`);
    }
    out.add(name);
    if (noDeps) return;
    for (const dep of dependenciesOf(project, name)) add(dep);
  };
  for (const n of names) add(n);
  return out;
}
