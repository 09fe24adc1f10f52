// `-v` binds and `--tmpfs` mounts: parsed and checked at create time,
// turned into sandbox mounts at start.
import { isAbsolute } from "node:path";
import type { MountSpec } from "../contracts/isolation.ts";
import { invalidArgument } from "../errors.ts";
import { DEFAULT_TMPFS_OPTIONS } from "./defaults.ts";
import type { MountPoint } from "./types.ts";

const PROPAGATIONS = ["private", "rprivate", "shared", "rshared", "slave", "rslave"];

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * `docker run -v` specs: "/host:/ctr[:opts]" (a bind), "name:/ctr[:opts]"
 * (a named volume) or "/ctr" (an anonymous volume).
 */
export function parseBinds(binds: string[]): MountPoint[] {
  return binds.map((spec) => {
    const parts = spec.split(":");
    if (parts.length === 1 && isAbsolute(spec)) {
      return { Type: "volume", Name: "", Source: "", Destination: spec, Driver: "local", Mode: "", RW: true, Propagation: "", Anonymous: true };
    }
    if (parts.length < 2 || parts.length > 3) {
      throw invalidArgument(`invalid volume specification: '${spec}'`, "use -v /host/path:/container/path[:ro] or -v volume-name:/container/path");
    }
    const [source, destination, mode = ""] = parts as [string, string, string?];
    if (!isAbsolute(source)) {
      if (!VOLUME_NAME.test(source)) {
        throw invalidArgument(`create ${source}: "${source}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
      }
      if (!isAbsolute(destination)) throw invalidArgument(`invalid mount config for type "volume": invalid mount path: '${destination}' mount path must be absolute`);
      const opts = mode.split(",").filter(Boolean);
      for (const o of opts) if (!["ro", "rw", "nocopy", "z", "Z"].includes(o)) throw invalidArgument(`invalid mode: ${o} in volume specification '${spec}'`);
      return { Type: "volume", Name: source, Source: "", Destination: destination, Driver: "local", Mode: mode || "z", RW: !opts.includes("ro"), Propagation: "", NoCopy: opts.includes("nocopy") };
    }
    if (!isAbsolute(destination)) {
      throw invalidArgument(`invalid mount config for type "bind": invalid mount path: '${destination}' mount path must be absolute`);
    }
    if (destination === "/") throw invalidArgument(`invalid specification: destination can't be '/' in '${spec}'`);
    let rw = true;
    let propagation = "rprivate";
    for (const opt of mode.split(",").filter(Boolean)) {
      if (opt === "ro") rw = false;
      else if (opt === "rw") rw = true;
      else if (PROPAGATIONS.includes(opt)) propagation = opt;
      else if (opt === "z" || opt === "Z" || opt === "nocopy" || opt === "delegated" || opt === "cached" || opt === "consistent") continue;
      else throw invalidArgument(`invalid mode: ${opt} in volume specification '${spec}'`, "options are ro, rw and a propagation (rprivate, rshared, rslave, ...)");
    }
    return { Type: "bind", Source: source, Destination: destination, Mode: mode, RW: rw, Propagation: propagation };
  });
}

/** HostConfig.Tmpfs: {"/path": "size=64m,mode=1777"}. */
export function parseTmpfs(tmpfs: Record<string, string>): MountSpec[] {
  return Object.entries(tmpfs).map(([destination, opts]) => {
    if (!isAbsolute(destination)) throw invalidArgument(`invalid tmpfs mount path: '${destination}' must be absolute`);
    const given = opts.split(",").filter(Boolean);
    return { type: "tmpfs", source: "tmpfs", destination, options: [...DEFAULT_TMPFS_OPTIONS, ...given] };
  });
}

export function bindToMountSpec(m: MountPoint): MountSpec {
  return { type: "bind", source: m.Source, destination: m.Destination, options: ["rbind", m.Propagation, ...(m.RW ? [] : ["ro"])] };
}

/** Parents before children, as Docker orders mounts. */
export function sortByDepth<T extends { destination: string }>(mounts: T[]): T[] {
  const depth = (p: string) => p.split("/").filter(Boolean).length;
  return [...mounts].sort((a, b) => depth(a.destination) - depth(b.destination));
}
