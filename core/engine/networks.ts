// Networks: the built-in bridge, host and none, and user-defined ones; the
// endpoints of containers on them (addresses, aliases, published ports),
// made real by the network plugins when a container starts or is connected.
import { closeSync, mkdirSync, openSync } from "node:fs";
import type { Endpoint, NetworkConfig, NetworkDriver } from "../contracts/network.ts";
import { conflict, failedPrecondition, invalidArgument, notFound, notSupported } from "../errors.ts";
import { randomHex } from "../ids.ts";
import { allocateAddress, checkSubnet, parseCidr, pickSubnet } from "../network/ipam.ts";
import { hostSubnets } from "../network/host-routes.ts";
import { libcSys } from "../sys/libc.ts";
import type { Engine } from "./engine.ts";
import { publishedPorts } from "./ports.ts";
import type { ContainerRecord, EndpointRecord, EndpointSettings, NetworkRecord } from "./types.ts";
import { visible } from "../owner.ts";

/** Docker's driver names where berth's plugins are named otherwise. */
const PLUGIN_OF_DRIVER: Record<string, string> = { null: "none" };
const DRIVER_OF_PLUGIN: Record<string, string> = { none: "null" };
export const pluginOf = (driver: string) => PLUGIN_OF_DRIVER[driver] ?? driver;

/** The networks every engine has; they cannot be removed. */
export const PREDEFINED = ["bridge", "host", "none"];

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export interface NetworkCreateRequest {
  Name?: string;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  CheckDuplicate?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Config?: { Subnet?: string; Gateway?: string; IPRange?: string }[] | null; Options?: Record<string, string> | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

export function listNetworks(engine: Engine): NetworkRecord[] {
  return engine.db.listNetworks();
}

/** A network by full ID, name, or unique ID prefix (Docker's lookup order). */
export function findNetwork(engine: Engine, ref: string): NetworkRecord {
  // Another user's network is absent under --owner-scope; the predefined ones are everyone's.
  const all = engine.db.listNetworks().filter((n) => visible(n.Owner, PREDEFINED.includes(n.Name)));
  const found = all.find((n) => n.Id === ref) ?? all.find((n) => n.Name === ref);
  if (found) return found;
  const byPrefix = /^[a-f0-9]+$/.test(ref) ? all.filter((n) => n.Id.startsWith(ref)) : [];
  if (byPrefix.length === 1) return byPrefix[0]!;
  if (byPrefix.length > 1) throw conflict(`network ${ref} is ambiguous (${byPrefix.length} matches found based on ID prefix)`);
  throw notFound(`network ${ref} not found`);
}

/** What a driver is given of a network. */
export function networkConfig(n: NetworkRecord): NetworkConfig {
  const ipam = n.IPAM.Config[0];
  return {
    id: n.Id,
    name: n.Name,
    driver: pluginOf(n.Driver),
    subnet: ipam?.Subnet,
    gateway: ipam?.Gateway,
    internal: n.Internal,
    mtu: Number(n.Options["com.docker.network.driver.mtu"] ?? 1500),
    options: n.Options,
  };
}

async function driverOf(engine: Engine, n: NetworkRecord): Promise<NetworkDriver> {
  return engine.plugin("network", pluginOf(n.Driver));
}

/**
 * Daemon start: make sure the predefined networks exist (the default bridge
 * when the bridge plugin can run here), then have each driver make its
 * networks real again (after a reboot or a crash they may be gone).
 */
export async function initNetworks(engine: Engine) {
  const have = new Set(engine.db.listNetworks().map((n) => n.Name));
  for (const [name, plugin] of [["host", "host"], ["none", "none"]] as const) {
    if (!have.has(name)) engine.db.putNetwork(newRecord(name, DRIVER_OF_PLUGIN[plugin] ?? plugin, {}, false, []));
  }
  if (!have.has("bridge") && engine.registry.status("network").some((p) => p.name === "bridge" && p.available)) {
    await createNetwork(engine, { Name: "bridge", Driver: "bridge", Options: { "com.docker.network.bridge.default_bridge": "true" } }, true);
  }
  for (const n of engine.db.listNetworks()) {
    const driver = await driverOf(engine, n).catch(() => undefined);
    await driver?.createNetwork?.(networkConfig(n));
  }
}

function newRecord(name: string, driver: string, opts: Record<string, string>, internal: boolean, ipam: NetworkRecord["IPAM"]["Config"], labels: Record<string, string> = {}): NetworkRecord {
  return {
    Name: name,
    Id: randomHex(32),
    Created: new Date().toISOString(),
    Scope: "local",
    Driver: driver,
    EnableIPv6: false,
    IPAM: { Driver: "default", Options: null, Config: ipam },
    Internal: internal,
    Attachable: false,
    Ingress: false,
    Options: opts,
    Labels: labels,
  };
}

/**
 * Run `fn` holding a host-wide lock: every berth daemon on this machine
 * (one per root) picks subnets from the same pools, and two must not pick
 * the same one before either has made its bridge.
 */
function withHostLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync("/run/berth-locks", { recursive: true, mode: 0o700 });
  const fd = openSync("/run/berth-locks/ipam.lock", "w", 0o600);
  return (async () => {
    while (!libcSys.tryLock(fd)) await Bun.sleep(5);
    try {
      return await fn();
    } finally {
      closeSync(fd); // closing releases the lock
    }
  })();
}

export async function createNetwork(engine: Engine, req: NetworkCreateRequest, predefined = false): Promise<{ Id: string; Warning: string }> {
  const name = req.Name ?? "";
  if (!NAME.test(name)) throw invalidArgument(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  if (!predefined && PREDEFINED.includes(name)) throw conflict(`network with name ${name} already exists`, `"${name}" is a predefined network`);
  if (engine.db.listNetworks().some((n) => n.Name === name)) throw conflict(`network with name ${name} already exists`);
  const driverName = req.Driver || "bridge";
  const plugin = pluginOf(driverName);
  if (plugin === "host" || plugin === "none" || plugin === "container") {
    throw invalidArgument(`only one instance of "${driverName}" network is allowed`, "create bridge networks (-d bridge)");
  }
  const driver = await engine.plugin("network", plugin);
  if (!driver.createNetwork) throw invalidArgument(`network driver "${driverName}" does not create networks`);
  if (req.EnableIPv6) throw invalidArgument("IPv6 networks are not supported by berth yet", "create the network without --ipv6");
  if (req.IPAM?.Driver && req.IPAM.Driver !== "default") throw invalidArgument(`IPAM driver "${req.IPAM.Driver}" is not supported`, "berth has the default IPAM driver only");
  const configs = req.IPAM?.Config ?? [];
  if (configs.length > 1) throw invalidArgument("berth networks have one IPv4 subnet: give --subnet once");
  if (configs[0]?.IPRange) throw invalidArgument("--ip-range is not supported by berth yet");
  return withHostLock(async () => {
    const taken = [...hostSubnets(), ...engine.db.listNetworks().flatMap((n) => n.IPAM.Config.map((c) => c.Subnet))];
    const { subnet, gateway } = configs[0]?.Subnet ? checkSubnet(configs[0].Subnet, configs[0].Gateway || undefined, taken) : pickSubnet(taken);
    if (configs[0]?.Gateway && !configs[0].Subnet) throw invalidArgument("a gateway needs its subnet: give --subnet with --gateway");
    const rec = newRecord(name, driverName, req.Options ?? {}, !!req.Internal, [{ Subnet: subnet, Gateway: gateway }], req.Labels ?? {});
    rec.Attachable = !!req.Attachable;
    await driver.createNetwork!(networkConfig(rec));
    engine.db.putNetwork(rec);
    engine.emit("network", "create", rec.Id, { name, type: driverName });
    engine.discovery.networksChanged();
    return { Id: rec.Id, Warning: "" };
  });
}

/** Containers with an endpoint on the network (running or not). */
export function networkUsers(engine: Engine, n: NetworkRecord): ContainerRecord[] {
  return engine.list().filter((c) => Object.values(c.NetworkSettings.Networks).some((e) => e.NetworkID === n.Id));
}

export async function removeNetwork(engine: Engine, ref: string) {
  const n = findNetwork(engine, ref);
  if (PREDEFINED.includes(n.Name)) throw conflict(`${n.Name} is a pre-defined network and cannot be removed`);
  const active = networkUsers(engine, n);
  if (active.length) {
    throw conflict(`error while removing network: network ${n.Name} id ${n.Id} has active endpoints`, `remove or disconnect ${active.map((c) => c.Name.slice(1)).join(", ")} first`);
  }
  await (await driverOf(engine, n)).removeNetwork?.(networkConfig(n));
  engine.db.deleteNetwork(n.Id);
  engine.emit("network", "destroy", n.Id, { name: n.Name, type: n.Driver });
  engine.discovery.networksChanged();
}

export async function pruneNetworks(engine: Engine): Promise<string[]> {
  const deleted: string[] = [];
  for (const n of engine.db.listNetworks()) {
    if (PREDEFINED.includes(n.Name) || !visible(n.Owner) || networkUsers(engine, n).length) continue;
    await removeNetwork(engine, n.Id);
    deleted.push(n.Name);
  }
  return deleted;
}

// ---------------------------------------------------------------- containers

/** What NetworkMode names: the network's namespace kind and, for bridge-like ones, the network. */
export function resolveNetworkMode(engine: Engine, mode: string | undefined): { mode: string; network?: NetworkRecord } {
  const m = !mode || mode === "default" ? "bridge" : mode;
  if (m === "host" || m === "none" || m.startsWith("container:")) return { mode: m };
  const network = findNetwork(engine, m);
  if (network.Name === "host" || network.Name === "none") return { mode: network.Name };
  return { mode: network.Name, network };
}

/** The endpoint records a new container starts with (its NetworkMode network, with create's settings). */
export function initialEndpoints(network: NetworkRecord | undefined, settings: Record<string, EndpointSettings> | null | undefined): Record<string, EndpointRecord> {
  if (!network) {
    if (settings && Object.keys(settings).length) throw invalidArgument("this network mode has no networks to configure (--ip, --network-alias need a bridge network)");
    return {};
  }
  const own = settings?.[network.Name] ?? settings?.[network.Id] ?? Object.values(settings ?? {})[0];
  if (settings && Object.keys(settings).length > 1) throw invalidArgument("a container is created on one network: connect it to the others with `network connect`");
  return { [network.Name]: newEndpoint(network, own) };
}

function newEndpoint(n: NetworkRecord, s: EndpointSettings | undefined): EndpointRecord {
  const ip = s?.IPAMConfig?.IPv4Address || undefined;
  if (ip && n.IPAM.Config[0]) allocateAddress(n.IPAM.Config[0].Subnet, n.IPAM.Config[0].Gateway, new Set(), ip); // a bad address is refused now
  if (ip && n.Name === "bridge") throw invalidArgument("user specified IP address is supported on user defined networks only");
  const links = s?.Links?.length ? s.Links.map(parseLink).map(([name, alias]) => `${name}:${alias}`) : null;
  if (links && PREDEFINED.includes(n.Name)) throw notSupported(`links on the ${n.Name} network (--link) are not supported by berth yet`, "use a user-defined network: its DNS resolves container names and aliases");
  return { NetworkID: n.Id, IPAMConfig: ip ? { IPv4Address: ip } : null, Aliases: s?.Aliases?.length ? [...s.Aliases] : null, Links: links, EndpointID: "", IPAddress: "", IPPrefixLen: 0, Gateway: "", MacAddress: "" };
}

/** A link as Docker takes it: "name:alias", "name" (the alias is the name), names with or without their "/". */
export function parseLink(link: string): [string, string] {
  const parts = link.split(":");
  if (parts.length > 2 || !parts[0]) throw invalidArgument(`invalid link format: ${link}`, "use container:alias");
  const name = parts[0].replace(/^\//, "");
  const alias = (parts[1] ?? name).replace(/^.*\//, "");
  if (!alias) throw invalidArgument(`invalid link format: ${link}`, "use container:alias");
  return [name, alias];
}

/** Addresses in use on a network by running endpoints, and the static ones of every container. */
function usedAddresses(engine: Engine, networkId: string, except: string): Set<string> {
  const used = new Set<string>();
  for (const c of engine.containers.values()) {
    if (c.Id === except) continue;
    for (const e of Object.values(c.NetworkSettings.Networks)) {
      if (e.NetworkID !== networkId) continue;
      if (e.IPAddress) used.add(e.IPAddress);
      if (e.IPAMConfig?.IPv4Address) used.add(e.IPAMConfig.IPv4Address);
    }
  }
  return used;
}

/** An endpoint as its driver sees it; the published ports go with the container's first network. */
function endpointOf(rec: ContainerRecord, n: NetworkRecord, e: EndpointRecord, netnsPath: string | null): Endpoint {
  const primary = Object.values(rec.NetworkSettings.Networks)[0] === e;
  return {
    containerId: rec.Id,
    network: networkConfig(n),
    netnsPath,
    ifname: e.Interface ?? "eth0",
    address: e.IPAddress || undefined,
    mac: e.MacAddress || undefined,
    ports: primary ? publishedPorts(rec) : [],
  };
}

/** Give endpoint `e` an address on `n` and an interface name (the lowest free ethN). */
function assignAddress(engine: Engine, rec: ContainerRecord, n: NetworkRecord, e: EndpointRecord) {
  const ipam = n.IPAM.Config[0]!;
  const address = allocateAddress(ipam.Subnet, ipam.Gateway, usedAddresses(engine, n.Id, rec.Id), e.IPAMConfig?.IPv4Address);
  const taken = new Set(Object.values(rec.NetworkSettings.Networks).map((x) => x.Interface));
  let i = 0;
  while (taken.has(`eth${i}`)) i++;
  Object.assign(e, { IPAddress: address, IPPrefixLen: parseCidr(ipam.Subnet).prefix, Gateway: ipam.Gateway, MacAddress: macOf(address), EndpointID: randomHex(32), Interface: `eth${i}` });
}

/** Docker's MAC for an address: 02:42 and the four address bytes. */
const macOf = (ip: string) => ["02", "42", ...ip.split(".").map((b) => Number(b).toString(16).padStart(2, "0"))].join(":");

/**
 * Give a starting container its addresses and connect it to each of its
 * networks (eth0 is the first). Returns /etc/hosts lines; on failure what was
 * connected is undone. Published ports go with the first network.
 */
export async function attachEndpoints(engine: Engine, rec: ContainerRecord, netnsPath: string | null): Promise<string[]> {
  const { assignPorts } = await import("./ports.ts");
  const names = Object.keys(rec.NetworkSettings.Networks);
  const done: Endpoint[] = [];
  const hosts: string[] = [];
  try {
    rec.NetworkSettings.Ports = names.length ? await assignPorts(engine, rec) : {};
    for (const name of names) {
      const e = rec.NetworkSettings.Networks[name]!;
      const n = engine.db.listNetworks().find((x) => x.Id === e.NetworkID);
      if (!n) throw notFound(`network ${name} not found`, `the container's network was removed: disconnect it (berth network disconnect ${name} ${rec.Name.slice(1)})`);
      if (n.IPAM.Config[0]) assignAddress(engine, rec, n, e);
      else e.EndpointID = randomHex(32); // host and none: no address
      const ep = endpointOf(rec, n, e, netnsPath);
      await (await driverOf(engine, n)).attach(ep);
      done.push(ep);
      if (e.IPAddress) hosts.push(`${e.IPAddress}\t${rec.Config.Hostname || rec.Id.slice(0, 12)}`);
    }
    engine.discovery.endpointsChanged();
    return hosts;
  } catch (err) {
    for (const ep of done.reverse()) await (await engine.plugin("network", ep.network.driver)).detach(ep).catch(() => {});
    clearEndpoints(rec);
    throw err;
  }
}

/**
 * Disconnect a container's endpoints; the addresses and ports are given
 * back. `ending`: at the container's end, its namespace is removed next.
 */
export async function detachEndpoints(engine: Engine, rec: ContainerRecord, netnsPath: string | null, ending = false) {
  for (const e of Object.values(rec.NetworkSettings.Networks)) {
    if (!e.EndpointID) continue;
    const n = engine.db.listNetworks().find((x) => x.Id === e.NetworkID);
    if (n) await (await driverOf(engine, n)).detach({ ...endpointOf(rec, n, e, netnsPath), ending });
  }
  clearEndpoints(rec);
  engine.discovery.endpointsChanged();
}

function clearEndpoints(rec: ContainerRecord) {
  for (const e of Object.values(rec.NetworkSettings.Networks)) Object.assign(e, { EndpointID: "", IPAddress: "", IPPrefixLen: 0, Gateway: "", MacAddress: "", Interface: undefined });
  rec.NetworkSettings.Ports = {};
}

/** Endpoints of running containers, as drivers see them (what a restarted daemon keeps). */
export function liveEndpoints(engine: Engine): Endpoint[] {
  const out: Endpoint[] = [];
  const networks = new Map(engine.db.listNetworks().map((n) => [n.Id, n]));
  for (const rec of engine.containers.values()) {
    if (!engine.rt(rec.Id).proc) continue;
    for (const e of Object.values(rec.NetworkSettings.Networks)) {
      const n = networks.get(e.NetworkID);
      if (n && e.EndpointID) out.push(endpointOf(rec, n, e, engine.netnsPath(rec.Id)));
    }
  }
  return out;
}

/** network connect: a new endpoint; a running container gets its interface at once. */
export async function connectContainer(engine: Engine, netRef: string, rec: ContainerRecord, settings: EndpointSettings = {}) {
  const n = findNetwork(engine, netRef);
  const mode = resolveNetworkMode(engine, rec.HostConfig.NetworkMode).mode;
  if (mode === "host" || mode === "none" || mode.startsWith("container:") || n.Name === "host" || n.Name === "none") {
    throw failedPrecondition(`container ${rec.Name.slice(1)} cannot be connected to ${n.Name}: its network mode is ${mode}`, "only containers on bridge networks can be connected to others");
  }
  if (Object.values(rec.NetworkSettings.Networks).some((e) => e.NetworkID === n.Id)) {
    throw conflict(`endpoint with name ${rec.Name.slice(1)} already exists in network ${n.Name}`);
  }
  await engine.serialize(rec.Id, async () => {
    const e = newEndpoint(n, settings);
    rec.NetworkSettings.Networks[n.Name] = e;
    if (engine.rt(rec.Id).proc) {
      try {
        assignAddress(engine, rec, n, e);
        await (await driverOf(engine, n)).attach(endpointOf(rec, n, e, engine.netnsPath(rec.Id)));
      } catch (err) {
        delete rec.NetworkSettings.Networks[n.Name];
        throw err;
      }
    }
    engine.save(rec);
    engine.discovery.endpointsChanged();
  });
  engine.emit("network", "connect", n.Id, { container: rec.Id, name: n.Name, type: n.Driver });
}

/** network disconnect: the endpoint goes; a running container loses its interface at once. */
export async function disconnectContainer(engine: Engine, netRef: string, rec: ContainerRecord) {
  const n = findNetwork(engine, netRef);
  const name = Object.keys(rec.NetworkSettings.Networks).find((k) => rec.NetworkSettings.Networks[k]!.NetworkID === n.Id);
  if (!name) throw notFound(`container ${rec.Id.slice(0, 12)} is not connected to network ${n.Name}`);
  await engine.serialize(rec.Id, async () => {
    const e = rec.NetworkSettings.Networks[name]!;
    if (engine.rt(rec.Id).proc && e.EndpointID) await (await driverOf(engine, n)).detach(endpointOf(rec, n, e, engine.netnsPath(rec.Id)));
    delete rec.NetworkSettings.Networks[name];
    engine.save(rec);
    engine.discovery.endpointsChanged();
  });
  engine.emit("network", "disconnect", n.Id, { container: rec.Id, name: n.Name, type: n.Driver });
}

/**
 * A daemon stopping with no container running takes its networks off the
 * host (bridges, firewall rules): the next start makes them again from its
 * records. With containers running, all stays for them.
 */
export async function takeDownNetworks(engine: Engine) {
  if ([...engine.containers.values()].some((c) => engine.rt(c.Id).proc)) return;
  for (const n of engine.db.listNetworks()) {
    const driver = await driverOf(engine, n).catch(() => undefined);
    await driver?.removeNetwork?.(networkConfig(n)).catch((err) => console.error(`berthd: taking down network ${n.Name}: ${(err as Error).message}`));
  }
}

/** Daemon start, once running containers are adopted: each driver removes what dead endpoints left. */
export async function sweepNetworks(engine: Engine) {
  const live = liveEndpoints(engine);
  const byPlugin = new Map<string, NetworkConfig[]>();
  for (const n of engine.db.listNetworks()) {
    const p = pluginOf(n.Driver);
    byPlugin.set(p, [...(byPlugin.get(p) ?? []), networkConfig(n)]);
  }
  for (const [plugin, nets] of byPlugin) {
    const driver = await engine.plugin("network", plugin).catch(() => undefined);
    await driver?.sweep?.(nets, live.filter((ep) => ep.network.driver === plugin));
  }
}
