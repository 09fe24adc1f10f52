// The engine: berth's state under a root directory, the plugins chosen by
// name, and the operations every frontend (API server, CLI, compose) calls.
// Long-lived in berthd: container records are kept in memory and written
// through to SQLite; a container's live handles (its monitor, waiters,
// attach clients, timers) live in `runtime`.
import { existsSync, mkdirSync } from "node:fs";
import type { AttachStream, AttachStreams, Supervised } from "../contracts/isolation.ts";
import type { StorageDriver } from "../contracts/storage.ts";
import { conflict, notFound } from "../errors.ts";
import { probeHost, type HostInfo } from "../host.ts";
import { ContentStore } from "../images/blobs.ts";
import { ImageStore } from "../images/store.ts";
import { Registry, type Contracts, type Plugin, type PluginKind } from "../registry.ts";
import { StateDB } from "../state/db.ts";
import { Discovery } from "./discovery.ts";
import { EventLog, type EventType } from "./events.ts";
import type { ContainerRecord, ExecRecord } from "./types.ts";
import { defaultExecRoot } from "../location.ts";
import { trace } from "../trace.ts";
import { byteOrder } from "../compare.ts";
import { visible } from "../owner.ts";

export interface EngineOptions {
  /** State, layers and containers live here (default /var/lib/berth). */
  root: string;
  /** Monitors' sockets and exit records (default /run/berth for the default root). */
  execRoot?: string;
  plugins: Plugin[];
  /** Storage driver by name; default: the first of overlay, vfs that works here. */
  storageDriver?: string;
  /** cgroup driver by name; default: cgroup-v2 on a pure v2 host, else cgroup-v1, else none. */
  cgroupDriver?: string;
  /** Parent cgroup of containers (default "berth"). */
  cgroupParent?: string;
  /** The API socket the daemon serves (for `info`). */
  socket?: string;
  /** Registries reached over plain HTTP (host:port); localhost always is. */
  insecureRegistries?: string[];
  /** Mirrors of Docker Hub, tried in order before it. */
  registryMirrors?: string[];
  /** --userns-remap: containers run in user namespaces with these ids (see core/userns/remap.ts). */
  userns?: import("../userns/remap.ts").Remap;
}

/** Per kind, the names tried in order when none is given. */
export const PLUGIN_PREFERENCE: Record<PluginKind, string[]> = {
  isolation: ["namespaces"],
  limits: ["cgroup-v2", "cgroup-v1", "none"],
  storage: ["overlay", "vfs"],
  network: ["bridge", "none"],
  volume: ["local"],
};

export type WaitCondition = "not-running" | "next-exit" | "removed";
export interface WaitResult {
  StatusCode: number;
  Error: { Message: string } | null;
}

/** What the engine holds for a container beyond its record. */
export interface Runtime {
  /** Tail of the chain of lifecycle operations: one at a time per container. */
  queue: Promise<unknown>;
  proc?: Supervised;
  /** Attach requests made before the container started. */
  pendingAttach: { streams: AttachStreams; resolve: (s: AttachStream) => void; reject: (e: unknown) => void }[];
  waiters: { condition: WaitCondition; resolve: (r: WaitResult) => void }[];
  restartTimer?: ReturnType<typeof setTimeout>;
  healthTimer?: ReturnType<typeof setTimeout>;
  /** Delay before the next restart by policy (ms), doubled each time. */
  restartDelay: number;
  /** Settles once the current run's exit has been recorded and its resources released. */
  finished?: Promise<void>;
  /** Exec sessions and health checks in flight: each settles once its process ended and its files are gone. */
  execs: Set<Promise<void>>;
  /** rm is under way: nothing may start the container again. */
  removing?: boolean;
}

export interface ExecSession {
  record: ExecRecord;
  proc?: Supervised;
  process: import("../contracts/isolation.ts").ProcessSpec;
  exited?: Promise<void>;
}

export class Engine {
  readonly db: StateDB;
  readonly blobs: ContentStore;
  readonly events: EventLog;
  readonly containers = new Map<string, ContainerRecord>();
  readonly runtime = new Map<string, Runtime>();
  readonly execs = new Map<string, ExecSession>();
  readonly discovery = new Discovery(this);
  private readonly byName = new Map<string, string>();
  private readonly listCache = new Map<string, string>();
  /** list()'s order, until a container comes or goes (creation times never change). */
  private newestFirst?: ContainerRecord[];
  private imageStore?: Promise<ImageStore>;

  private constructor(
    readonly root: string,
    readonly execRoot: string,
    readonly host: HostInfo,
    readonly registry: Registry,
    readonly options: EngineOptions,
  ) {
    this.db = new StateDB(`${root}/state.db`);
    this.blobs = new ContentStore(`${root}/blobs`);
    this.events = new EventLog(this.db);
    for (const c of this.db.listContainers()) {
      c.NetworkSettings ??= { Networks: {}, Ports: {} }; // records from before networks existed
      this.track(c);
    }
  }

  static open(options: EngineOptions): Engine {
    const root = options.root.replace(/\/+$/, "");
    const execRoot = options.execRoot ?? defaultExecRoot(root);
    for (const d of [`${root}/containers`, `${root}/netns`, `${root}/volumes`]) mkdirSync(d, { recursive: true, mode: 0o710 });
    mkdirSync(`${execRoot}/c`, { recursive: true, mode: 0o700 });
    mkdirSync(`${execRoot}/e`, { recursive: true, mode: 0o700 });
    const host = probeHost();
    const registry = new Registry(host, PLUGIN_PREFERENCE, {
      root,
      options: { "cgroup-parent": options.cgroupParent ?? "berth" },
    });
    for (const p of options.plugins) registry.register(p);
    return new Engine(root, execRoot, host, registry, options);
  }

  close() {
    this.db.close();
  }

  // ------------------------------------------------------------ plugins

  /** The plugin of `kind` named `name`, or the engine's choice for that kind. */
  plugin<K extends PluginKind>(kind: K, name?: string): Promise<Contracts[K]> {
    return this.registry.get(kind, name ?? this.configured(kind));
  }

  /** The plugin name in use for `kind`: the configured one, or the default. */
  pluginName(kind: PluginKind): string | undefined {
    return this.configured(kind) ?? this.registry.defaultName(kind);
  }

  private configured(kind: PluginKind): string | undefined {
    if (kind === "storage") return this.options.storageDriver;
    if (kind === "limits") return this.options.cgroupDriver;
    return undefined;
  }

  storage(name?: string): Promise<StorageDriver> {
    return this.plugin("storage", name);
  }

  /** How this engine reaches registries. */
  registryOptions() {
    return { insecure: this.options.insecureRegistries ?? [], mirrors: this.options.registryMirrors ?? [], userAgent: "berth/0.1 (linux)" };
  }

  images(): Promise<ImageStore> {
    this.imageStore ??= this.storage().then((driver) => new ImageStore(this.db, this.blobs, driver, () => this.otherStorage()));
    return this.imageStore;
  }

  /**
   * The storage drivers other than the daemon's that hold data under this
   * root (each keeps its layers in layers/<name>, see plugins/storage): what
   * a daemon that ran with another --storage-driver left. Its containers keep
   * using it; a driver that cannot run here any more is left alone.
   */
  async otherStorage(): Promise<StorageDriver[]> {
    const current = this.pluginName("storage");
    const names = this.registry
      .status("storage")
      .filter((p) => p.name !== current && p.available && existsSync(`${this.root}/layers/${p.name}`))
      .map((p) => p.name);
    return Promise.all(names.map((n) => this.storage(n)));
  }

  // ------------------------------------------------------------ operations

  async create(req: import("./types.ts").CreateRequest, name?: string) {
    const { createContainer } = await import("./create.ts");
    return createContainer(this, req, name);
  }

  /** Start a container (one lifecycle operation at a time per container). */
  async start(ref: string) {
    const rec = this.container(ref);
    const { startContainer } = await import("./start.ts");
    trace("start: queued");
    if (this.rt(rec.Id).removing) throw conflict(`removal of container ${rec.Id.slice(0, 12)} is already in progress`);
    await this.serialize(rec.Id, async () => {
      trace("start: begins");
      rec.ManuallyStopped = false;
      await startContainer(this, rec);
    });
  }

  async remove(ref: string, opts: { force: boolean; volumes?: boolean }) {
    const { removeContainer } = await import("./remove.ts");
    return removeContainer(this, this.container(ref), opts);
  }

  // ------------------------------------------------------------ containers

  /** A container by full ID, name, or unique ID prefix; another user's is absent under --owner-scope. */
  container(ref: string): ContainerRecord {
    const mine = (rec: ContainerRecord | undefined) => (rec && visible(rec.Owner) ? rec : undefined);
    const byId = mine(this.containers.get(ref));
    if (byId) return byId;
    const named = mine(this.containers.get(this.byName.get(ref.startsWith("/") ? ref : `/${ref}`) ?? ""));
    if (named) return named;
    if (/^[a-f0-9]+$/.test(ref)) {
      const found = [...this.containers.keys()].filter((id) => id.startsWith(ref) && mine(this.containers.get(id)));
      if (found.length === 1) return this.containers.get(found[0]!)!;
      if (found.length > 1) throw conflict(`multiple IDs found with provided prefix: ${ref}`);
    }
    throw notFound(`No such container: ${ref}`);
  }

  /** Every container, newest first (a copy: callers may filter and slice it). */
  list(): ContainerRecord[] {
    this.newestFirst ??= [...this.containers.values()].sort((a, b) => byteOrder(b.Created, a.Created));
    return [...this.newestFirst];
  }

  /** Start tracking a new record: insert it (its name must be free) and index it. */
  insert(rec: ContainerRecord) {
    const other = this.byName.get(rec.Name);
    if (other) throw nameConflict(rec.Name, other);
    this.db.insertContainer(rec);
    this.track(rec);
  }

  /** Write a record's changes through to the database. */
  save(rec: ContainerRecord) {
    this.listCache.delete(rec.Id);
    if (this.containers.get(rec.Id) === rec) this.db.saveContainer(rec);
  }

  /**
   * What a list entry of `rec` would be, as JSON, from a cache that save()
   * clears: `ps` with 1,000 containers serializes only what changed.
   */
  cachedJson(rec: ContainerRecord, make: (rec: ContainerRecord) => unknown): string {
    let json = this.listCache.get(rec.Id);
    if (json === undefined) this.listCache.set(rec.Id, (json = JSON.stringify(make(rec))));
    return json;
  }

  rename(rec: ContainerRecord, name: string) {
    const other = this.byName.get(name);
    if (other && other !== rec.Id) throw nameConflict(name, other);
    this.byName.delete(rec.Name);
    this.listCache.delete(rec.Id);
    rec.Name = name;
    this.byName.set(name, rec.Id);
    this.save(rec);
  }

  forget(id: string) {
    const rec = this.containers.get(id);
    if (rec) this.byName.delete(rec.Name);
    this.listCache.delete(id);
    this.newestFirst = undefined;
    this.containers.delete(id);
    this.db.deleteContainer(id);
  }

  nameTaken(name: string): boolean {
    return this.byName.has(name);
  }

  private track(rec: ContainerRecord) {
    this.newestFirst = undefined;
    this.containers.set(rec.Id, rec);
    this.byName.set(rec.Name, rec.Id);
  }

  /** The live handles of a container, created on first use. */
  rt(id: string): Runtime {
    let r = this.runtime.get(id);
    if (!r) {
      r = { queue: Promise.resolve(), pendingAttach: [], waiters: [], restartDelay: 100, execs: new Set() };
      this.runtime.set(id, r);
    }
    return r;
  }

  /** Track an exec (or health check) of container `id` until `done` settles. */
  trackExec(id: string, done: Promise<void>) {
    const execs = this.rt(id).execs;
    const tracked = done.catch(() => {}).finally(() => execs.delete(tracked));
    execs.add(tracked);
  }

  /** Run `op` after every earlier lifecycle operation of the same container. */
  serialize<T>(id: string, op: () => Promise<T>): Promise<T> {
    const r = this.rt(id);
    const next = r.queue.then(op, op);
    r.queue = next.catch(() => {});
    return next;
  }

  emit(type: EventType, action: string, id: string, attributes: Record<string, string> = {}) {
    return this.events.emit(type, action, id, attributes);
  }

  /** Event attributes of a container: name, image and its labels, as Docker sends them. */
  containerAttributes(rec: ContainerRecord, extra: Record<string, string> = {}): Record<string, string> {
    return { ...(rec.Config.Labels ?? {}), image: rec.Config.Image ?? rec.Image, name: rec.Name.replace(/^\//, ""), ...extra };
  }

  containerDir(id: string) {
    return `${this.root}/containers/${id}`;
  }

  netnsPath(id: string) {
    return `${this.root}/netns/${id}`;
  }

  /** The monitor's directory of a container (kept short: it holds unix sockets). */
  monitorDir(id: string) {
    return `${this.execRoot}/c/${id}`;
  }

  execDir(execId: string) {
    return `${this.execRoot}/e/${execId}`;
  }
}

export function nameConflict(name: string, otherId: string) {
  return conflict(
    `Conflict. The container name "${name}" is already in use by container "${otherId}". You have to remove (or rename) that container to be able to reuse that name.`,
  );
}

export { DEFAULT_ROOT, defaultExecRoot, defaultSocket } from "../location.ts";
