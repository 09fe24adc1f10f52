import type { Plugin } from "../../../core/registry.ts";

export const plugin: Plugin<"isolation"> = {
  kind: "isolation",
  name: "namespaces",
  description: "Linux pid, mount, uts, ipc, net and cgroup namespaces with pivot_root",
  requires: [],
  probe() {
    if (!Bun.which("setsid")) return { ok: false, reason: "`setsid` is not installed (apt-get install util-linux)" };
    if (!Bun.which("busybox")) return { ok: false, reason: "`busybox` is not installed (apt-get install busybox-static)" };
    return { ok: true };
  },
  async init(ctx) {
    const { NamespacesIsolation } = await import("./namespaces.ts");
    return new NamespacesIsolation(process.execPath, ctx.host.capLastCap);
  },
};
