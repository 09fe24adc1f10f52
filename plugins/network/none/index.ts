// `--network none`: a private network namespace with only loopback.
import type { NetworkDriver } from "../../../core/contracts/network.ts";
import type { Plugin } from "../../../core/registry.ts";

const none: NetworkDriver = {
  namespace: "private",
  async attach() {
    return { hostsEntries: [], useHostFiles: false };
  },
  async detach() {},
};

export const plugin: Plugin<"network"> = {
  kind: "network",
  name: "none",
  description: "no network: a private namespace with loopback only",
  requires: [],
  probe: () => ({ ok: true }),
  init: () => none,
};
