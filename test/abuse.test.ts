// Abuse from inside a container: a fork bomb under --pids-limit, a memory
// hog under --memory, a log flood under json-file rotation. The limits hold,
// the daemon stays up (the same process throughout), and a bystander
// container still answers exec quickly.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname } from "node:path";
import { berth, daemonPid, importBusybox, leaks, makeRoot, processesMatching, removeRoot, type TestRoot } from "./helpers/berth.ts";
import { probeHost } from "../core/host.ts";

let t: TestRoot;
let daemon: number;

beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
  daemon = daemonPid(t)!;
  await ok(["run", "-d", "--name", "bystander", "bb", "sleep", "3600"]);
}, 120_000);

afterEach(async () => {
  expect(daemonPid(t), "the daemon's pid").toBe(daemon);
  expect(existsSync(`/proc/${daemon}`), "the daemon is alive").toBe(true);
  expect((await berth(t, ["ps", "-q"])).code, "the daemon answers").toBe(0);
});

afterAll(async () => {
  await removeRoot(t);
  expect(leaks(t)).toEqual([]);
});

const ok = async (args: string[]) => {
  const r = await berth(t, args);
  expect(r.code, `berth ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
};

/** How long the bystander takes to answer an exec (ms). */
async function bystanderAnswers(): Promise<number> {
  const start = performance.now();
  expect((await ok(["exec", "bystander", "echo", "alive"])).trim()).toBe("alive");
  return performance.now() - start;
}

/** A container's cgroup directory in a v1 hierarchy (or the v2 one), found by its id. */
function cgroupDir(controller: string, id: string): string | undefined {
  const host = probeHost();
  const mount = host.cgroupV1.get(controller)?.mountpoint ?? host.cgroupV2?.mountpoint;
  if (!mount) return undefined;
  const parent = `${mount}/${t.cgroupParent}`;
  if (!existsSync(parent)) return undefined;
  const hit = readdirSync(parent).find((d) => d.includes(id.slice(0, 12)));
  return hit ? `${parent}/${hit}` : undefined;
}

describe("abuse", () => {
  test("a pipeline whose reader exits ends: SIGPIPE (and every signal) has its default action in the container", async () => {
    // Ignored signals survive execve: a runtime that ignores SIGPIPE itself must not hand that on,
    // or `yes | head` spins forever on EPIPE (Docker's containers start with SigIgn 0).
    expect(await ok(["run", "--rm", "bb", "grep", "SigIgn", "/proc/self/status"])).toBe("SigIgn:\t0000000000000000\n");
    const r = await berth(t, ["run", "--rm", "--stop-timeout", "1", "bb", "timeout", "10", "sh", "-c", "yes | head -n 1; wait"]);
    expect(r.code, "yes | head ends before timeout's 10 s").toBe(0);
  }, 60_000);

  test("a fork bomb under --pids-limit 50: held at 50 pids, the host and a bystander unaffected, stoppable, nothing left after rm", async () => {
    const mark = `bomb-${Math.random().toString(36).slice(2, 8)}`;
    const id = (await ok(["run", "-d", "--name", "bomb", "--pids-limit", "50", "bb", "sh", "-c", `: ${mark}; b() { b | b & }; b; sleep 3600`])).trim();
    const pids = cgroupDir("pids", id);
    expect(pids, "the bomb's pids cgroup").toBeDefined();
    let peak = 0;
    for (let i = 0; i < 30; i++) {
      peak = Math.max(peak, Number(readFileSync(`${pids}/pids.current`, "utf8")));
      await Bun.sleep(100);
    }
    // It tried (the limit was reached) and was held.
    expect(peak).toBeGreaterThanOrEqual(45);
    expect(peak).toBeLessThanOrEqual(50);
    expect(Number(readFileSync(`${pids}/pids.events`, "utf8").match(/max (\d+)/)?.[1])).toBeGreaterThan(0);
    expect(await bystanderAnswers(), "ms for the bystander's exec").toBeLessThan(5000);
    expect(Bun.spawnSync(["true"]).exitCode, "the host can start processes").toBe(0);

    const start = performance.now();
    await ok(["stop", "-t", "1", "bomb"]);
    expect(performance.now() - start, "ms to stop the bomb").toBeLessThan(15_000);
    expect(await ok(["inspect", "-f", "{{.State.Running}}", "bomb"])).toBe("false\n");
    await ok(["rm", "bomb"]);
    expect(processesMatching(mark), "processes of the bomb after rm").toEqual([]);
  }, 120_000);

  test("a memory hog under --memory 64m: OOM-killed, exit 137, OOMKilled true; the bystander unaffected", async () => {
    // tail keeps the whole of an endless line in memory.
    const r = await berth(t, ["run", "--name", "hog", "--memory", "64m", "bb", "tail", "/dev/zero"]);
    expect(r.code, r.stderr).toBe(137);
    expect(await ok(["inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "hog"])).toBe("true 137\n");
    expect(await bystanderAnswers()).toBeLessThan(5000);
    await ok(["rm", "hog"]);
  }, 120_000);

  test("a log flood of 300 MB under max-size=1m, max-file=2: the log files stay under 2 MiB and a bit; logs --tail still works", async () => {
    // 3,000,000 lines of 100 bytes, then a last line to find (not `yes | head`: see the SIGPIPE test).
    const script = `awk 'BEGIN { s = sprintf("%99s", ""); gsub(/ /, "a", s); for (i = 0; i < 3000000; i++) print s; print "the-end" }'`;
    const id = (await ok(["run", "-d", "--name", "flood", "--log-opt", "max-size=1m", "--log-opt", "max-file=2", "bb", "sh", "-c", script])).trim();
    const logPath = (await ok(["inspect", "-f", "{{.LogPath}}", "flood"])).trim();
    const dir = dirname(logPath);
    const logBytes = () => readdirSync(dir).filter((f) => f.startsWith(basename(logPath))).reduce((n, f) => n + (statSync(`${dir}/${f}`, { throwIfNoEntry: false })?.size ?? 0), 0);
    let peak = 0;
    let samples = 0;
    const deadline = Date.now() + 180_000;
    while ((await ok(["inspect", "-f", "{{.State.Running}}", id])).trim() === "true" && Date.now() < deadline) {
      peak = Math.max(peak, logBytes());
      samples++;
      if (samples % 10 === 0) expect(await bystanderAnswers()).toBeLessThan(5000);
      await Bun.sleep(50);
    }
    peak = Math.max(peak, logBytes());
    expect(await ok(["inspect", "-f", "{{.State.ExitCode}}", id])).toBe("0\n");
    // Two files of at most 1 MiB, each maybe one JSON line over.
    expect(peak, "peak bytes of the log files").toBeLessThanOrEqual(2 * 1024 * 1024 + 4096);
    expect(peak).toBeGreaterThan(1024 * 1024);
    expect(readdirSync(dir).filter((f) => f.startsWith(basename(logPath))).length).toBeLessThanOrEqual(2);
    const tail = await ok(["logs", "--tail", "3", "flood"]);
    expect(tail.split("\n").filter(Boolean)).toEqual(["a".repeat(99), "a".repeat(99), "the-end"]);
    await ok(["rm", "flood"]);
  }, 240_000);
});
