import { existsSync } from "node:fs";
import { MONITOR_BINARY } from "../../../core/location.ts";
import type { Plugin } from "../../../core/registry.ts";

export const plugin: Plugin<"isolation"> = {
  kind: "isolation",
  name: "namespaces",
  description: "Linux pid, mount, uts, ipc, net and cgroup namespaces with pivot_root",
  requires: [],
  probe() {
    if (!existsSync(MONITOR_BINARY)) return { ok: false, reason: `berth-monitor is not built (${MONITOR_BINARY}): run bin/build` };
    return { ok: true };
  },
  async init(ctx) {
    const { NamespacesIsolation } = await import("./namespaces.ts");
    const { readOnlyRuntime, releaseRuntime } = await import("./runtime.ts");
    const { libcSys } = await import("../../../core/sys/libc.ts");
    const dir = `${ctx.root}/runtime`;
    const isolation = new NamespacesIsolation(readOnlyRuntime(process.execPath, dir, libcSys), ctx.host.capLastCap);
    isolation.release = () => releaseRuntime(dir, libcSys);
    return isolation;
  },
};
