// The bridge driver: a Linux bridge per network with the gateway address on
// it, a veth pair per container endpoint (the container's end born in its
// namespace as eth0, eth1, ...), outbound NAT, isolation between networks
// and published ports in berth's nftables table (firewall.ts). Netlink does
// the links and addresses (microseconds, no `ip` processes).
import { closeSync, existsSync, openSync, writeFileSync } from "node:fs";
import type { Attachment, Endpoint, NetworkConfig, NetworkDriver } from "../../../core/contracts/network.ts";
import { isKind } from "../../../core/errors.ts";
import { inNetns, Netlink } from "../../../core/sys/netlink.ts";
import { Firewall, type FirewallNetwork, type PortRule } from "./firewall.ts";
import { hostVeth } from "./names.ts";

const VETH = /^vb[0-9a-f]{12}$/;

export class BridgeDriver implements NetworkDriver {
  readonly namespace = "private" as const;
  private readonly networks = new Map<string, NetworkConfig>();

  /** @param defaultBridge the bridge of the predefined "bridge" network (berth0 for the default root). */
  constructor(
    private readonly firewall: Firewall,
    private readonly defaultBridge: string,
  ) {}

  bridgeName(net: NetworkConfig): string {
    return net.options["com.docker.network.bridge.name"] ?? (net.options["com.docker.network.bridge.default_bridge"] === "true" ? this.defaultBridge : `br-${net.id.slice(0, 12)}`);
  }

  async createNetwork(net: NetworkConfig) {
    const br = this.bridgeName(net);
    const cidr = `${net.gateway}/${net.subnet!.split("/")[1]}`;
    const nl = Netlink.open();
    try {
      if (!nl.links().some((l) => l.name === br)) nl.addBridge(br, { mtu: net.mtu });
      if (!nl.addresses(br).some((a) => a.cidr === cidr)) nl.addAddress(br, cidr);
      nl.setUp(br);
    } finally {
      nl.close();
    }
    // Our own interface's settings: published ports answer on 127.0.0.1
    // (DNAT to the bridge needs route_localnet), and a host with
    // br_netfilter (as Docker loads it) must not run this bridge's frames
    // through the host's iptables, whose FORWARD policy may drop them.
    writeFileSync(`/proc/sys/net/ipv4/conf/${br}/route_localnet`, "1");
    if (existsSync(`/sys/class/net/${br}/bridge/nf_call_iptables`)) writeFileSync(`/sys/class/net/${br}/bridge/nf_call_iptables`, "0");
    if (!net.internal) writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");
    this.networks.set(net.id, net);
    await this.firewall.setNetworks(this.firewallNetworks());
  }

  async removeNetwork(net: NetworkConfig) {
    const nl = Netlink.open();
    try {
      nl.deleteLink(this.bridgeName(net));
    } catch (err) {
      if (!isKind(err, "NotFound")) throw err;
    } finally {
      nl.close();
    }
    this.networks.delete(net.id);
    if (this.networks.size) await this.firewall.setNetworks(this.firewallNetworks());
    else await this.firewall.removeTable();
  }

  async attach(ep: Endpoint): Promise<Attachment> {
    const net = ep.network;
    const host = hostVeth(ep.containerId, net.id);
    const ns = openSync(ep.netnsPath!, "r");
    const nl = Netlink.open();
    try {
      try {
        nl.addVeth(host, ep.ifname, { mtu: net.mtu, peerNetnsFd: ns, peerMac: ep.mac });
      } catch (err) {
        // A restart: the pair of the container's previous run goes with its namespace, which the kernel may not have freed yet.
        if (!isKind(err, "AlreadyExists")) throw err;
        this.deleteVeth(nl, host);
        nl.addVeth(host, ep.ifname, { mtu: net.mtu, peerNetnsFd: ns, peerMac: ep.mac });
      }
      nl.setMaster(host, this.bridgeName(net));
      nl.setUp(host);
    } catch (err) {
      this.deleteVeth(nl, host);
      throw err;
    } finally {
      nl.close();
      closeSync(ns);
    }
    try {
      inNetns(ep.netnsPath!, () => {
        const inner = Netlink.open();
        try {
          inner.addAddress(ep.ifname, `${ep.address}/${net.subnet!.split("/")[1]}`);
          inner.setUp(ep.ifname);
          // The first network is the way out; an internal one has none.
          if (ep.ifname === "eth0" && !net.internal) inner.addDefaultRoute(net.gateway!);
        } finally {
          inner.close();
        }
      });
      if (!net.internal) await this.firewall.addPorts(this.portRules(ep));
    } catch (err) {
      await this.detach(ep);
      throw err;
    }
    return { hostsEntries: [], useHostFiles: false, mac: ep.mac };
  }

  async detach(ep: Endpoint) {
    await this.firewall.removePorts(this.portRules(ep));
    if (ep.ending && ep.netnsPath && existsSync(ep.netnsPath)) return; // the pair goes with the namespace
    const nl = Netlink.open();
    try {
      this.deleteVeth(nl, hostVeth(ep.containerId, ep.network.id));
    } finally {
      nl.close();
    }
  }

  /** After a crash: veths on our bridges that no live endpoint owns go, and the table is rebuilt from what lives. */
  async sweep(networks: NetworkConfig[], live: Endpoint[]) {
    for (const n of networks) this.networks.set(n.id, n);
    const keep = new Set(live.map((ep) => hostVeth(ep.containerId, ep.network.id)));
    const nl = Netlink.open();
    try {
      const links = nl.links();
      const ours = new Set(links.filter((l) => [...this.networks.values()].some((n) => this.bridgeName(n) === l.name)).map((l) => l.index));
      for (const l of links) if (VETH.test(l.name) && l.master !== undefined && ours.has(l.master) && !keep.has(l.name)) this.deleteVeth(nl, l.name);
    } finally {
      nl.close();
    }
    await this.firewall.restore(this.firewallNetworks(), live.flatMap((ep) => (ep.network.internal ? [] : this.portRules(ep))));
  }

  private deleteVeth(nl: Netlink, name: string) {
    try {
      nl.deleteLink(name); // its peer in the container goes with it
    } catch (err) {
      if (!isKind(err, "NotFound")) throw err;
    }
  }

  private portRules(ep: Endpoint): PortRule[] {
    return ep.address ? ep.ports.map((p) => ({ ...p, containerIp: ep.address! })) : [];
  }

  private firewallNetworks(): FirewallNetwork[] {
    return [...this.networks.values()].map((n) => ({ bridge: this.bridgeName(n), subnet: n.subnet!, internal: n.internal }));
  }
}
