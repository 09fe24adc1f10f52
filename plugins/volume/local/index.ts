import type { Plugin } from "../../../core/registry.ts";

export const plugin: Plugin<"volume"> = {
  kind: "volume",
  name: "local",
  description: "a directory per volume, or a filesystem mounted there (type, device, o), as Docker's local driver",
  requires: [],
  probe() {
    return { ok: true };
  },
  async init(ctx) {
    const { LocalVolumeDriver } = await import("./local.ts");
    const { libcSys } = await import("../../../core/sys/libc.ts");
    return new LocalVolumeDriver(`${ctx.root}/volumes`, libcSys);
  },
};
