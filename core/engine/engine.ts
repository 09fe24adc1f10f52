// The engine: opens berth's state under a root directory, picks plugins
// by name from the registry, and offers the container and image
// operations that every frontend (CLI, API server, compose) calls.
import { mkdirSync } from "node:fs";
import type { StdioSpec } from "../contracts/isolation.ts";
import type { StorageDriver } from "../contracts/storage.ts";
import { conflict, notFound } from "../errors.ts";
import { probeHost, type HostInfo } from "../host.ts";
import { ContentStore } from "../images/blobs.ts";
import { ImageStore } from "../images/store.ts";
import { Registry, type Contracts, type Plugin, type PluginKind } from "../registry.ts";
import { StateDB } from "../state/db.ts";
import { isSameProcess } from "../proc.ts";
import type { ContainerRecord, CreateRequest } from "./types.ts";

export interface EngineOptions {
  /** State, layers and containers live here (default /var/lib/berth). */
  root: string;
  plugins: Plugin[];
  /** Storage driver by name; default: the first of overlay, vfs that works here. */
  storageDriver?: string;
  /** cgroup driver by name; default: cgroup-v2 on a pure v2 host, else cgroup-v1. */
  cgroupDriver?: string;
  /** Parent cgroup of containers (default "berth"). */
  cgroupParent?: string;
}

/** Per kind, the names tried in order when none is given. */
export const PLUGIN_PREFERENCE: Record<PluginKind, string[]> = {
  isolation: ["namespaces"],
  limits: ["cgroup-v2", "cgroup-v1"],
  storage: ["overlay", "vfs"],
  network: ["none"],
  volume: ["local"],
};

export class Engine {
  readonly db: StateDB;
  readonly blobs: ContentStore;
  private imageStore?: Promise<ImageStore>;

  private constructor(
    readonly root: string,
    readonly host: HostInfo,
    readonly registry: Registry,
    readonly options: EngineOptions,
  ) {
    this.db = new StateDB(`${root}/state.db`);
    this.blobs = new ContentStore(`${root}/blobs`);
  }

  static open(options: EngineOptions): Engine {
    const root = options.root.replace(/\/+$/, "");
    mkdirSync(`${root}/containers`, { recursive: true, mode: 0o710 });
    mkdirSync(`${root}/netns`, { recursive: true, mode: 0o755 });
    const host = probeHost();
    const registry = new Registry(host, PLUGIN_PREFERENCE, {
      root,
      options: { "cgroup-parent": options.cgroupParent ?? "berth" },
    });
    for (const p of options.plugins) registry.register(p);
    return new Engine(root, host, registry, options);
  }

  close() {
    this.db.close();
  }

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

  images(): Promise<ImageStore> {
    this.imageStore ??= this.storage().then((driver) => new ImageStore(this.db, this.blobs, driver));
    return this.imageStore;
  }

  /** A container by full ID, name, or unique ID prefix. */
  container(ref: string): ContainerRecord {
    const byId = /^[a-f0-9]{64}$/.test(ref) ? this.db.getContainer(ref) : undefined;
    if (byId) return byId;
    const byName = this.db.getContainerByName(ref);
    if (byName) return byName;
    if (/^[a-f0-9]+$/.test(ref)) {
      const found = this.db.findContainers(ref);
      if (found.length === 1) return found[0]!;
      if (found.length > 1) throw conflict(`multiple IDs found with provided prefix: ${ref}`);
    }
    throw notFound(`No such container: ${ref}`);
  }

  /**
   * Every container, newest first. A container recorded as running whose
   * process has ended while no berth process watched it is finished here.
   */
  async list(): Promise<ContainerRecord[]> {
    const all = this.db.listContainers();
    for (const rec of all) {
      if (rec.State.Running && !isSameProcess(rec.State.Pid, rec.PidStartTime)) {
        await this.finish(rec.Id, { code: 255, error: "the container's process ended while no berth process was watching it" });
        Object.assign(rec, this.db.getContainer(rec.Id));
      }
    }
    return all;
  }

  async create(req: CreateRequest, name?: string) {
    const { createContainer } = await import("./create.ts");
    return createContainer(this, req, name);
  }

  async start(ref: string, stdio: [StdioSpec, StdioSpec, StdioSpec]) {
    const { startContainer } = await import("./start.ts");
    return startContainer(this, this.container(ref), stdio);
  }

  /** Record a container's exit and release what it held. */
  async finish(id: string, status: import("../contracts/isolation.ts").ExitStatus) {
    const { finishContainer } = await import("./start.ts");
    return finishContainer(this, id, status);
  }

  async remove(ref: string, opts: { force: boolean }) {
    const { removeContainer } = await import("./remove.ts");
    return removeContainer(this, this.container(ref), opts);
  }

  containerDir(id: string) {
    return `${this.root}/containers/${id}`;
  }

  netnsPath(id: string) {
    return `${this.root}/netns/${id}`;
  }
}
