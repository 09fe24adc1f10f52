// Remove a container: stop it if forced, release what it holds, delete its
// writable layer, its files and its record.
import { rmSync } from "node:fs";
import { conflict } from "../errors.ts";
import { isSameProcess } from "../proc.ts";
import type { Engine } from "./engine.ts";
import { releaseResources } from "./start.ts";
import type { ContainerRecord } from "./types.ts";

export async function removeContainer(engine: Engine, rec: ContainerRecord, opts: { force: boolean }) {
  const id = rec.Id;
  const limits = await engine.plugin("limits");
  const alive = rec.State.Running && isSameProcess(rec.State.Pid, rec.PidStartTime);
  if (alive && !opts.force) {
    throw conflict(
      `You cannot remove a running container ${id}. Stop the container before attempting removal or force remove`,
    );
  }
  if (alive || limits.exists(id)) await limits.killAll(id);
  await releaseResources(engine, id, rec);
  const storage = await engine.storage(rec.Driver);
  await storage.removeWritable(id);
  rmSync(engine.containerDir(id), { recursive: true, force: true });
  engine.db.deleteContainer(id);
}
