import type { Plugin } from "../../../core/registry.ts";

export const plugin: Plugin<"storage"> = {
  kind: "storage",
  name: "vfs",
  description: "full copies: no kernel support needed, slow and large",
  requires: [],
  probe() {
    return { ok: true };
  },
  async init(ctx) {
    const { VfsDriver } = await import("./vfs.ts");
    const { libcSys } = await import("../../../core/sys/libc.ts");
    return new VfsDriver(`${ctx.root}/layers/vfs`, libcSys);
  },
};
