// Stop, kill, restart, pause, unpause, wait, rename and resize.
import { constants as osConstants } from "node:os";
import { conflict, invalidArgument, notModified } from "../errors.ts";
import type { Engine, WaitCondition, WaitResult } from "./engine.ts";
import type { ContainerRecord } from "./types.ts";

/** A signal by name ("SIGTERM", "TERM") or number ("15"). */
export function parseSignal(sig: string | undefined, fallback = "SIGKILL"): { name: string; number: number } {
  const s = (sig || fallback).toUpperCase();
  const signals = osConstants.signals as Record<string, number>;
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    const name = Object.keys(signals).find((k) => signals[k] === n);
    if (!name) throw invalidArgument(`Invalid signal: ${sig}`);
    return { name, number: n };
  }
  const name = s.startsWith("SIG") ? s : `SIG${s}`;
  if (signals[name] === undefined) throw invalidArgument(`Invalid signal: ${sig}`);
  return { name, number: signals[name]! };
}

function notRunning(rec: ContainerRecord) {
  return conflict(`Container ${rec.Id} is not running`);
}

/** Wait for the current run's exit to be recorded, at most `ms` (Infinity: no limit). */
async function exitRecorded(engine: Engine, id: string, ms: number): Promise<boolean> {
  const finished = engine.rt(id).finished;
  if (!finished) return true;
  if (ms === Infinity) return finished.then(() => true);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  const done = await Promise.race([finished.then(() => true), timeout]);
  clearTimeout(timer);
  return done;
}

/** docker stop: the stop signal, then SIGKILL after `timeout` seconds (-1: wait forever). */
export async function stopContainer(engine: Engine, rec: ContainerRecord, opts: { timeout?: number; signal?: string }) {
  const id = rec.Id;
  const rt = engine.rt(id);
  const wasRunning = await engine.serialize(id, async () => {
    rec.ManuallyStopped = true;
    if (rt.restartTimer) {
      clearTimeout(rt.restartTimer);
      rt.restartTimer = undefined;
    }
    if (rec.State.Restarting) {
      rec.State = { ...rec.State, Status: "exited", Restarting: false };
      engine.save(rec);
      return false;
    }
    engine.save(rec);
    if (!rt.proc) return false;
    if (rec.State.Paused) await (await engine.plugin("limits")).thaw(id);
    const sig = parseSignal(opts.signal || rec.Config.StopSignal, "SIGTERM");
    signalProcess(rt.proc.pid, sig.number);
    engine.emit("container", "kill", id, engine.containerAttributes(rec, { signal: String(sig.number) }));
    return true;
  });
  if (!wasRunning) throw notModified(`container ${id.slice(0, 12)} is already stopped`);
  const seconds = opts.timeout ?? rec.Config.StopTimeout ?? 10;
  if (!(await exitRecorded(engine, id, seconds < 0 ? Infinity : seconds * 1000))) {
    await engine.serialize(id, async () => {
      if (!rt.proc) return;
      await (await engine.plugin("limits")).killAll(id).catch(() => signalProcess(rt.proc!.pid, 9));
      engine.emit("container", "kill", id, engine.containerAttributes(rec, { signal: "9" }));
    });
    await exitRecorded(engine, id, Infinity);
  }
  engine.emit("container", "stop", id, engine.containerAttributes(rec));
}

/** docker kill: a signal to the container's PID 1 (SIGKILL kills every process in it). */
export async function killContainer(engine: Engine, rec: ContainerRecord, signal?: string) {
  const sig = parseSignal(signal);
  const id = rec.Id;
  const rt = engine.rt(id);
  await engine.serialize(id, async () => {
    if (!rt.proc) throw notRunning(rec);
    if (sig.number === 9 || sig.number === 15) rec.ManuallyStopped = true;
    engine.save(rec);
    if (sig.number === 9) await (await engine.plugin("limits")).killAll(id).catch(() => signalProcess(rt.proc!.pid, 9));
    else signalProcess(rt.proc.pid, sig.number);
    engine.emit("container", "kill", id, engine.containerAttributes(rec, { signal: String(sig.number) }));
  });
  if (sig.number === 9) await exitRecorded(engine, id, Infinity);
}

export async function restartContainer(engine: Engine, rec: ContainerRecord, opts: { timeout?: number; signal?: string }) {
  if (engine.rt(rec.Id).proc) await stopContainer(engine, rec, opts);
  await engine.serialize(rec.Id, async () => {
    const { startContainer } = await import("./start.ts");
    rec.ManuallyStopped = false;
    await startContainer(engine, rec);
  });
  engine.emit("container", "restart", rec.Id, engine.containerAttributes(rec));
}

export async function pauseContainer(engine: Engine, rec: ContainerRecord) {
  await engine.serialize(rec.Id, async () => {
    if (!engine.rt(rec.Id).proc) throw notRunning(rec);
    if (rec.State.Paused) throw conflict(`Container ${rec.Id} is already paused`);
    await (await engine.plugin("limits")).freeze(rec.Id);
    rec.State = { ...rec.State, Status: "paused", Paused: true };
    engine.save(rec);
    engine.emit("container", "pause", rec.Id, engine.containerAttributes(rec));
  });
}

export async function unpauseContainer(engine: Engine, rec: ContainerRecord) {
  await engine.serialize(rec.Id, async () => {
    if (!rec.State.Paused) throw conflict(`Container ${rec.Id} is not paused`);
    await (await engine.plugin("limits")).thaw(rec.Id);
    rec.State = { ...rec.State, Status: "running", Paused: false };
    engine.save(rec);
    engine.emit("container", "unpause", rec.Id, engine.containerAttributes(rec));
  });
}

/** docker wait: the exit code once the condition holds. */
export function waitContainer(engine: Engine, rec: ContainerRecord, condition: WaitCondition = "not-running"): Promise<WaitResult> {
  if (!["not-running", "next-exit", "removed"].includes(condition)) throw invalidArgument(`invalid condition: "${condition}"`);
  const running = !!engine.rt(rec.Id).proc || rec.State.Restarting;
  if (condition === "not-running" && !running) {
    return Promise.resolve({ StatusCode: rec.State.ExitCode, Error: rec.State.Error ? { Message: rec.State.Error } : null });
  }
  return new Promise((resolve) => engine.rt(rec.Id).waiters.push({ condition, resolve }));
}

export async function renameContainer(engine: Engine, rec: ContainerRecord, name: string) {
  const n = `/${name.replace(/^\//, "")}`;
  if (!/^\/[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(n)) throw invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  if (n === rec.Name) throw invalidArgument(`Renaming a container with the same name as its current name`);
  const old = rec.Name;
  engine.rename(rec, n);
  engine.emit("container", "rename", rec.Id, engine.containerAttributes(rec, { oldName: old }));
}

export function resizeContainer(engine: Engine, rec: ContainerRecord, rows: number, cols: number) {
  const proc = engine.rt(rec.Id).proc;
  if (!proc) throw notRunning(rec);
  proc.resize(rows, cols);
  engine.emit("container", "resize", rec.Id, engine.containerAttributes(rec, { height: String(rows), width: String(cols) }));
}

function signalProcess(pid: number, signal: number) {
  try {
    process.kill(pid, signal);
  } catch {
    // it has just ended
  }
}
