// Volume drivers: named storage that outlives containers. `local` keeps a
// directory per volume (optionally a filesystem mounted there, from the
// Docker-style options type, device and o). The engine keeps the volumes'
// names, labels and users in its state; a driver only holds their data.
// Every driver passes test/conformance/volume.ts.

export interface VolumeDriver {
  /** Create the volume's storage. `options` are the driver's own; unknown ones are an InvalidArgument error. Creating an existing volume is a no-op. */
  create(name: string, options: Record<string, string>): Promise<void>;
  /** Remove the volume's storage and data. Fails with Conflict while mounted; a missing volume is fine. */
  remove(name: string): Promise<void>;
  /**
   * Make the volume usable by `user` (a container ID) and return the host
   * path to bind into the container. Idempotent per user: the volume stays
   * mounted until every user has unmounted it.
   */
  mount(name: string, user: string): Promise<string>;
  unmount(name: string, user: string): Promise<void>;
  /** Host path of the volume's data (where mount() points). */
  path(name: string): string;
  /** Names of the volumes this driver holds. */
  list(): string[];
}
