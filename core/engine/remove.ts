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
  if (rt.proc) {
    if (!opts.force) {
      throw conflict(`You cannot remove a running container ${id}. Stop the container before attempting removal or force remove`);
    }
    const { killContainer } = await import("./lifecycle.ts");
    await killContainer(engine, rec, "SIGKILL").catch(() => {});
  }
  await engine.serialize(id, async () => {
    if (!engine.containers.has(id)) return;
    if (rt.proc) throw conflict(`container ${id.slice(0, 12)} started again while being removed`);
    if (rt.restartTimer) clearTimeout(rt.restartTimer);
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
  });
}
