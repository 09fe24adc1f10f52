// Network drivers: how a container reaches the network. `bridge`, `host`,
// `none` and `container` implement it; all pass test/conformance/network.ts.
//
// The engine decides where a container's network namespace comes from
// (`namespace`): the host's ("host"), a new one the engine makes before the
// container starts ("private"), or another container's ("shared"). It keeps
// the networks and the endpoints (address, aliases, ports) in its state and
// allocates addresses; a driver only makes them real on the host.
//
// Example: a container on a bridge network, with a published port
//   await d.createNetwork?.(net);                  // once, and again after a crash
//   const a = await d.attach({ containerId, network: net, netnsPath,
//     ifname: "eth0", address: "172.18.0.2", ports: [{ proto: "tcp", hostIp: "", hostPort: 8080, containerPort: 80 }] });
//   ...                                            // the container runs
//   await d.detach({ ...same endpoint });          // at its end
//   await d.removeNetwork?.(net);

/** A network as the engine records it (Docker's network inspect, in short). */
export interface NetworkConfig {
  id: string;
  name: string;
  driver: string;
  /** IPv4 subnet ("172.18.0.0/16") and gateway ("172.18.0.1"); absent for host and none. */
  subnet?: string;
  gateway?: string;
  /** No outbound NAT, no published ports: only the containers on it talk. */
  internal: boolean;
  mtu: number;
  /** Driver options as given to `network create -o`. */
  options: Record<string, string>;
}

export interface PortMapping {
  proto: "tcp" | "udp";
  /** "" for every address of the host (0.0.0.0). */
  hostIp: string;
  hostPort: number;
  containerPort: number;
}

export interface Endpoint {
  containerId: string;
  network: NetworkConfig;
  /** The container's network namespace (a bind-mounted nsfs file); null for "host". */
  netnsPath: string | null;
  /** The interface name inside the container: eth0, eth1, ... */
  ifname: string;
  /** The IPv4 address the engine allocated on the network's subnet. */
  address?: string;
  mac?: string;
  ports: PortMapping[];
  /**
   * Detach at the container's end: its namespace is removed next, and the
   * kernel then deletes the interfaces in it (with their veth peers) by
   * itself, without the ~20 ms a synchronous veth deletion blocks for.
   */
  ending?: boolean;
}

export interface Attachment {
  /** Lines for the container's /etc/hosts after the localhost entries. */
  hostsEntries: string[];
  /** Use the host's /etc/hosts and /etc/resolv.conf as they are (host networking). */
  useHostFiles: boolean;
  /** The MAC address the interface got, when the driver made one. */
  mac?: string;
}

export interface NetworkDriver {
  readonly namespace: "host" | "private" | "shared";
  /** Make the network exist on the host (bridge, addresses, firewall rules). Idempotent: also run for every network at daemon start. */
  createNetwork?(net: NetworkConfig): Promise<void>;
  /** Undo createNetwork. Removing a missing network succeeds. */
  removeNetwork?(net: NetworkConfig): Promise<void>;
  /** Connect a container's namespace to a network. */
  attach(ep: Endpoint): Promise<Attachment>;
  /** Undo attach (interfaces, addresses, published ports). Succeeds when there is nothing left to undo. */
  detach(ep: Endpoint): Promise<void>;
  /**
   * Daemon start, after createNetwork for each network: remove what is left
   * on the host for endpoints not in `live` (the running containers'), and
   * make sure the live ones have all they need (after a crash).
   */
  sweep?(networks: NetworkConfig[], live: Endpoint[]): Promise<void>;
}
