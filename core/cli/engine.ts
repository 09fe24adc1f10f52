// Opening the engine with the global flags; commands call this.
import { Engine } from "../engine/engine.ts";
import { PLUGINS } from "../../plugins/index.ts";
import type { ParsedFlags } from "./args.ts";

export function openEngine(global: ParsedFlags): Engine {
  return Engine.open({
    root: global.string("root")!,
    plugins: PLUGINS,
    storageDriver: global.string("storage-driver"),
    cgroupDriver: global.string("cgroup-driver"),
    cgroupParent: global.string("cgroup-parent"),
  });
}
