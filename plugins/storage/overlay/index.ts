import type { Plugin } from "../../../core/registry.ts";

export const plugin: Plugin<"storage"> = {
  kind: "storage",
  name: "overlay",
  description: "kernel overlayfs: layers shared, copy-on-write per container",
  requires: [],
  probe(host) {
    if (!host.filesystems.has("overlay")) return { ok: false, reason: "the kernel has no overlay filesystem (modprobe overlay)" };
    return { ok: true };
  },
  async init(ctx) {
    const { OverlayDriver } = await import("./overlay.ts");
    const { libcSys } = await import("../../../core/sys/libc.ts");
    return new OverlayDriver(`${ctx.root}/layers/overlay`, libcSys);
  },
};
