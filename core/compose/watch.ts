// Watch mode, run by the daemon: a project's develop.watch rules turned into
// file watchers (chokidar), and each batch of changes into its action —
// sync (written straight into the running containers through their own
// root, engine/sync.ts), sync+restart, sync+exec, restart, or rebuild
// (build, recreate through the reconciler). It outlives the client that
// started it when detached, re-syncs a container that starts again (a
// restart or a recreate loses nothing), and reconciles the stack when its
// compose files change. Every event becomes a line in the watch's log.
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { posix, relative } from "node:path";
import { watch, type FSWatcher } from "chokidar";
import { isIgnored, parseDockerignore, type IgnoreRules } from "../build/dockerignore.ts";
import type { Engine } from "../engine/engine.ts";
import type { ContainerRecord } from "../engine/types.ts";
import { containerRoot, syncRemove, syncWrite } from "../engine/sync.ts";
import { containerIds } from "../engine/userns.ts";
import { resolveInRoot } from "../paths.ts";
import { applyPlan, waitHealthy, type ApplyContext } from "./apply.ts";
import type { Backend } from "./backend.ts";
import { ensureImages, specsOf } from "./images.ts";
import * as L from "./labels.ts";
import { loadProject, type LoadOptions } from "./loader/index.ts";
import type { Project, Service, WatchRule } from "./model.ts";
import { planLines, planUp } from "./plan.ts";

export interface WatchEvent {
  /** RFC 3339 time. */
  time: string;
  service?: string;
  message: string;
  error?: boolean;
}

export interface WatchStatus {
  project: string;
  since: string;
  detached: boolean;
  services: { service: string; rules: { action: string; path: string; target?: string }[] }[];
  events: WatchEvent[];
}

/** A change waiting to be acted on: the host path, and whether it is still there. */
interface Change {
  path: string;
}

/** Changes arriving within this many ms of each other are handled as one batch. */
const QUIET_MS = 3;
/** A batch is handled after at most this long, however many changes keep coming. */
const MAX_WAIT_MS = 50;
const LOG_SIZE = 200;
/** When a new directory's content is looked at again (see act). */
const CATCH_UP_MS = 150;

export class ProjectWatch {
  private watchers: FSWatcher[] = [];
  private unsubscribe?: () => void;
  private readonly log: WatchEvent[] = [];
  private readonly listeners = new Set<(e: WatchEvent) => void>();
  /** Per service, the work in hand: one batch at a time, in order. */
  private readonly queues = new Map<string, Promise<void>>();
  private readonly since = new Date().toISOString();
  private stopped = false;

  constructor(
    private project: Project,
    private readonly load: LoadOptions,
    private readonly services: string[],
    private readonly engine: Engine,
    private readonly backend: Backend,
    public detached: boolean,
    private readonly progress: ApplyContext["progress"] = () => {},
  ) {}

  get name() {
    return this.project.name;
  }

  /** Watch: the initial syncs, the rules' watchers, the compose files, and container starts. */
  async start(): Promise<void> {
    this.unsubscribe = this.engine.events.subscribe((e) => {
      if (e.Type !== "container" || e.Action !== "start") return;
      const a = e.Actor.Attributes;
      if (a[L.PROJECT] !== this.name || a[L.ONEOFF] === "True" || !this.watched().includes(a[L.SERVICE] ?? "")) return;
      this.enqueue(a[L.SERVICE]!, () => this.resync(a[L.SERVICE]!, e.Actor.ID));
    });
    for (const name of this.watched()) {
      const rules = this.project.services[name]!.develop!.watch;
      const initial = rules.filter((r) => r.initial_sync && r.action.startsWith("sync"));
      if (initial.length) this.enqueue(name, () => this.syncAll(name, initial, "initial sync"));
    }
    await this.watchRules();
    this.watchComposeFiles();
    this.note(undefined, `watching ${this.watched().map((s) => `${s} (${this.project.services[s]!.develop!.watch.length} rules)`).join(", ")}`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    await Promise.all(this.watchers.splice(0).map((w) => w.close()));
    this.listeners.clear();
  }

  /** Follow the log: past events first, then new ones. */
  follow(fn: (e: WatchEvent) => void): () => void {
    for (const e of this.log) fn(e);
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  status(): WatchStatus {
    return {
      project: this.name,
      since: this.since,
      detached: this.detached,
      services: this.watched().map((s) => ({ service: s, rules: this.project.services[s]!.develop!.watch.map((r) => ({ action: r.action, path: r.path, target: r.target })) })),
      events: [...this.log],
    };
  }

  /** The services watched: the named ones (or all) that have develop.watch rules. */
  private watched(): string[] {
    return Object.keys(this.project.services).filter((s) => (!this.services.length || this.services.includes(s)) && this.project.services[s]!.develop?.watch.length);
  }

  private note(service: string | undefined, message: string, error = false) {
    const e: WatchEvent = { time: new Date().toISOString(), service, message, ...(error ? { error } : {}) };
    this.log.push(e);
    if (this.log.length > LOG_SIZE) this.log.shift();
    for (const fn of this.listeners) fn(e);
  }

  /** Run `work` after the service's earlier work; a failure is logged, and the watch goes on. */
  private enqueue(service: string, work: () => Promise<void>) {
    const prev = this.queues.get(service) ?? Promise.resolve();
    const next = prev.then(async () => {
      if (this.stopped) return;
      try {
        await work();
      } catch (err) {
        this.note(service, (err as Error).message, true);
      }
    });
    this.queues.set(service, next);
  }

  // -- the rules' watchers --

  private async watchRules() {
    for (const name of this.watched()) {
      const service = this.project.services[name]!;
      for (const rule of service.develop!.watch) {
        const filter = changeFilter(service, rule);
        let batch: Change[] = [];
        let quiet: ReturnType<typeof setTimeout> | undefined;
        let first = 0;
        const flush = () => {
          clearTimeout(quiet);
          quiet = undefined;
          const changes = batch;
          batch = [];
          this.enqueue(name, () => this.act(name, rule, changes, first));
        };
        const onChange = (path: string) => {
          if (!(path === rule.path || path.startsWith(`${rule.path}/`)) || !filter(path)) return;
          if (!batch.length) first = performance.now();
          batch.push({ path });
          clearTimeout(quiet);
          quiet = performance.now() - first >= MAX_WAIT_MS ? undefined : setTimeout(flush, QUIET_MS);
          if (!quiet) flush();
        };
        // A path that is not there yet is watched from its nearest parent that is, for its creation.
        const from = nearestExisting(rule.path);
        const inside = (p: string) => p === rule.path || p.startsWith(`${rule.path}/`);
        const onTheWay = (p: string) => rule.path.startsWith(`${p}/`) || p === from;
        const w = watch(from, { ignoreInitial: true, atomic: false, persistent: true, followSymlinks: false, ignored: (p: string) => !onTheWay(p) && !(inside(p) && (p === rule.path || filter(p, true))) });
        for (const ev of ["add", "change", "unlink", "addDir", "unlinkDir"] as const) w.on(ev, onChange);
        w.on("error", (err) => this.note(name, `watching ${rule.path}: ${(err as Error).message}`, true));
        await new Promise<void>((r) => w.once("ready", () => r()));
        this.watchers.push(w);
      }
    }
  }

  /** One batch of changes under a rule. */
  private async act(service: string, rule: WatchRule, changes: Change[], since: number, catchingUp = false) {
    const files = [...new Set(changes.map((c) => c.path))];
    const shown = files.length <= 3 ? files.map((f) => relative(this.project.workingDir, f) || f).join(", ") : `${files.length} files`;
    if (rule.action === "rebuild") return this.rebuild(service, shown, since);
    if (rule.action === "restart") {
      for (const c of this.running(service)) await this.backend.restart(c.Id);
      this.note(service, `${shown} changed: restarted in ${ms(since)}`);
      return;
    }
    const { containers: n, removed } = await this.sync(service, rule, files);
    // Files written into a new directory before its watch was in place make
    // no event: look into new directories once more, a moment later.
    const dirs = files.filter(isDirectory);
    if (dirs.length && !catchingUp) setTimeout(() => this.enqueue(service, () => this.act(service, rule, dirs.map((path) => ({ path })), performance.now(), true)), CATCH_UP_MS);
    let what = removed === files.length ? `removed ${shown} from ${rule.target}` : `synced ${shown} to ${rule.target}`;
    if (rule.action === "sync+restart") {
      for (const c of this.running(service)) await this.backend.restart(c.Id);
      what += ", restarted";
    } else if (rule.action === "sync+exec") {
      for (const c of this.running(service)) what += `, ran ${rule.exec!.command.join(" ")}: exit ${await this.exec(c, rule)}`;
    }
    this.note(service, n ? `${what} in ${ms(since)}` : `${shown} changed, but no container of ${service} is running: it gets them when it starts`);
  }

  /** Write the changed files (or remove the gone ones) into every running container. */
  private async sync(service: string, rule: WatchRule, files: string[]): Promise<{ containers: number; removed: number }> {
    const filter = changeFilter(this.project.services[service]!, rule);
    const writes: { source: string; target: string }[] = [];
    const removes: string[] = [];
    for (const f of files) {
      if (!existsOnHost(f)) removes.push(targetOf(rule, f));
      // A directory brings what it holds that the rule lets through (not its ignored files).
      else for (const source of filteredTree(f, filter)) writes.push({ source, target: targetOf(rule, source) });
    }
    const containers = this.running(service);
    for (const c of containers) {
      const root = containerRoot(c.State.Pid);
      if (removes.length) await syncRemove(root, removes);
      if (writes.length) await syncWrite(root, writes, hostOwner(this.engine, c, ownerOf(c, root)));
    }
    return { containers: containers.length, removed: removes.length };
  }

  /** Everything under the rules, into one container (or all of the service's): after a start, and for initial_sync. */
  private async syncAll(service: string, rules: WatchRule[], why: string, only?: string) {
    const t0 = performance.now();
    const containers = this.running(service).filter((c) => !only || c.Id === only);
    for (const rule of rules) {
      if (!existsOnHost(rule.path)) continue;
      const filter = changeFilter(this.project.services[service]!, rule);
      const writes = filteredTree(rule.path, filter).map((source) => ({ source, target: targetOf(rule, source) }));
      for (const c of containers) {
        const root = containerRoot(c.State.Pid);
        await syncWrite(root, writes, hostOwner(this.engine, c, ownerOf(c, root)));
      }
    }
    if (containers.length) this.note(service, `${why}: ${rules.map((r) => `${relative(this.project.workingDir, r.path) || r.path} -> ${r.target}`).join(", ")} in ${ms(t0)}`);
  }

  /** A container of the service started (a restart, a recreate, a crash restarted by its policy): give it the files again. */
  private async resync(service: string, id: string) {
    const rules = this.project.services[service]?.develop?.watch.filter((r) => r.action.startsWith("sync")) ?? [];
    if (rules.length) await this.syncAll(service, rules, `${this.engine.containers.get(id)?.Name.slice(1) ?? id.slice(0, 12)} started, re-synced`, id);
  }

  private exec(c: ContainerRecord, rule: WatchRule): Promise<number> {
    const e = rule.exec!;
    return this.backend.exec(c.Id, { command: e.command, user: e.user, workingDir: e.working_dir, privileged: e.privileged, env: Object.entries(e.environment).map(([k, v]) => `${k}=${v}`) });
  }

  /** rebuild: build the image, recreate the service through the reconciler, then restart what depends on it with restart: true. */
  private async rebuild(service: string, shown: string, since: number) {
    const s = this.project.services[service]!;
    if (!s.build) throw new Error(`${shown} changed: service ${service} has no build section to rebuild from`);
    const ctx: ApplyContext = { project: this.project, backend: this.backend, specs: {}, progress: this.progress };
    const ids = await ensureImages(this.backend, this.project, [service], { build: true, quiet: true }, ctx.progress);
    ctx.specs = specsOf(this.project, ids);
    const observed = await this.backend.containers(this.name);
    const plan = planUp(this.project, observed, { [service]: ctx.specs[service]!.hash }, { services: [service], noDeps: true });
    await applyPlan(ctx, plan);
    const dependants = Object.entries(this.project.services).filter(([, other]) => other.depends_on[service]?.restart);
    if (dependants.some(([, other]) => other.depends_on[service]!.condition === "service_healthy")) {
      for (const c of (await this.backend.containers(this.name)).filter((o) => o.service === service && !o.oneoff)) await waitHealthy(this.backend, c);
    }
    for (const [name] of dependants) for (const c of this.running(name)) await this.backend.restart(c.Id);
    this.note(service, `${shown} changed: rebuilt ${s.image} and recreated ${service} in ${ms(since)}`);
  }

  // -- the compose files --

  private watchComposeFiles() {
    const w = watch(this.project.files, { ignoreInitial: true, atomic: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    w.on("all", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.enqueue("", () => this.reconcile()), 50);
    });
    this.watchers.push(w);
  }

  /** The compose files changed: load them again, print the plan, apply what changed. */
  private async reconcile() {
    const t0 = performance.now();
    let next: Project;
    try {
      next = (await loadProject(this.load)).project;
    } catch (err) {
      this.note(undefined, `the compose file has an error, nothing changed: ${(err as Error).message}`, true);
      return;
    }
    const ctx: ApplyContext = { project: next, backend: this.backend, specs: {}, progress: this.progress };
    const services = Object.keys(next.services);
    ctx.specs = specsOf(next, await ensureImages(this.backend, next, services, {}, ctx.progress));
    const observed = await this.backend.containers(next.name);
    const plan = planUp(next, observed, Object.fromEntries(Object.entries(ctx.specs).map(([n, s]) => [n, s.hash])));
    const lines = planLines(plan).filter((l) => !l.startsWith("leave "));
    this.note(undefined, lines.length ? `the compose file changed: ${lines.join("; ")}` : "the compose file changed: nothing to do");
    await applyPlan(ctx, plan);
    const rulesChanged = watchShape(this.project) !== watchShape(next);
    this.project = next;
    if (rulesChanged) {
      await Promise.all(this.watchers.splice(0).map((w) => w.close()));
      await this.watchRules();
      this.watchComposeFiles();
    }
    if (lines.length) this.note(undefined, `reconciled in ${ms(t0)}`);
  }

  /** The service's running containers (one-offs left out). */
  private running(service: string): ContainerRecord[] {
    return this.engine.list().filter((c) => {
      const l = c.Config.Labels ?? {};
      return l[L.PROJECT] === this.name && l[L.SERVICE] === service && l[L.ONEOFF] !== "True" && c.State.Running && c.State.Pid > 0;
    });
  }
}

const ms = (since: number) => `${(performance.now() - since).toFixed(1)} ms`;

/** What the watchers are made from: each service's rules (and build context, for its .dockerignore). */
const watchShape = (p: Project) => JSON.stringify(Object.entries(p.services).map(([n, s]) => [n, s.develop, s.build?.context]));

/** Where a changed host file goes in the container. */
export function targetOf(rule: WatchRule, file: string): string {
  const rel = relative(rule.path, file);
  return rel === "" ? rule.target! : posix.join(rule.target!, rel.split("/").join("/"));
}

/**
 * The files (and symlinks) at or under `path` that `filter` lets through;
 * an ignored directory is not entered. Directories come along as the
 * parents of their files; an empty one is listed itself (syncWrite copies
 * a directory whole, so a non-empty one never is: its ignored files stay out).
 */
function filteredTree(path: string, filter: (path: string, dir?: boolean) => boolean): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return; // gone meanwhile
    }
    if (!st.isDirectory()) {
      if (filter(p)) out.push(p);
      return;
    }
    if (!filter(p, true)) return;
    const names = readdirSync(p);
    if (!names.length) out.push(p);
    for (const name of names) walk(`${p}/${name}`);
  };
  walk(path);
  return out;
}

/** `path`, or its nearest parent that exists. */
function nearestExisting(path: string): string {
  let p = path;
  while (p !== "/" && !existsOnHost(p)) p = posix.dirname(p);
  return p;
}

function isDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

function existsOnHost(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Which changes under a rule count: not its `ignore` patterns, one of its
 * `include` patterns when it has some, and not what the build context's
 * .dockerignore leaves out (for a path inside the context). `dir` asks
 * whether a directory may hold something that counts (to skip watching it).
 */
export function changeFilter(service: Service, rule: WatchRule): (path: string, dir?: boolean) => boolean {
  const ignore = parseDockerignore(rule.ignore.join("\n"));
  const include = rule.include.length ? parseDockerignore(rule.include.join("\n")) : undefined;
  const context = service.build?.context;
  let contextRules: IgnoreRules | undefined;
  if (context && existsSync(`${context}/.dockerignore`)) contextRules = parseDockerignore(readFileSync(`${context}/.dockerignore`, "utf8"));
  return (path, dir = false) => {
    const rel = relative(rule.path, path);
    if (rel.startsWith("..")) return false;
    if (rel !== "" && isIgnored(ignore, rel)) return false;
    if (contextRules && context && !relative(context, path).startsWith("..") && relative(context, path) !== "" && isIgnored(contextRules, relative(context, path))) return false;
    // A directory is kept for its content; include patterns judge files.
    if (include && rel !== "" && !dir && !isIgnored(include, rel)) {
      try {
        if (lstatSync(path).isDirectory()) return true;
      } catch {
        // gone: judge it by its name
      }
      return false;
    }
    return true;
  };
}

/** A remapped container's ids as the host stores them (--userns-remap). */
function hostOwner(engine: Engine, c: ContainerRecord, o: { uid: number; gid: number }): { uid: number; gid: number } {
  const ids = containerIds(engine, c);
  if (!ids) return o;
  const [uid, gid] = ids.toHost(o.uid, o.gid);
  return { uid, gid };
}

/** The owner of what is synced: the container's user (names from its own /etc/passwd), else root. */
function ownerOf(c: ContainerRecord, root: string): { uid: number; gid: number } {
  const spec = c.Config.User ?? "";
  if (!spec) return { uid: 0, gid: 0 };
  const [user = "", group] = spec.split(":", 2);
  const file = (f: string) => {
    try {
      return readFileSync(resolveInRoot(root, f), "utf8").split("\n").map((l) => l.split(":"));
    } catch {
      return [];
    }
  };
  const entry = /^\d+$/.test(user) ? file("/etc/passwd").find((l) => l[2] === user) : file("/etc/passwd").find((l) => l[0] === user);
  const uid = /^\d+$/.test(user) ? Number(user) : Number(entry?.[2] ?? 0);
  const gid = group ? (/^\d+$/.test(group) ? Number(group) : Number(file("/etc/group").find((l) => l[0] === group)?.[2] ?? 0)) : Number(entry?.[3] ?? 0);
  return { uid, gid };
}
