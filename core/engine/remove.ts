// Remove a container: stop it if forced, release what it holds, delete its
// writable layer, its files, its record, and with `volumes` its anonymous
// volumes.
import { rmSync } from "node:fs";
import { conflict } from "../errors.ts";
import type { Engine } from "./engine.ts";
import { releaseResources, wake } from "./exit.ts";
import type { ContainerRecord } from "./types.ts";
import { removeAnonymousVolumes } from "./volumes.ts";

export async function removeContainer(engine: Engine, rec: ContainerRecord, opts: { force: boolean; volumes?: boolean }) {
  const id = rec.Id;
  const rt = engine.rt(id);
  if (rt.proc && !opts.force) {
    throw conflict(`You cannot remove a running container ${id}. Stop the container before attempting removal or force remove`);
  }
  // From now on no restart policy starts it again (a start already queued or under way may still finish: then it is killed below).
  const wasRemoving = rt.removing;
  rt.removing = true;
  if (rt.restartTimer) clearTimeout(rt.restartTimer);
  rt.restartTimer = undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      if (rt.proc) {
        const { killContainer } = await import("./lifecycle.ts");
        await killContainer(engine, rec, "SIGKILL").catch(() => {});
      }
      if (await engine.serialize(id, () => removeStopped(engine, rec, opts))) return;
      if (attempt === 3) throw conflict(`container ${id.slice(0, 12)} keeps being started while it is removed`);
    }
  } finally {
    rt.removing = wasRemoving;
  }
}

/** The removal proper, as one lifecycle operation; false if the container runs (again). */
async function removeStopped(engine: Engine, rec: ContainerRecord, opts: { volumes?: boolean }): Promise<boolean> {
  const id = rec.Id;
  const rt = engine.rt(id);
  if (!engine.containers.has(id)) return true;
  if (rt.proc) return false;
  for (const s of engine.execs.values()) if (s.record.ContainerID === id) engine.execs.delete(s.record.ID);
  await releaseResources(engine, rec);
  await (await engine.storage(rec.Driver)).removeWritable(id);
  rmSync(engine.containerDir(id), { recursive: true, force: true });
  rmSync(engine.monitorDir(id), { recursive: true, force: true });
  engine.forget(id);
  if (opts.volumes) await removeAnonymousVolumes(engine, rec);
  engine.emit("container", "destroy", id, engine.containerAttributes(rec));
  wake(engine, id, ["removed", "not-running", "next-exit"], rec.State.ExitCode);
  engine.runtime.delete(id);
  return true;
}
