// Healthchecks: the image's HEALTHCHECK or --health-* run as an exec at
// each interval; State.Health and "health_status" events follow Docker.
import { rmSync } from "node:fs";
import { randomHex } from "../ids.ts";
import type { Engine } from "./engine.ts";
import { containerEnv } from "./start.ts";
import type { ContainerRecord, Health } from "./types.ts";
import { processSecurity } from "./security.ts";

const NS = 1e6; // nanoseconds per millisecond
const MAX_OUTPUT = 4096;
const KEEP_LOG = 5;

export function startHealthChecks(engine: Engine, rec: ContainerRecord) {
  const hc = rec.Config.Healthcheck;
  if (!hc?.Test || hc.Test.length === 0 || hc.Test[0] === "NONE") return;
  const interval = (hc.Interval || 30e9) / NS;
  const startInterval = (hc.StartInterval || 5e9) / NS;
  const startPeriod = (hc.StartPeriod || 0) / NS;
  const startedAt = Date.now();
  const rt = engine.rt(rec.Id);
  const schedule = () => {
    const inStartPeriod = Date.now() - startedAt < startPeriod;
    rt.healthTimer = setTimeout(async () => {
      await probe(engine, rec, Date.now() - startedAt < startPeriod).catch(() => {});
      if (rt.healthTimer && rt.proc) schedule();
    }, inStartPeriod && rec.State.Health?.Status === "starting" ? Math.min(startInterval, interval) : interval);
  };
  schedule();
}

export function stopHealthChecks(engine: Engine, id: string) {
  const rt = engine.rt(id);
  if (rt.healthTimer) clearTimeout(rt.healthTimer);
  rt.healthTimer = undefined;
}

/** Run the check once and fold its result into State.Health. */
async function probe(engine: Engine, rec: ContainerRecord, inStartPeriod: boolean) {
  const hc = rec.Config.Healthcheck!;
  const test = hc.Test!;
  const args = test[0] === "CMD-SHELL" ? ["/bin/sh", "-c", test.slice(1).join(" ")] : test.slice(1);
  const timeout = (hc.Timeout || 30e9) / NS;
  const retries = hc.Retries || 3;
  const start = new Date();
  const result = await runCaptured(engine, rec, args, timeout);
  const health: Health = rec.State.Health ?? { Status: "starting", FailingStreak: 0, Log: [] };
  const before = health.Status;
  health.Log = [...health.Log, { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: result.code, Output: result.output }].slice(-KEEP_LOG);
  if (result.code === 0) {
    health.Status = "healthy";
    health.FailingStreak = 0;
  } else if (!inStartPeriod) {
    health.FailingStreak++;
    if (health.FailingStreak >= retries) health.Status = "unhealthy";
  }
  if (!engine.rt(rec.Id).proc) return;
  rec.State.Health = health;
  engine.save(rec);
  if (health.Status !== before) engine.emit("container", `health_status: ${health.Status}`, rec.Id, engine.containerAttributes(rec));
}

/** Run a command in the container, collect up to 4 KiB of its output, kill it after `timeoutMs`. */
async function runCaptured(engine: Engine, rec: ContainerRecord, args: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  const isolation = await engine.plugin("isolation");
  const limits = await engine.plugin("limits");
  const hostname = rec.Config.Hostname || rec.Id.slice(0, 12);
  let output = "";
  const stateDir = engine.execDir(`health-${randomHex(8)}`);
  // Tracked from before its monitor exists: a removal waits until its directory is gone.
  let gone!: () => void;
  engine.trackExec(rec.Id, new Promise<void>((r) => (gone = r)));
  const cleanUp = () => {
    rmSync(stateDir, { recursive: true, force: true });
    gone();
  };
  const proc = await isolation.exec(
    { pid: rec.State.Pid, cgroupJoin: limits.joinFiles(rec.Id) },
    { args, env: containerEnv(rec, hostname), cwd: rec.Config.WorkingDir || "/", user: rec.Config.User || "", ...processSecurity(rec.HostConfig), rlimits: [], terminal: false },
    { stateDir, tty: false, stdin: false, stdinOnce: false },
    async (attach) => {
      const s = await attach({ stdout: true, stderr: true });
      const { decodeFrames } = await import("../api/stdcopy.ts");
      void (async () => {
        for await (const f of decodeFrames(s as unknown as AsyncIterable<Uint8Array>)) {
          if (output.length < MAX_OUTPUT) output += new TextDecoder().decode(f.payload);
        }
      })().catch(() => {});
    },
  ).catch((err) => {
    cleanUp();
    throw err;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), timeoutMs)));
  const outcome = await Promise.race([proc.exited, timedOut]);
  clearTimeout(timer);
  void proc.exited.then(cleanUp, cleanUp);
  if (outcome === "timeout") {
    try {
      process.kill(proc.pid, "SIGKILL");
    } catch {
      // ended meanwhile
    }
    await proc.exited;
    return { code: -1, output: `Health check exceeded timeout (${timeoutMs / 1000}s)` };
  }
  await Bun.sleep(0);
  return { code: outcome.code, output: output.slice(0, MAX_OUTPUT) };
}
