// --userns-remap in the engine: which containers get a user namespace, the
// pinned namespace a container starts in, and the host paths its remapped
// root must be able to reach before it pivots into its root filesystem.
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type { SandboxSpec } from "../contracts/isolation.ts";
import type { IdMapping } from "../contracts/storage.ts";
import { failedPrecondition, invalidArgument } from "../errors.ts";
import { libcSys } from "../sys/libc.ts";
import { pinUserns, unpinUserns } from "../userns/pin.ts";
import { idMaps, toHost, type IdsMap, type Remap } from "../userns/remap.ts";
import type { Engine } from "./engine.ts";
import type { ContainerRecord, HostConfig } from "./types.ts";

/**
 * Docker's UsernsMode values: "" (the daemon's choice), "private" (the same)
 * and "host" (opt out); and, as Docker, what a remapped container may not share.
 */
export function checkUsernsMode(engine: Engine, h: HostConfig & Record<string, unknown>) {
  const mode = h.UsernsMode;
  if (!(mode === undefined || mode === null || mode === "" || mode === "host" || mode === "private")) {
    throw invalidArgument(`--userns: invalid USER mode "${String(mode)}"`, "use --userns=host to run without the daemon's user namespace remapping, or leave it out");
  }
  if (!engine.options.userns || mode === "host") return;
  const optOut = "add --userns=host to run it without remapping";
  if (h.Privileged) throw invalidArgument("privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode", optOut);
  if (h.NetworkMode === "host") throw invalidArgument("cannot share the host's network namespace when user namespaces are enabled", optOut);
  if (h.PidMode === "host") throw invalidArgument("cannot share the host PID namespace when user namespaces are enabled", optOut);
}

/** The daemon's remapping, if this container uses it. */
export function remapOf(engine: Engine, rec: ContainerRecord): Remap | undefined {
  const remap = engine.options.userns;
  return remap && rec.HostConfig.UsernsMode !== "host" ? remap : undefined;
}

/** A remapped container's file owners: as its root sees them, and as the host stores them. */
export function containerIds(engine: Engine, rec: ContainerRecord): { toContainer: IdsMap; toHost: IdsMap } | undefined {
  const remap = remapOf(engine, rec);
  return remap ? idMaps(remap) : undefined;
}

/** Directories made for a remapped container (a missing -v source): its root's, as Docker makes them. */
export function chownCreated(engine: Engine, rec: ContainerRecord, first: string | undefined, last: string) {
  const remap = remapOf(engine, rec);
  if (!remap || !first) return;
  const [uid, gid] = remappedRoot(remap);
  for (let d = last; d.length >= first.length; d = dirname(d)) chownSync(d, uid, gid);
}

/** The remapped root on the host: [uid, gid]. */
export function remappedRoot(remap: Remap): [number, number] {
  return [toHost(remap.uids, 0) ?? 0, toHost(remap.gids, 0) ?? 0];
}

export interface ContainerUserns {
  idmap: IdMapping;
  /** Unpin the namespace (the container's processes and network namespace keep it). */
  release(): void;
}

/** A new user namespace for a container about to start, pinned until `release`. */
export function beginUserns(engine: Engine, id: string, remap: Remap): ContainerUserns {
  const dir = `${engine.root}/userns`;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = `${dir}/${id}`;
  pinUserns(libcSys, path, remap);
  return { idmap: { userns: path, uids: remap.uids, gids: remap.gids }, release: () => unpinUserns(libcSys, path) };
}

/** At daemon start: remove the pins a daemon that died mid-start left, and check a user namespace with the ranges can be made. */
export function initUserns(engine: Engine) {
  sweepUsernsPins(engine);
  const remap = engine.options.userns;
  if (!remap) return;
  try {
    beginUserns(engine, "probe", remap).release();
  } catch (err) {
    throw failedPrecondition(`--userns-remap: cannot make a user namespace with the ranges of ${remap.user}: ${(err as Error).message}`, "check /etc/subuid and /etc/subgid, and that this kernel lets root make user namespaces (user.max_user_namespaces, not in a chroot)");
  }
}

/** Pins left by a daemon that died while starting a container. */
export function sweepUsernsPins(engine: Engine) {
  const dir = `${engine.root}/userns`;
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) unpinUserns(libcSys, `${dir}/${n}`);
}

/**
 * What the remapped root touches on the host by path before it pivots: the
 * root filesystem and the sources of binds under berth's root (its /etc
 * files, volumes). Each directory on the way from the root down gets search
 * permission for the remapped root's group (root:GID, 0710), as Docker sets
 * up its root for a remapped daemon; nothing else of the host is changed.
 * A new volume's root, still the host root's, and the container's /etc
 * files become the remapped root's, as Docker does.
 */
export function prepareForUserns(engine: Engine, spec: SandboxSpec, remap: Remap) {
  const [uid, gid] = remappedRoot(remap);
  const inRoot = (p: string) => p === engine.root || p.startsWith(`${engine.root}/`);
  const paths = [spec.rootfs, ...spec.mounts.filter((m) => m.type === "bind" && inRoot(m.source)).map((m) => m.source)];
  const done = new Set<string>();
  for (const p of paths) {
    for (let d = dirname(p); inRoot(d) && !done.has(d); d = dirname(d)) {
      done.add(d);
      searchable(d, gid);
    }
  }
  for (const m of spec.mounts) {
    if (m.type !== "bind") continue;
    const volume = m.source.startsWith(`${engine.root}/volumes/`);
    // /etc/hosts, /etc/resolv.conf and /etc/hostname: root in the container may edit them, as in Docker.
    const etc = m.source.startsWith(`${engine.root}/containers/`);
    if (!volume && !etc) continue;
    const st = statSync(m.source);
    if (st.uid === 0 && (volume ? st.isDirectory() : st.isFile())) chownSync(m.source, uid, gid);
  }
  // The root filesystem's own root (vfs shifts it, overlay chowns its upper layer).
  const st = lstatSync(spec.rootfs);
  if (st.uid === 0) chownSync(spec.rootfs, uid, gid);
}

function searchable(dir: string, gid: number) {
  const st = statSync(dir);
  const mode = st.mode & 0o7777;
  if (mode & 0o001) return;
  if (st.gid === gid && mode & 0o010) return;
  if (st.gid === 0) {
    chownSync(dir, st.uid, gid);
    chmodSync(dir, mode | 0o010);
  } else chmodSync(dir, mode | 0o001);
}
