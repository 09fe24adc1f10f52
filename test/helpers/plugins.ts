// A plugin initialised the way the engine does it, through the registry.
import { probeHost } from "../../core/host.ts";
import { Registry, type Contracts, type PluginKind } from "../../core/registry.ts";
import { PLUGIN_PREFERENCE } from "../../core/engine/engine.ts";
import { PLUGINS } from "../../plugins/index.ts";

export function pluginInstance<K extends PluginKind>(kind: K, name: string, root: string, options: Record<string, string> = {}): Promise<Contracts[K]> {
  const registry = new Registry(probeHost(), PLUGIN_PREFERENCE, { root, options });
  for (const p of PLUGINS) registry.register(p);
  return registry.get(kind, name);
}
