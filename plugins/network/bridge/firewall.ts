// The bridge driver's nftables: one table of berth's own (one per berth
// root), never anyone else's. Outbound NAT and isolation are rules per
// network, rewritten when networks come and go; published ports are
// elements of four maps, added and deleted per container, so a start with
// -p costs one `nft` run and the rules never change for it.
//
//   prerouting/output (nat): a local address and port found in a map -> DNAT to container:port
//   postrouting (nat): masquerade a network's traffic leaving its bridge,
//                      and 127.0.0.1 -> container (published ports answer on localhost)
//   forward (filter): a berth bridge does not forward to another; internal ones to nowhere
//
// One exception to "our own table only": where Docker runs, its FORWARD
// policy drops all it does not know (also traffic inside other bridges, as
// Docker loads br_netfilter). Docker's answer for other software is its
// DOCKER-USER chain: there berth accepts its bridges' traffic, in rules
// tagged with its table's name, and takes them out with its networks.
import { internal } from "../../../core/errors.ts";
import { nftRun } from "../../../core/sys/nftables.ts";
import type { PortMapping } from "../../../core/contracts/network.ts";

export interface FirewallNetwork {
  bridge: string;
  subnet: string;
  internal: boolean;
}

export interface PortRule extends PortMapping {
  containerIp: string;
}

const MAPS = ["tcp_any", "udp_any", "tcp_ip", "udp_ip"];

export class Firewall {
  constructor(readonly table: string) {}

  /** The table with its sets, maps and chains, if missing; rules and elements untouched. */
  private skeleton(): string {
    const t = `ip ${this.table}`;
    const dnat = (p: string) => [
      `fib daddr type local dnat ip to ip daddr . ${p} dport map @${p}_ip`,
      `fib daddr type local dnat ip to ${p} dport map @${p}_any`,
    ];
    return [
      `add table ${t}`,
      `add set ${t} bridges { type ifname; }`,
      `add map ${t} tcp_any { type inet_service : ipv4_addr . inet_service; }`,
      `add map ${t} udp_any { type inet_service : ipv4_addr . inet_service; }`,
      `add map ${t} tcp_ip { type ipv4_addr . inet_service : ipv4_addr . inet_service; }`,
      `add map ${t} udp_ip { type ipv4_addr . inet_service : ipv4_addr . inet_service; }`,
      `add chain ${t} prerouting { type nat hook prerouting priority -100; policy accept; }`,
      `add chain ${t} output { type nat hook output priority -100; policy accept; }`,
      `add chain ${t} postrouting { type nat hook postrouting priority 100; policy accept; }`,
      `add chain ${t} forward { type filter hook forward priority 0; policy accept; }`,
      // The DNAT rules never change: write them only with a new table (flush first, so a repeat is harmless).
      `flush chain ${t} prerouting`,
      `flush chain ${t} output`,
      ...["prerouting", "output"].flatMap((c) => [...dnat("tcp"), ...dnat("udp")].map((r) => `add rule ${t} ${c} ${r}`)),
    ].join("\n");
  }

  /** The per-network rules, for exactly these networks. */
  private networkRules(nets: FirewallNetwork[]): string {
    const t = `ip ${this.table}`;
    const q = (s: string) => JSON.stringify(s);
    const lines = [`flush chain ${t} postrouting`, `flush chain ${t} forward`, `flush set ${t} bridges`];
    if (nets.length) lines.push(`add element ${t} bridges { ${nets.map((n) => q(n.bridge)).join(", ")} }`);
    for (const n of nets) {
      lines.push(`add rule ${t} postrouting oifname ${q(n.bridge)} ip saddr 127.0.0.0/8 masquerade`);
      if (n.internal) {
        lines.push(`add rule ${t} forward iifname ${q(n.bridge)} oifname != ${q(n.bridge)} drop`);
        lines.push(`add rule ${t} forward oifname ${q(n.bridge)} iifname != ${q(n.bridge)} drop`);
      } else {
        lines.push(`add rule ${t} postrouting ip saddr ${n.subnet} oifname != ${q(n.bridge)} masquerade`);
        lines.push(`add rule ${t} forward iifname ${q(n.bridge)} oifname != ${q(n.bridge)} oifname @bridges drop`);
      }
    }
    return lines.join("\n");
  }

  private elements(rules: PortRule[]): string[] {
    return rules.map((r) => {
      const map = `${r.proto}_${r.hostIp ? "ip" : "any"}`;
      const key = r.hostIp ? `${r.hostIp} . ${r.hostPort}` : `${r.hostPort}`;
      return `${map} { ${key} : ${r.containerIp} . ${r.containerPort} }`;
    });
  }

  /** Networks came or went: rewrite their rules (the published ports stay). */
  async setNetworks(nets: FirewallNetwork[]) {
    // Two tables, two nft runs at once: a network's creation waits for one.
    await Promise.all([nft(`${this.skeleton()}\n${this.networkRules(nets)}\n`), this.dockerUser(nets)]);
  }

  /** Our accept rules in Docker's DOCKER-USER chain, when there is one: exactly one set per network. */
  private async dockerUser(nets: FirewallNetwork[]) {
    const chain = await nftRun("list chain ip filter DOCKER-USER", { handles: true });
    if (chain.code !== 0) return; // no Docker here
    const tag = `berth:${this.table}`;
    const old = [...chain.stdout.matchAll(new RegExp(`comment "${tag}" # handle (\\d+)`, "g"))].map((m) => `delete rule ip filter DOCKER-USER handle ${m[1]}`);
    const q = (s: string) => JSON.stringify(s);
    const add = nets.flatMap((n) => [
      `insert rule ip filter DOCKER-USER iifname ${q(n.bridge)} accept comment ${q(tag)}`,
      `insert rule ip filter DOCKER-USER oifname ${q(n.bridge)} ct state related,established accept comment ${q(tag)}`,
      `insert rule ip filter DOCKER-USER oifname ${q(n.bridge)} ct status dnat accept comment ${q(tag)}`,
    ]);
    if (old.length || add.length) await nft(`${[...old, ...add].join("\n")}\n`);
  }

  async addPorts(rules: PortRule[]) {
    if (rules.length) await nft(`${this.elements(rules).map((e) => `add element ip ${this.table} ${e}`).join("\n")}\n`);
  }

  async removePorts(rules: PortRule[]) {
    if (!rules.length) return;
    // Delete only what is there: a repeated detach must succeed.
    const present = await this.listElements();
    const gone = this.elements(rules).filter((e) => present.has(e.replace(/ : .*/, " }")));
    if (gone.length) await nft(`${gone.map((e) => `delete element ip ${this.table} ${e.replace(/ : .*/, " }")}`).join("\n")}\n`);
  }

  /** The whole table from scratch, in one transaction (daemon start: what a crash left is replaced). */
  async restore(nets: FirewallNetwork[], ports: PortRule[]) {
    const exists = (await nftRun(`list table ip ${this.table}`)).code === 0;
    const adds = this.elements(ports).map((e) => `add element ip ${this.table} ${e}`);
    await nft(`${exists ? `delete table ip ${this.table}\n` : ""}${this.skeleton()}\n${this.networkRules(nets)}\n${adds.join("\n")}\n`);
    await this.dockerUser(nets);
  }

  /** Remove the table (when no network of this engine is left). */
  async removeTable() {
    if ((await nftRun(`list table ip ${this.table}`)).code === 0) await nft(`delete table ip ${this.table}\n`);
    await this.dockerUser([]);
  }

  /** "tcp_any { 8080 }" keys of the map elements now in the kernel. */
  private async listElements(): Promise<Set<string>> {
    const r = await nftRun(`list table ip ${this.table}`, { json: true });
    const out = new Set<string>();
    if (r.code !== 0) return out;
    type El = { map?: { name: string; elem?: [unknown, unknown][] } };
    for (const item of (JSON.parse(r.stdout).nftables ?? []) as El[]) {
      if (!item.map || !MAPS.includes(item.map.name)) continue;
      for (const [k] of item.map.elem ?? []) {
        const key = typeof k === "object" && k && "concat" in k ? (k as { concat: unknown[] }).concat.join(" . ") : String(k);
        out.add(`${item.map.name} { ${key} }`);
      }
    }
    return out;
  }
}

async function nft(script: string) {
  const r = await nftRun(script);
  if (r.code !== 0) throw internal(`nft failed: ${r.stderr.trim()}`, `the rules were:\n${script}`);
}
