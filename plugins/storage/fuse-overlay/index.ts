import { existsSync } from "node:fs";
import type { Plugin } from "../../../core/registry.ts";

const FUSE_OVERLAYFS = "/usr/bin/fuse-overlayfs";

export const plugin: Plugin<"storage"> = {
  kind: "storage",
  name: "fuse-overlay",
  description: "fuse-overlayfs: the overlay driver's layers, the union in user space",
  requires: [],
  probe() {
    if (!existsSync(FUSE_OVERLAYFS)) return { ok: false, reason: `${FUSE_OVERLAYFS} is missing (install Debian's fuse-overlayfs)` };
    if (!existsSync("/dev/fuse")) return { ok: false, reason: "/dev/fuse is missing (modprobe fuse; install Debian's fuse-overlayfs)" };
    return { ok: true };
  },
  async init(ctx) {
    const { FuseOverlayDriver } = await import("./fuse-overlay.ts");
    const { libcSys } = await import("../../../core/sys/libc.ts");
    return new FuseOverlayDriver(`${ctx.root}/layers/fuse-overlay`, libcSys);
  },
};
