// What happens when a container's process ends: record how it ended,
// release what it held, wake the waiters, then remove it (--rm) or restart
// it as its policy says, with Docker's back-off.
import { rmSync } from "node:fs";
import type { ExitStatus, Supervised } from "../contracts/isolation.ts";
import { isKind } from "../errors.ts";
import { removeNetns } from "../sys/netns.ts";
import { libcSys } from "../sys/libc.ts";
import type { Engine, WaitCondition } from "./engine.ts";
import { stopHealthChecks } from "./health.ts";
import type { ContainerRecord } from "./types.ts";

/** Record the exit of `proc` (the container's current run) and act on it. */
export async function handleExit(engine: Engine, id: string, proc: Supervised | undefined, status: ExitStatus) {
  const rec = await engine.serialize(id, async () => {
    const rec = engine.containers.get(id);
    const rt = engine.rt(id);
    if (proc && rt.proc !== proc) return undefined;
    rt.proc = undefined;
    stopHealthChecks(engine, id);
    const limits = await engine.plugin("limits");
    let oomKilled = false;
    try {
      oomKilled = limits.exists(id) && limits.oomKilled(id);
    } catch (err) {
      if (!isKind(err, "NotFound")) throw err;
    }
    if (rec) await releaseResources(engine, rec);
    rmSync(engine.monitorDir(id), { recursive: true, force: true });
    if (!rec) return undefined;
    rec.State = {
      ...rec.State,
      Status: "exited",
      Running: false,
      Paused: false,
      Restarting: false,
      Pid: 0,
      ExitCode: status.code,
      OOMKilled: oomKilled,
      Error: status.error ?? "",
      FinishedAt: status.finishedAt ?? new Date().toISOString(),
    };
    engine.save(rec);
    if (oomKilled) engine.emit("container", "oom", id, engine.containerAttributes(rec));
    engine.emit("container", "die", id, engine.containerAttributes(rec, { exitCode: String(status.code) }));
    wake(engine, id, ["not-running", "next-exit"], status.code, status.error);
    return rec;
  });
  if (!rec) return;
  if (rec.HostConfig.AutoRemove) {
    const { removeContainer } = await import("./remove.ts");
    await removeContainer(engine, rec, { force: true, volumes: true }).catch(() => {});
  } else {
    scheduleRestart(engine, rec);
  }
}

/** Undo everything start did. Idempotent: every step tolerates "already gone". */
export async function releaseResources(engine: Engine, rec: ContainerRecord) {
  const id = rec.Id;
  await (await engine.plugin("limits")).remove(id);
  // Its execs died with the cgroup: wait (at most 10 s) until their monitors are gone and their files removed.
  await Promise.race([Promise.all(engine.rt(id).execs), Bun.sleep(10_000)]);
  const { detachEndpoints } = await import("./networks.ts");
  await detachEndpoints(engine, rec, engine.netnsPath(id), true);
  removeNetns(libcSys, engine.netnsPath(id));
  const { unmountVolumes } = await import("./start.ts");
  await unmountVolumes(engine, rec);
  await (await engine.storage(rec.Driver)).unmount(id);
}

/** Resolve the waiters of `conditions`. */
export function wake(engine: Engine, id: string, conditions: WaitCondition[], code: number, error?: string) {
  const rt = engine.rt(id);
  const keep = [];
  for (const w of rt.waiters) {
    if (conditions.includes(w.condition)) w.resolve({ StatusCode: code, Error: error ? { Message: error } : null });
    else keep.push(w);
  }
  rt.waiters = keep;
}

/** Docker's rule: should this exit be followed by a restart? */
export function shouldRestart(rec: ContainerRecord, exitCode: number): boolean {
  const p = rec.HostConfig.RestartPolicy;
  if (!p || rec.ManuallyStopped || rec.HostConfig.AutoRemove) return false;
  if (p.Name === "always" || p.Name === "unless-stopped") return true;
  if (p.Name === "on-failure") return exitCode !== 0 && (!p.MaximumRetryCount || rec.RestartCount < p.MaximumRetryCount);
  return false;
}

const MIN_DELAY = 100;
const MAX_DELAY = 60_000;

/** Restart by policy after a back-off that doubles (100 ms up to 1 min), reset after 10 s of running. */
export function scheduleRestart(engine: Engine, rec: ContainerRecord) {
  const rt = engine.rt(rec.Id);
  if (rt.removing || !shouldRestart(rec, rec.State.ExitCode)) return;
  const ran = Date.parse(rec.State.FinishedAt) - Date.parse(rec.State.StartedAt);
  if (ran >= 10_000) rt.restartDelay = MIN_DELAY;
  const delay = rt.restartDelay;
  rt.restartDelay = Math.min(delay * 2, MAX_DELAY);
  rec.State = { ...rec.State, Status: "restarting", Restarting: true };
  engine.save(rec);
  rt.restartTimer = setTimeout(() => {
    rt.restartTimer = undefined;
    void engine
      .serialize(rec.Id, async () => {
        if (!rec.State.Restarting || !engine.containers.has(rec.Id) || rt.removing) return;
        rec.RestartCount++;
        const { startContainer } = await import("./start.ts");
        await startContainer(engine, rec);
        engine.emit("container", "restart", rec.Id, engine.containerAttributes(rec));
      })
      .catch((err) => {
        rec.State = { ...rec.State, Status: "exited", Restarting: false, Error: err instanceof Error ? err.message : String(err) };
        engine.save(rec);
        scheduleRestart(engine, rec);
      });
  }, delay);
}
