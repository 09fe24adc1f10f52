import { accessSync, constants } from "node:fs";
import type { Plugin } from "../../../core/registry.ts";

/** nft from Debian's nftables, on the usual paths. */
function findNft(): string | undefined {
  for (const p of ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export const plugin: Plugin<"network"> = {
  kind: "network",
  name: "bridge",
  description: "a Linux bridge per network, veth pairs, NAT and published ports (nftables), embedded DNS",
  requires: [],
  probe() {
    if (process.getuid?.() !== 0) return { ok: false, reason: "needs root (CAP_NET_ADMIN) to make bridges and firewall rules" };
    if (!findNft()) return { ok: false, reason: "nft not found: install Debian's nftables (apt-get install nftables)" };
    try {
      accessSync("/proc/sys/net/ipv4/ip_forward", constants.W_OK);
    } catch {
      return { ok: false, reason: "/proc/sys/net/ipv4/ip_forward is not writable (a read-only /proc/sys?)" };
    }
    return { ok: true };
  },
  async init(ctx) {
    const { BridgeDriver } = await import("./bridge.ts");
    const { Firewall } = await import("./firewall.ts");
    const { rootNames } = await import("./names.ts");
    const { table, defaultBridge } = rootNames(ctx.root);
    return new BridgeDriver(new Firewall(table), defaultBridge);
  },
};
