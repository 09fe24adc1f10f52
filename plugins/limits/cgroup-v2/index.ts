import type { Plugin } from "../../../core/registry.ts";
import { parseParent } from "../shared.ts";
import { CgroupV2, probeV2 } from "./cgroup-v2.ts";

export const plugin: Plugin<"limits"> = {
  kind: "limits",
  name: "cgroup-v2",
  description: "cgroup v2: one unified hierarchy with the memory, cpu, cpuset, io and pids controllers",
  requires: [],
  probe: probeV2,
  init(ctx) {
    return new CgroupV2(ctx.host, parseParent(ctx.options["cgroup-parent"]));
  },
};
