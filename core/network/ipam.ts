// IPv4 address management: subnets for new networks, picked from Docker's
// default pools and never overlapping a route or address of the host (nor
// another network), and addresses for the containers on a network.
import { conflict, invalidArgument } from "../errors.ts";

export interface Cidr {
  /** The network address as a 32-bit number. */
  base: number;
  prefix: number;
}

/** Docker's default address pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s. */
export const DEFAULT_POOLS: string[] = [
  ...Array.from({ length: 15 }, (_, i) => `172.${17 + i}.0.0/16`),
  ...Array.from({ length: 16 }, (_, i) => `192.168.${i * 16}.0/20`),
];

export function ipToInt(ip: string): number {
  const parts = ip.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)) throw invalidArgument(`invalid IPv4 address "${ip}"`);
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export const intToIp = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");

const mask = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** "172.18.0.0/16" (a host address with a prefix is accepted and reduced to its network). */
export function parseCidr(text: string): Cidr {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (!m || Number(m[2]) > 32) throw invalidArgument(`invalid subnet "${text}": use a.b.c.d/prefix, e.g. 172.20.0.0/16`);
  const prefix = Number(m[2]);
  return { base: (ipToInt(m[1]!) & mask(prefix)) >>> 0, prefix };
}

export const formatCidr = (c: Cidr) => `${intToIp(c.base)}/${c.prefix}`;

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & mask(c.prefix)) >>> 0) === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/**
 * The first pool subnet that overlaps nothing in `taken` (the host's routes
 * and addresses, other networks' subnets). Default routes (prefix 0) are not
 * counted: everything would overlap them.
 */
export function pickSubnet(taken: string[], pools = DEFAULT_POOLS): { subnet: string; gateway: string } {
  const busy = taken.map(parseCidr).filter((c) => c.prefix > 0);
  for (const pool of pools) {
    const c = parseCidr(pool);
    if (!busy.some((b) => overlaps(b, c))) return { subnet: formatCidr(c), gateway: intToIp(c.base + 1) };
  }
  throw conflict("all predefined address pools have been fully subnetted", "remove unused networks (berth network prune), or give --subnet");
}

/** Check a user-given subnet and gateway (the gateway defaults to the first address). */
export function checkSubnet(subnet: string, gateway: string | undefined, taken: string[]): { subnet: string; gateway: string } {
  const c = parseCidr(subnet);
  if (c.prefix > 30) throw invalidArgument(`subnet ${subnet} is too small: it needs room for a gateway and containers (at most /30)`);
  const clash = taken.map((t) => ({ t, c: parseCidr(t) })).find((x) => x.c.prefix > 0 && overlaps(x.c, c));
  if (clash) throw conflict(`Pool overlaps with other one on this address space: ${formatCidr(c)} overlaps ${clash.t}`);
  const gw = gateway ?? intToIp(c.base + 1);
  const g = ipToInt(gw);
  if (!contains(c, g) || g === c.base || g === broadcast(c)) throw invalidArgument(`gateway ${gw} is not a usable address of ${formatCidr(c)}`);
  return { subnet: formatCidr(c), gateway: gw };
}

const broadcast = (c: Cidr) => (c.base | (~mask(c.prefix) >>> 0)) >>> 0;

/**
 * An address for a container: `wanted` if given and free, else the lowest
 * free one (not the network, broadcast or gateway address).
 */
export function allocateAddress(subnet: string, gateway: string, used: Set<string>, wanted?: string): string {
  const c = parseCidr(subnet);
  const reserved = new Set([c.base, broadcast(c), ipToInt(gateway)]);
  if (wanted) {
    const w = ipToInt(wanted);
    if (!contains(c, w)) throw invalidArgument(`address ${wanted} is not in the network's subnet ${subnet}`);
    if (reserved.has(w)) throw invalidArgument(`address ${wanted} is reserved on ${subnet} (network, broadcast or gateway)`);
    if (used.has(wanted)) throw conflict(`Address already in use: ${wanted} on ${subnet}`);
    return wanted;
  }
  for (let n = c.base + 1; n < broadcast(c); n++) {
    if (reserved.has(n)) continue;
    const ip = intToIp(n);
    if (!used.has(ip)) return ip;
  }
  throw conflict(`no available IPv4 addresses on network ${subnet}`);
}
