// Network drivers: how a container reaches the network. `host` and `none`
// implement it; `bridge` comes with the networking issue.
//
// For a driver whose namespace is "private" the engine creates the
// container's network namespace (loopback up) before the container starts
// and hands its path to attach(); the container's process then joins it.

export interface Attachment {
  /** Lines for the container's /etc/hosts after the localhost entries. */
  hostsEntries: string[];
  /** Use the host's /etc/hosts and /etc/resolv.conf as they are (host networking). */
  useHostFiles: boolean;
}

export interface NetworkDriver {
  /** "host": share the host's network namespace. "private": the container gets its own. */
  readonly namespace: "host" | "private";
  /** Connect a container; `netnsPath` is its namespace (null for "host"). */
  attach(containerId: string, netnsPath: string | null): Promise<Attachment>;
  /** Undo attach. Succeeds when there is nothing left to undo. */
  detach(containerId: string): Promise<void>;
}
