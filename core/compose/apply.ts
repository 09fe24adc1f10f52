// The reconciler's second half: carry a plan out through a Backend. Each
// service waits for its dependencies' conditions (started, healthy,
// completed successfully), then its replicas are handled in parallel;
// services that do not depend on each other go at the same time.
import { BerthError, failedPrecondition } from "../errors.ts";
import type { Backend } from "./backend.ts";
import * as L from "./labels.ts";
import type { Dependency, Project, Service } from "./model.ts";
import type { Action, Observed, Plan } from "./plan.ts";
import { containerName, replicaLabels, type ContainerSpec } from "./spec.ts";

/** A line of progress: " Container demo-web-1  Started". */
export type Progress = (kind: "Container" | "Network" | "Volume" | "Image", name: string, status: string) => void;

export interface ApplyContext {
  project: Project;
  backend: Backend;
  specs: Record<string, ContainerSpec>;
  progress: Progress;
}

const NANOS_PER_SECOND = 1_000_000_000;
const POLL_MS = 50;

/** Seconds a service's containers get to stop: -t, else stop_grace_period, else the daemon's default. */
export const stopTimeout = (s: Service | undefined, override?: number) =>
  override ?? (s?.stop_grace_period === undefined ? undefined : Math.ceil(s.stop_grace_period / NANOS_PER_SECOND));

/** The networks and volumes the services use: created when missing; external ones must exist. */
export async function ensureResources(ctx: ApplyContext, services: string[]): Promise<void> {
  const { project, backend, progress } = ctx;
  const nets = new Set<string>();
  const vols = new Set<string>();
  for (const name of services) {
    const s = project.services[name]!;
    if (!s.network_mode) for (const n of Object.keys(s.networks)) nets.add(n);
    for (const v of s.volumes) if (v.type === "volume" && v.source) vols.add(v.source);
  }
  await Promise.all([
    ...[...nets].map(async (key) => {
      const n = project.networks[key]!;
      if (await backend.networkExists(n.name)) return;
      if (n.external) throw failedPrecondition(`network ${n.name} declared as external, but could not be found`, `create it first: berth network create ${n.name}`);
      progress("Network", n.name, "Creating");
      await backend.createNetwork(n.name, n, { [L.PROJECT]: project.name, [L.NETWORK]: key, [L.VERSION]: L.COMPOSE_VERSION });
      progress("Network", n.name, "Created");
    }),
    ...[...vols].map(async (key) => {
      const v = project.volumes[key]!;
      if (await backend.volumeExists(v.name)) return;
      if (v.external) throw failedPrecondition(`external volume "${v.name}" not found`, `create it first: berth volume create ${v.name}`);
      progress("Volume", v.name, "Creating");
      await backend.createVolume(v.name, v, { [L.PROJECT]: project.name, [L.VOLUME]: key, [L.VERSION]: L.COMPOSE_VERSION });
      progress("Volume", v.name, "Created");
    }),
  ]);
}

/** Apply `plan`: orphans first (when asked), then every service once its dependencies allow. */
export async function applyPlan(ctx: ApplyContext, plan: Plan, opts: { removeOrphans?: boolean; timeout?: number } = {}): Promise<void> {
  await ensureResources(ctx, plan.services.map((s) => s.service));
  if (opts.removeOrphans) await Promise.all(plan.orphans.map((c) => removeContainer(ctx, c, opts.timeout)));
  // New replicas are created at once (only their start waits for the
  // dependencies), as Docker Compose does; one joining another service's
  // network namespace is created once that one runs.
  const early = new Map<Action, Promise<string>>();
  for (const sp of plan.services) {
    const service = ctx.project.services[sp.service]!;
    if (/^service:/.test(service.network_mode ?? "")) continue;
    for (const a of sp.actions) {
      if (a.kind !== "create") continue;
      const created = createNew(ctx, service, a.number);
      created.catch(() => undefined); // reported where it is awaited
      early.set(a, created);
    }
  }
  const done = new Map<string, Promise<void>>();
  for (const sp of plan.services) {
    const service = ctx.project.services[sp.service]!;
    const deps = Object.entries(service.depends_on).filter(([d]) => done.has(d));
    // network_mode "service:x" joins x's namespace: x must have started first.
    const joined = /^service:(.+)$/.exec(service.network_mode ?? "")?.[1];
    if (joined && done.has(joined) && !service.depends_on[joined]) deps.push([joined, { condition: "service_started", restart: true, required: true }]);
    done.set(
      sp.service,
      (async () => {
        // A dependency that failed fails this service too (its own message says why).
        await Promise.all(deps.map(([d]) => done.get(d)));
        await Promise.all(deps.map(([d, dep]) => waitFor(ctx, d, dep)));
        await Promise.all(sp.actions.map((a) => act(ctx, service, a, early.get(a), opts.timeout)));
      })(),
    );
  }
  const results = await Promise.allSettled(done.values());
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** Carry out one action; `created` is the container made early for a "create". */
async function act(ctx: ApplyContext, service: Service, a: Action, created: Promise<string> | undefined, timeout?: number): Promise<void> {
  const { backend, progress } = ctx;
  switch (a.kind) {
    case "keep":
      progress("Container", a.container.name, "Running");
      return;
    case "start":
      progress("Container", a.container.name, "Starting");
      await backend.start(a.container.id);
      progress("Container", a.container.name, "Started");
      return;
    case "remove":
      await removeContainer(ctx, a.container, stopTimeout(service, timeout));
      return;
    case "recreate": {
      progress("Container", a.container.name, "Recreate");
      await backend.stop(a.container.id, stopTimeout(service, timeout));
      await backend.remove(a.container.id, { force: true });
      const id = await createReplica(ctx, service, a.number);
      progress("Container", a.container.name, "Recreated");
      await startReplica(ctx, id, a.container.name);
      return;
    }
    case "create": {
      const id = await (created ?? createNew(ctx, service, a.number));
      await startReplica(ctx, id, containerName(ctx.project, service, a.number));
      return;
    }
  }
}

/** A new replica, with its progress lines. */
async function createNew(ctx: ApplyContext, service: Service, number: number): Promise<string> {
  const name = containerName(ctx.project, service, number);
  ctx.progress("Container", name, "Creating");
  const id = await createReplica(ctx, service, number);
  ctx.progress("Container", name, "Created");
  return id;
}

/** Create replica `number` of a service: the container, its other networks, its secrets and configs. */
export async function createReplica(ctx: ApplyContext, service: Service, number: number, opts: { oneoff?: boolean; name?: string; override?: (spec: ContainerSpec["request"]) => ContainerSpec["request"] } = {}): Promise<string> {
  const spec = ctx.specs[service.name]!;
  const name = opts.name ?? containerName(ctx.project, service, number);
  let request: ContainerSpec["request"] = { ...spec.request, Labels: { ...spec.request.Labels, ...replicaLabels(ctx.project, service, number, spec.hash, opts.oneoff) } };
  if (opts.override) request = opts.override(request);
  const id = await ctx.backend.create(name, request);
  try {
    for (const [net, endpoint] of Object.entries(spec.moreNetworks)) await ctx.backend.connect(id, net, endpoint);
    await ctx.backend.copyFiles(id, spec.files);
  } catch (err) {
    await ctx.backend.remove(id, { force: true }); // nothing half-made stays behind
    throw err;
  }
  return id;
}

async function startReplica(ctx: ApplyContext, id: string, name: string) {
  ctx.progress("Container", name, "Starting");
  await ctx.backend.start(id);
  ctx.progress("Container", name, "Started");
}

/** `volumes`: its anonymous volumes go too (down -v, rm -v). */
export async function removeContainer(ctx: Pick<ApplyContext, "backend" | "progress">, c: Observed, timeout?: number, volumes = false) {
  if (c.state === "running" || c.state === "paused" || c.state === "restarting") {
    ctx.progress("Container", c.name, "Stopping");
    await ctx.backend.stop(c.id, timeout);
    ctx.progress("Container", c.name, "Stopped");
  }
  ctx.progress("Container", c.name, "Removing");
  await ctx.backend.remove(c.id, { force: true, volumes });
  ctx.progress("Container", c.name, "Removed");
}

/** Wait until a dependency's replicas meet the condition; a failed condition is an error naming the container. */
async function waitFor(ctx: ApplyContext, service: string, dep: Dependency): Promise<void> {
  if (dep.condition === "service_started") return;
  const containers = (await ctx.backend.containers(ctx.project.name)).filter((c) => c.service === service && !c.oneoff);
  await Promise.all(
    containers.map(async (c) => {
      ctx.progress("Container", c.name, "Waiting");
      if (dep.condition === "service_completed_successfully") {
        const code = await ctx.backend.wait(c.id);
        if (code !== 0) throw failedPrecondition(`service "${service}" didn't complete successfully: exit ${code}`);
        ctx.progress("Container", c.name, "Exited");
        return;
      }
      await waitHealthy(ctx.backend, c);
      ctx.progress("Container", c.name, "Healthy");
    }),
  );
}

/** Poll until the container is healthy; unhealthy or stopped is an error. */
export async function waitHealthy(backend: Backend, c: Observed): Promise<void> {
  for (;;) {
    const st = await backend.state(c.id);
    if (st.health === "healthy") return;
    if (st.health === undefined) throw failedPrecondition(`dependency failed to start: container ${c.name} has no healthcheck configured`, "add a healthcheck to the service, or depend on it with condition: service_started");
    if (st.health === "unhealthy") throw failedPrecondition(`dependency failed to start: container ${c.name} is unhealthy`);
    if (st.status === "exited" || st.status === "dead") throw failedPrecondition(`dependency failed to start: container ${c.name} exited (${st.exitCode})`);
    await Bun.sleep(POLL_MS);
  }
}

/** --wait: every container of the services running, and healthy if it has a healthcheck. */
export async function waitRunning(ctx: ApplyContext, services: string[]): Promise<void> {
  const containers = (await ctx.backend.containers(ctx.project.name)).filter((c) => services.includes(c.service) && !c.oneoff);
  await Promise.all(
    containers.map(async (c) => {
      ctx.progress("Container", c.name, "Waiting");
      for (;;) {
        const st = await ctx.backend.state(c.id);
        if (st.status === "exited" || st.status === "dead") throw new BerthError("FailedPrecondition", `container ${c.name} exited (${st.exitCode})`);
        if (st.health === "unhealthy") throw failedPrecondition(`container ${c.name} is unhealthy`);
        if (st.status === "running" && (st.health === undefined || st.health === "healthy")) break;
        await Bun.sleep(POLL_MS);
      }
      ctx.progress("Container", c.name, "Healthy");
    }),
  );
}
