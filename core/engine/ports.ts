// Published ports: -p [ip:]host:container[/proto], -p container and -P,
// with the host ports picked when a container starts (a free one where none
// was given, as Docker does) and listed as NetworkSettings.Ports.
import { readFileSync } from "node:fs";
import type { PortMapping } from "../contracts/network.ts";
import { conflict, invalidArgument } from "../errors.ts";
import type { Engine } from "./engine.ts";
import type { ContainerRecord, PortMap } from "./types.ts";

/** "80/tcp" -> [80, "tcp"]; "80" is tcp. */
export function parsePortKey(key: string): [number, "tcp" | "udp"] {
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(key);
  const port = Number(m?.[1]);
  if (!m || port < 1 || port > 65535) throw invalidArgument(`invalid port "${key}": use PORT[/tcp|udp], PORT 1-65535`);
  return [port, (m[2] ?? "tcp") as "tcp" | "udp"];
}

/** The ports a running container publishes, from NetworkSettings.Ports. */
export function publishedPorts(rec: ContainerRecord): PortMapping[] {
  const out: PortMapping[] = [];
  for (const [key, bindings] of Object.entries(rec.NetworkSettings.Ports)) {
    const [containerPort, proto] = parsePortKey(key);
    for (const b of bindings ?? []) out.push({ proto, hostIp: b.HostIp === "0.0.0.0" ? "" : b.HostIp, hostPort: Number(b.HostPort), containerPort });
  }
  return out;
}

function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (lo && hi && lo < hi) return [lo, hi];
  } catch {
    // keep the kernel's usual range
  }
  return [32768, 60999];
}

/** Can a listener take this port on the host? (Nothing else there, berth's or not.) */
async function freeOnHost(proto: "tcp" | "udp", ip: string, port: number): Promise<boolean> {
  try {
    if (proto === "tcp") Bun.listen({ hostname: ip || "0.0.0.0", port, socket: { data() {} } }).stop(true);
    else (await Bun.udpSocket({ hostname: ip || "0.0.0.0", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** Host ports berth's running containers hold: "tcp/ip/port" ("" ip: all addresses). */
function heldPorts(engine: Engine, except: string): Set<string> {
  const held = new Set<string>();
  for (const c of engine.containers.values()) {
    if (c.Id === except) continue;
    for (const p of publishedPorts(c)) held.add(`${p.proto}/${p.hostIp}/${p.hostPort}`);
  }
  return held;
}

const clash = (held: Set<string>, proto: string, ip: string, port: number) =>
  held.has(`${proto}/${ip}/${port}`) || held.has(`${proto}//${port}`) || (ip === "" && [...held].some((h) => h.startsWith(`${proto}/`) && h.endsWith(`/${port}`)));

/**
 * The ports a starting container publishes: its -p bindings, and with -P
 * every exposed port. A binding without a host port (or with a range) gets
 * a free one; a taken host port is Docker's "port is already allocated".
 */
export async function assignPorts(engine: Engine, rec: ContainerRecord): Promise<PortMap> {
  const h = rec.HostConfig;
  const wanted: Record<string, { HostIp?: string; HostPort?: string }[]> = {};
  for (const [key, list] of Object.entries(h.PortBindings ?? {})) wanted[normalizeKey(key)] = [...(list ?? [])];
  if (h.PublishAllPorts) for (const key of Object.keys(rec.Config.ExposedPorts ?? {})) wanted[normalizeKey(key)] ??= [{ HostIp: "", HostPort: "" }];
  const held = heldPorts(engine, rec.Id);
  const out: PortMap = {};
  for (const key of Object.keys(rec.Config.ExposedPorts ?? {})) out[normalizeKey(key)] = null;
  const [lo, hi] = ephemeralRange();
  for (const [key, list] of Object.entries(wanted)) {
    const [, proto] = parsePortKey(key);
    const bound: { HostIp: string; HostPort: string }[] = [];
    for (const b of list) {
      const ip = b.HostIp && b.HostIp !== "0.0.0.0" ? b.HostIp : "";
      const port = await pickPort(proto, ip, b.HostPort ?? "", held, [lo, hi], key, rec.Name.slice(1));
      held.add(`${proto}/${ip}/${port}`);
      bound.push({ HostIp: ip || "0.0.0.0", HostPort: String(port) });
    }
    out[key] = bound;
  }
  return out;
}

async function pickPort(proto: "tcp" | "udp", ip: string, hostPort: string, held: Set<string>, ephemeral: [number, number], key: string, name: string): Promise<number> {
  const range = /^(\d+)-(\d+)$/.exec(hostPort);
  if (hostPort && hostPort !== "0" && !range) {
    const port = Number(hostPort);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalidArgument(`invalid host port "${hostPort}" for ${key}`);
    if (clash(held, proto, ip, port) || !(await freeOnHost(proto, ip, port))) {
      throw conflict(`driver failed programming external connectivity on endpoint ${name}: Bind for ${ip || "0.0.0.0"}:${port} failed: port is already allocated`);
    }
    return port;
  }
  const [from, to] = range ? [Number(range[1]), Number(range[2])] : ephemeral;
  // Start at a random place: daemons of other roots pick from the same range.
  const span = to - from + 1;
  const start = Math.floor(Math.random() * span);
  for (let k = 0; k < span; k++) {
    const port = from + ((start + k) % span);
    if (!clash(held, proto, ip, port) && (await freeOnHost(proto, ip, port))) return port;
  }
  throw conflict(`no free host port for ${key} in ${from}-${to}`);
}

const normalizeKey = (key: string) => {
  const [port, proto] = parsePortKey(key);
  return `${port}/${proto}`;
};
