// `--network container:<name|id>`: the container joins another running
// container's network namespace and shares its /etc/hosts, /etc/resolv.conf
// and hostname. The engine finds the namespace; nothing to set up here.
import type { NetworkDriver } from "../../../core/contracts/network.ts";
import type { Plugin } from "../../../core/registry.ts";

const shared: NetworkDriver = {
  namespace: "shared",
  async attach() {
    return { hostsEntries: [], useHostFiles: false };
  },
  async detach() {},
};

export const plugin: Plugin<"network"> = {
  kind: "network",
  name: "container",
  description: "another container's network namespace (container:<name|id>)",
  requires: [],
  probe: () => ({ ok: true }),
  init: () => shared,
};
