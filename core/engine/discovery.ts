// Service discovery: the embedded DNS server answers, for a container, the
// names of the containers that share a network with it (container names,
// --network-alias names, which compose sets to service names), round-robin
// over several; other names go to the host's resolvers. It listens on each
// bridge network's gateway, which containers have as their nameserver.
import { readFileSync } from "node:fs";
import { DnsServer, type Resolver } from "../network/dns.ts";
import type { Engine } from "./engine.ts";

export class Discovery implements Resolver {
  private server?: DnsServer;
  private listening = new Set<string>();
  /** address -> [container id, network id] of running endpoints, rebuilt when endpoints change. */
  private byAddress?: Map<string, { container: string; network: string }>;

  constructor(private readonly engine: Engine) {}

  /** Listen on every bridge network's gateway (at daemon start, and when networks come and go). */
  async networksChanged() {
    const gateways = new Set(
      this.engine.db
        .listNetworks()
        .filter((n) => n.Driver === "bridge")
        .flatMap((n) => n.IPAM.Config.map((c) => c.Gateway)),
    );
    for (const ip of this.listening) {
      if (!gateways.has(ip)) {
        this.server?.unlisten(ip);
        this.listening.delete(ip);
      }
    }
    for (const ip of gateways) {
      if (this.listening.has(ip)) continue;
      this.server ??= new DnsServer(this, { upstreams: hostResolvers() });
      try {
        await this.server.listen(ip, 53);
        this.listening.add(ip);
      } catch (err) {
        console.error(`berthd: the DNS server cannot listen on ${ip}:53: ${(err as Error).message}`);
      }
    }
  }

  endpointsChanged() {
    this.byAddress = undefined;
  }

  /** The nameserver a container on these networks gets: its first bridge network's gateway, when DNS listens there. */
  nameserverFor(gateway: string | undefined): string | undefined {
    return gateway && this.listening.has(gateway) ? gateway : undefined;
  }

  private index() {
    if (this.byAddress) return this.byAddress;
    const m = new Map<string, { container: string; network: string }>();
    for (const c of this.engine.containers.values()) {
      for (const e of Object.values(c.NetworkSettings.Networks)) if (e.IPAddress) m.set(e.IPAddress, { container: c.Id, network: e.NetworkID });
    }
    return (this.byAddress = m);
  }

  /** The networks of the container asking; undefined for a client that is not a container. */
  private clientNetworks(clientIp: string): Set<string> | undefined {
    const me = this.index().get(clientIp);
    if (!me) return undefined;
    const rec = this.engine.containers.get(me.container);
    return new Set(Object.values(rec?.NetworkSettings.Networks ?? {}).filter((e) => e.IPAddress).map((e) => e.NetworkID));
  }

  lookup(name: string, clientIp: string): string[] | undefined {
    const nets = this.clientNetworks(clientIp);
    if (!nets) return undefined;
    const out: string[] = [];
    for (const c of this.engine.containers.values()) {
      for (const e of Object.values(c.NetworkSettings.Networks)) {
        if (!e.IPAddress || !nets.has(e.NetworkID)) continue;
        const names = [c.Name.slice(1), c.Id.slice(0, 12), ...(e.Aliases ?? [])].map((n) => n.toLowerCase());
        if (names.includes(name)) out.push(e.IPAddress);
      }
    }
    if (!out.length) out.push(...this.linked(name, clientIp));
    return out.length ? out : undefined;
  }

  /** A link's alias, which only the container that has the link resolves: its target's address on that network. */
  private linked(name: string, clientIp: string): string[] {
    const me = this.engine.containers.get(this.index().get(clientIp)?.container ?? "");
    const out: string[] = [];
    for (const e of Object.values(me?.NetworkSettings.Networks ?? {})) {
      for (const link of e.Links ?? []) {
        const colon = link.lastIndexOf(":");
        if (link.slice(colon + 1).toLowerCase() !== name) continue;
        const target = link.slice(0, colon).toLowerCase();
        for (const c of this.engine.containers.values()) {
          if (c.Name.slice(1).toLowerCase() !== target && !c.Id.startsWith(target)) continue;
          const te = Object.values(c.NetworkSettings.Networks).find((x) => x.NetworkID === e.NetworkID && x.IPAddress);
          if (te) out.push(te.IPAddress);
        }
      }
    }
    return out;
  }

  reverse(ip: string, clientIp: string): string | undefined {
    const nets = this.clientNetworks(clientIp);
    const target = this.index().get(ip);
    if (!nets || !target || !nets.has(target.network)) return undefined;
    return this.engine.containers.get(target.container)?.Name.slice(1);
  }

  close() {
    this.server?.close();
    this.server = undefined;
    this.listening.clear();
  }
}

/** The host's nameservers (loopback ones too: berthd itself runs in the host's namespace). */
function hostResolvers(): string[] {
  try {
    return readFileSync("/etc/resolv.conf", "utf8")
      .split("\n")
      .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
      .filter((s): s is string => !!s && !s.includes(":"));
  } catch {
    return [];
  }
}
