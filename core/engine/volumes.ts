// Volumes as the engine keeps them: records (name, driver, labels, options)
// in the state database, data in a volume driver, and users found from the
// containers' mounts. Filling a new volume from the image happens at start.
import { readdirSync } from "node:fs";
import { conflict, invalidArgument, notFound } from "../errors.ts";
import { randomHex } from "../ids.ts";
import type { Engine } from "./engine.ts";
import type { ContainerRecord, VolumeRecord } from "./types.ts";
import { visible } from "../owner.ts";

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string>;
  Labels?: Record<string, string>;
}

export function listVolumes(engine: Engine): VolumeRecord[] {
  return engine.db.listVolumes();
}

export function getVolume(engine: Engine, name: string): VolumeRecord {
  const v = engine.db.listVolumes().find((x) => x.Name === name && visible(x.Owner));
  if (!v) throw notFound(`get ${name}: no such volume`);
  return v;
}

/** Create a volume; creating an existing one returns it (with its original options), as Docker does. */
export async function createVolume(engine: Engine, req: VolumeCreateRequest, anonymous = false): Promise<VolumeRecord> {
  const name = req.Name || randomHex(32);
  if (!NAME.test(name)) {
    throw invalidArgument(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
  // A local volume is a directory named after it.
  if (name.length > 255) throw invalidArgument(`create ${name.slice(0, 40)}...: a volume name may have at most 255 characters`);
  const existing = engine.db.listVolumes().find((x) => x.Name === name);
  // Volume names are one namespace: another user's (--owner-scope) is neither returned nor mounted.
  if (existing && !visible(existing.Owner)) throw conflict(`create ${name}: the volume name is in use by another user`);
  if (existing) return existing;
  const driverName = req.Driver || "local";
  const driver = await engine.plugin("volume", driverName);
  await driver.create(name, req.DriverOpts ?? {});
  const v: VolumeRecord = {
    Name: name,
    Driver: driverName,
    Mountpoint: driver.path(name),
    CreatedAt: new Date().toISOString(),
    Labels: req.Labels ?? {},
    Options: req.DriverOpts ?? {},
    Scope: "local",
    Anonymous: anonymous,
  };
  engine.db.putVolume(v);
  engine.emit("volume", "create", name, { driver: driverName });
  return v;
}

export const ensureVolume = (engine: Engine, name: string) => createVolume(engine, { Name: name });
export const createAnonymousVolume = (engine: Engine) => createVolume(engine, {}, true);

/** IDs of the containers (running or not) that mount the volume. */
export function volumeUsers(engine: Engine, name: string): string[] {
  return engine.list().filter((c) => c.Mounts.some((m) => m.Type === "volume" && m.Name === name)).map((c) => c.Id);
}

export async function removeVolume(engine: Engine, name: string, force = false) {
  const v = engine.db.listVolumes().find((x) => x.Name === name && visible(x.Owner));
  if (!v) {
    if (force) return;
    throw notFound(`get ${name}: no such volume`);
  }
  const users = volumeUsers(engine, name);
  if (users.length > 0) throw conflict(`remove ${name}: volume is in use - [${users.join(", ")}]`);
  await (await engine.plugin("volume", v.Driver)).remove(name);
  engine.db.deleteVolume(name);
  engine.emit("volume", "destroy", name, { driver: v.Driver });
}

/** Remove unused volumes: anonymous ones, or all with `all` (Docker 23+'s rule); returns names and bytes freed. */
export async function pruneVolumes(engine: Engine, all: boolean, labelFilters: string[] = []): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
  const deleted: string[] = [];
  let space = 0;
  for (const v of engine.db.listVolumes()) {
    if (!all && !v.Anonymous) continue;
    if (!visible(v.Owner)) continue;
    if (!labelFilters.every((f) => matchLabel(v.Labels, f))) continue;
    if (volumeUsers(engine, v.Name).length > 0) continue;
    space += dirSize(v.Mountpoint);
    await removeVolume(engine, v.Name);
    deleted.push(v.Name);
  }
  return { VolumesDeleted: deleted, SpaceReclaimed: space };
}

/** Remove a container's anonymous volumes (rm -v) that no other container uses. */
export async function removeAnonymousVolumes(engine: Engine, rec: ContainerRecord) {
  for (const m of rec.Mounts) {
    if (m.Type !== "volume" || !m.Anonymous || !m.Name) continue;
    if (volumeUsers(engine, m.Name).some((id) => id !== rec.Id)) continue;
    const v = engine.db.listVolumes().find((x) => x.Name === m.Name);
    if (!v) continue;
    await (await engine.plugin("volume", v.Driver)).remove(v.Name);
    engine.db.deleteVolume(v.Name);
    engine.emit("volume", "destroy", v.Name, { driver: v.Driver });
  }
}

export function matchLabel(labels: Record<string, string>, filter: string): boolean {
  const neg = filter.startsWith("!");
  const f = neg ? filter.slice(1) : filter;
  const eq = f.indexOf("=");
  const hit = eq < 0 ? f in labels : labels[f.slice(0, eq)] === f.slice(eq + 1);
  return neg ? !hit : hit;
}

export function dirSize(dir: string): number {
  let total = 0;
  try {
    for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (e.isFile()) total += Bun.file(`${e.parentPath}/${e.name}`).size;
    }
  } catch {
    // gone meanwhile
  }
  return total;
}
