// `--network host`: the container shares the host's network namespace,
// its /etc/hosts and its /etc/resolv.conf.
import type { NetworkDriver } from "../../../core/contracts/network.ts";
import type { Plugin } from "../../../core/registry.ts";

const host: NetworkDriver = {
  namespace: "host",
  async attach() {
    return { hostsEntries: [], useHostFiles: true };
  },
  async detach() {},
};

export const plugin: Plugin<"network"> = {
  kind: "network",
  name: "host",
  description: "the host's network stack, unisolated",
  requires: [],
  probe: () => ({ ok: true }),
  init: () => host,
};
