// The names of a berth root's host objects. Each root has its own nftables
// table and default bridge, so daemons of several roots can share a host.
import { DEFAULT_ROOT } from "../../../core/location.ts";

export function rootNames(root: string): { table: string; defaultBridge: string } {
  if (root === DEFAULT_ROOT) return { table: "berth", defaultBridge: "berth0" };
  const own = new Bun.CryptoHasher("sha256").update(root).digest("hex").slice(0, 8);
  return { table: `berth_${own}`, defaultBridge: `berth${own.slice(0, 6)}0` };
}

/** The host end of an endpoint's veth pair: "vb" + 8 of the container ID + 4 of the network's (15 at most). */
export const hostVeth = (containerId: string, networkId: string) => `vb${containerId.slice(0, 8)}${networkId.slice(0, 4)}`;
