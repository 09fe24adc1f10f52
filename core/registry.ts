// The plugin registry. A plugin is data: {kind, name, requires, probe, init}.
// The registry rejects duplicates and unknown requirements, initialises a
// plugin's requirements first, and reports why a plugin cannot run here
// instead of failing the engine.
import { BerthError, conflict, failedPrecondition, invalidArgument, notFound } from "./errors.ts";
import type { HostInfo } from "./host.ts";
import type { Isolation } from "./contracts/isolation.ts";
import type { Limits } from "./contracts/limits.ts";
import type { NetworkDriver } from "./contracts/network.ts";
import type { StorageDriver } from "./contracts/storage.ts";
import type { VolumeDriver } from "./contracts/volume.ts";

/** The contract each kind of plugin implements. */
export interface Contracts {
  isolation: Isolation;
  limits: Limits;
  storage: StorageDriver;
  network: NetworkDriver;
  volume: VolumeDriver;
}
export type PluginKind = keyof Contracts;
export const PLUGIN_KINDS: PluginKind[] = ["isolation", "limits", "storage", "network", "volume"];

export type ProbeResult = { ok: true } | { ok: false; reason: string };

export interface PluginContext {
  /** The engine's root directory (state, layers, containers). */
  root: string;
  host: HostInfo;
  /** Engine options, e.g. {"cgroup-parent": "berth"}. */
  options: Record<string, string>;
  /** An initialised plugin this one declared in `requires`. */
  get<K extends PluginKind>(kind: K, name: string): Promise<Contracts[K]>;
}

export interface Plugin<K extends PluginKind = PluginKind> {
  kind: K;
  name: string;
  description: string;
  /** Other plugins, as "kind/name", that must be initialised first. */
  requires: string[];
  /** Can this plugin run on this host? Cheap: reads files, spawns nothing. */
  probe(host: HostInfo): ProbeResult;
  init(ctx: PluginContext): Contracts[K] | Promise<Contracts[K]>;
}

export interface PluginStatus {
  kind: PluginKind;
  name: string;
  description: string;
  available: boolean;
  reason?: string;
  /** Chosen when no name is given (first available in the kind's preference order). */
  isDefault: boolean;
}

const NAME = /^[a-z][a-z0-9-]*$/;

export class Registry {
  private readonly plugins = new Map<string, Plugin>();
  private readonly instances = new Map<string, Promise<unknown>>();

  /**
   * @param preference per kind, the names in the order a default is chosen:
   *   the first whose probe succeeds on this host.
   */
  constructor(
    private readonly host: HostInfo,
    private readonly preference: Record<PluginKind, string[]>,
    private readonly ctx: Omit<PluginContext, "get" | "host">,
  ) {}

  register<K extends PluginKind>(plugin: Plugin<K>): void {
    if (!PLUGIN_KINDS.includes(plugin.kind)) throw invalidArgument(`plugin ${plugin.name}: unknown kind "${plugin.kind}"`);
    if (!NAME.test(plugin.name)) throw invalidArgument(`plugin name "${plugin.name}" must be lower-case letters, digits and dashes`);
    const key = `${plugin.kind}/${plugin.name}`;
    if (this.plugins.has(key)) throw conflict(`plugin ${key} is registered twice`);
    for (const req of plugin.requires) {
      if (!/^[a-z]+\/[a-z0-9-]+$/.test(req)) throw invalidArgument(`plugin ${key}: requirement "${req}" is not "kind/name"`);
    }
    this.plugins.set(key, plugin as unknown as Plugin);
  }

  /** Every registered plugin of `kind` (or all), with whether it can run here and why not. */
  status(kind?: PluginKind): PluginStatus[] {
    const out: PluginStatus[] = [];
    for (const k of kind ? [kind] : PLUGIN_KINDS) {
      const def = this.defaultName(k);
      for (const p of this.ofKind(k)) {
        const probe = this.probe(p);
        out.push({
          kind: k,
          name: p.name,
          description: p.description,
          available: probe.ok,
          reason: probe.ok ? undefined : probe.reason,
          isDefault: p.name === def,
        });
      }
    }
    return out;
  }

  /** The default plugin of a kind: the first in preference order that can run here. */
  defaultName(kind: PluginKind): string | undefined {
    const names = [...this.preference[kind], ...this.ofKind(kind).map((p) => p.name)];
    return names.find((n) => {
      const p = this.plugins.get(`${kind}/${n}`);
      return p !== undefined && this.probe(p).ok;
    });
  }

  /** The initialised plugin `kind/name` (or the kind's default); initialised once. */
  get<K extends PluginKind>(kind: K, name?: string): Promise<Contracts[K]> {
    return this.resolve(kind, name ?? this.defaultName(kind), []);
  }

  private resolve<K extends PluginKind>(kind: K, name: string | undefined, chain: string[]): Promise<Contracts[K]> {
    if (!name) {
      return Promise.reject(failedPrecondition(`no ${kind} plugin can run on this host`, "run `berth info` to see why each one is unavailable"));
    }
    const key = `${kind}/${name}`;
    const plugin = this.plugins.get(key) as Plugin<K> | undefined;
    if (!plugin) {
      const known = this.ofKind(kind).map((p) => p.name).join(", ");
      return Promise.reject(notFound(`unknown ${kind} plugin "${name}"`, `choose one of: ${known}`));
    }
    if (chain.includes(key)) return Promise.reject(invalidArgument(`plugin requirements form a cycle: ${[...chain, key].join(" -> ")}`));
    let instance = this.instances.get(key) as Promise<Contracts[K]> | undefined;
    if (!instance) {
      const probe = this.probe(plugin);
      if (!probe.ok) {
        return Promise.reject(failedPrecondition(`${kind} plugin "${name}" cannot run on this host: ${probe.reason}`));
      }
      instance = (async () => {
        for (const req of plugin.requires) {
          const [k, n] = req.split("/") as [PluginKind, string];
          await this.resolve(k, n, [...chain, key]);
        }
        return plugin.init({
          ...this.ctx,
          host: this.host,
          get: (k, n) => this.resolve(k, n, [...chain, key]),
        });
      })();
      instance.catch(() => this.instances.delete(key));
      this.instances.set(key, instance);
    }
    return instance;
  }

  private ofKind(kind: PluginKind): Plugin[] {
    return [...this.plugins.values()].filter((p) => p.kind === kind);
  }

  private probe(p: Plugin): ProbeResult {
    try {
      return p.probe(this.host);
    } catch (err) {
      return { ok: false, reason: err instanceof BerthError ? err.message : String(err) };
    }
  }
}
