// The IPv4 subnets the host already uses (its routes in every table, and its
// addresses), which a new network's subnet must not overlap.
import { Netlink } from "../sys/netlink.ts";

export function hostSubnets(): string[] {
  const nl = Netlink.open();
  try {
    const routes = nl.routes().filter((r) => r.prefix > 0).map((r) => `${r.dst}/${r.prefix}`);
    return [...routes, ...nl.addresses().map((a) => a.cidr)];
  } finally {
    nl.close();
  }
}
