import type { Plugin } from "../../../core/registry.ts";
import { NoneLimits } from "./none.ts";

export const plugin: Plugin<"limits"> = {
  kind: "limits",
  name: "none",
  description: "no control groups (hosts without them): limits are discarded with a warning, pause stops processes with SIGSTOP",
  requires: [],
  probe: () => ({ ok: true }),
  init(ctx) {
    return new NoneLimits(`${ctx.root}/limits-none`);
  },
};
