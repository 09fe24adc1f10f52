import type { Plugin } from "../../../core/registry.ts";
import { parseParent } from "../shared.ts";
import { CgroupV1, probeV1 } from "./cgroup-v1.ts";

export const plugin: Plugin<"limits"> = {
  kind: "limits",
  name: "cgroup-v1",
  description: "cgroup v1: memory, cpu, cpuset, pids, blkio, freezer and devices hierarchies",
  requires: [],
  probe: probeV1,
  init(ctx) {
    return new CgroupV1(ctx.host, parseParent(ctx.options["cgroup-parent"]));
  },
};
