// berthd dies (SIGKILL, SIGTERM) while containers run, exit, start and
// restart; the next berth command starts a new daemon, which must take the
// containers back as they are: same ids and start times, exits that
// happened meanwhile recorded, logs still written, exec/stop/rm working,
// restart policies still applied, and nothing left behind.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { BERTH, daemonPid, importBusybox, leaks, makeRoot, processesMatching, removeRoot, type Result, type TestRoot } from "./helpers/berth.ts";

let t: TestRoot;
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
});
afterEach(async () => {
  // Whatever a failed test left: remove it so the next test starts clean.
  const ids = (await berth(["ps", "-aq"])).stdout.trim().split("\n").filter(Boolean);
  if (ids.length) await berth(["rm", "-f", ...ids]);
  await killStuckMonitors();
});
afterAll(async () => {
  // removeRoot stops the daemon named in berthd.pid: make sure that is a live daemon of this root.
  await berth(["version"]);
  await removeRoot(t);
});

/**
 * `berth <args>` against the test root, killed after `ms` (a hung command
 * fails its test instead of the whole file): code -1 and "timed out" then.
 */
async function berth(args: string[], ms = 30_000): Promise<Result> {
  const proc = Bun.spawn([BERTH, ...t.flags, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, ms);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return timedOut ? { code: -1, stdout, stderr: `${stderr}berth ${args.join(" ")}: timed out after ${ms} ms` } : { code, stdout, stderr };
}

/**
 * After a failed test: monitors of this root that rm -f could not end
 * (these are this test's own processes) are killed, and the daemon is
 * restarted so that it records their end, then everything is removed.
 */
async function killStuckMonitors() {
  const stuck = monitorsOfRoot();
  if (!stuck.length) return;
  for (const pid of stuck) process.kill(pid, "SIGKILL");
  if (liveDaemon()) await signalDaemon("SIGTERM");
  const ids = (await berth(["ps", "-aq"])).stdout.trim().split("\n").filter(Boolean);
  if (ids.length) await berth(["rm", "-f", ...ids]);
}

// ---- processes -------------------------------------------------------------

function stat(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  const s = stat(pid);
  return !!s && s[0] !== "Z" && s[0] !== "X";
}

/** A process identity that survives pid reuse: "pid:starttime". */
function identity(pid: number): string | undefined {
  const s = stat(pid);
  return s ? `${pid}:${s[19]}` : undefined;
}

function stillThere(id: string): boolean {
  const [pid] = id.split(":");
  return identity(Number(pid)) === id && alive(Number(pid));
}

/** `pids` and all their descendants, as identities. */
function tree(pids: number[]): string[] {
  const out: string[] = [];
  const todo = [...pids];
  while (todo.length) {
    const pid = todo.pop()!;
    const id = identity(pid);
    if (!id) continue;
    out.push(id);
    try {
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        for (const c of readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim().split(" ").filter(Boolean)) todo.push(Number(c));
      }
    } catch {
      // gone
    }
  }
  return out;
}

/** The monitors of this root (berth-monitor --dir <execRoot>/c/<id> or /e/<id>). */
function monitorsOfRoot(): number[] {
  return processesMatching(`${t.execRoot}/`);
}

/** Container id -> pid of the live monitor that runs it. */
function monitorByContainer(): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of monitorsOfRoot()) {
    let cmd: string[];
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    const dir = cmd[cmd.indexOf("--dir") + 1] ?? "";
    const m = new RegExp(`^${t.execRoot}/c/([a-f0-9]{64})$`).exec(dir);
    if (m) out.set(m[1]!, pid);
  }
  return out;
}

/** The live daemon of this root, checked by its command line (berthd.pid outlives a SIGKILLed daemon). */
function liveDaemon(): number | undefined {
  const pid = daemonPid(t);
  if (!pid || !alive(pid)) return undefined;
  const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  return cmd.includes(t.root) && cmd.some((a) => a.includes("daemon/main")) ? pid : undefined;
}

async function waitUntil(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await Bun.sleep(20);
  }
}

/** Signal this root's daemon and wait until it is gone. Returns its pid. */
async function signalDaemon(signal: "SIGKILL" | "SIGTERM"): Promise<number> {
  const pid = liveDaemon();
  if (!pid) throw new Error("no live daemon for this root");
  process.kill(pid, signal);
  await waitUntil(`berthd ${pid} is gone`, () => !alive(pid), 5000);
  return pid;
}

// ---- berth -----------------------------------------------------------------

async function ok(args: string[]): Promise<string> {
  const r = await berth(args);
  if (r.code !== 0) throw new Error(`berth ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

interface Inspected {
  Id: string;
  Name: string;
  RestartCount: number;
  State: { Status: string; Running: boolean; Restarting: boolean; Pid: number; ExitCode: number; StartedAt: string; FinishedAt: string; Error: string };
}

async function inspect(...refs: string[]): Promise<Inspected[]> {
  return JSON.parse(await ok(["inspect", ...refs]));
}

/** `ps -a`: full id -> "name state status". */
async function psAll(): Promise<Map<string, { name: string; state: string; status: string }>> {
  const out = await ok(["ps", "-a", "--no-trunc", "--format", "{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Status}}"]);
  const m = new Map<string, { name: string; state: string; status: string }>();
  for (const line of out.trim().split("\n").filter(Boolean)) {
    const [id, name, state, status] = line.split("\t");
    m.set(id!, { name: name!, state: state!, status: status! });
  }
  return m;
}

async function removeAll() {
  const ids = [...(await psAll()).keys()];
  if (ids.length) {
    const r = await berth(["rm", "-f", ...ids]);
    expect(r.code, r.stderr).toBe(0);
  }
  expect((await psAll()).size).toBe(0);
}

const TICKER = ["sh", "-c", 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.05; done'];

/** The ticker's log lines: "tick 0", "tick 1", ... with none missing. */
async function ticks(ref: string): Promise<number> {
  const lines = (await ok(["logs", ref])).trim().split("\n").filter(Boolean);
  lines.forEach((l, i) => expect(l).toBe(`tick ${i}`));
  return lines.length;
}

describe("berthd killed with SIGKILL while idle", () => {
  test("containers and monitors survive; a restarted daemon adopts them, records the exit that happened meanwhile, and can exec, log, stop and remove", async () => {
    const sleeper = (await ok(["run", "-d", "--name", "crash-sleeper", "bb", "sleep", "1000"])).trim();
    const ticker = (await ok(["run", "-d", "--name", "crash-ticker", "bb", ...TICKER])).trim();
    const quiet = (await ok(["run", "-d", "--name", "crash-quiet", "bb", "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"])).trim();
    const long = [sleeper, ticker, quiet];
    const before = new Map((await inspect(...long)).map((c) => [c.Id, c]));
    const short = (await ok(["run", "-d", "--name", "crash-short", "bb", "sh", "-c", "sleep 1; exit 42"])).trim();
    const [shortBefore] = await inspect(short);
    const monitors = monitorByContainer();
    const procs = tree(monitorsOfRoot());

    const oldDaemon = await signalDaemon("SIGKILL");
    expect(alive(shortBefore!.State.Pid), "the short container ends 1 s after it started: kill the daemon before").toBe(true);

    // Without a daemon: the monitors and the containers run on.
    for (const id of [...long, short]) {
      expect(monitors.get(id), `monitor of ${id}`).toBeDefined();
      expect(alive(monitors.get(id)!), `monitor of ${id}`).toBe(true);
      expect(alive(before.get(id)?.State.Pid ?? shortBefore!.State.Pid), `process of ${id}`).toBe(true);
    }
    expect(existsSync(t.socket) ? liveDaemon() : undefined).toBeUndefined();
    // The short one ends while nobody is watching: its monitor records it and goes.
    await waitUntil("the short container has exited", () => !alive(shortBefore!.State.Pid), 5000);
    await waitUntil("the short container's monitor has exited", () => !alive(monitors.get(short)!), 10_000);

    // Any command starts a new daemon, which adopts what runs.
    const ps = await psAll();
    const newDaemon = liveDaemon();
    expect(newDaemon).toBeDefined();
    expect(newDaemon).not.toBe(oldDaemon);
    for (const id of long) {
      expect(ps.get(id)?.state, `ps state of ${id}`).toBe("running");
      expect(ps.get(id)?.status).toMatch(/^Up /);
      expect(ps.get(id)?.name).toBe(before.get(id)!.Name.slice(1));
    }
    expect(ps.get(short)?.status).toMatch(/^Exited \(42\) /);
    expect(ps.size).toBe(4);
    const after = new Map((await inspect(...long)).map((c) => [c.Id, c]));
    for (const id of long) {
      expect(after.get(id)!.State.StartedAt, `StartedAt of ${id}`).toBe(before.get(id)!.State.StartedAt);
      expect(after.get(id)!.State.Pid, `Pid of ${id}`).toBe(before.get(id)!.State.Pid);
      expect(after.get(id)!.State.Running).toBe(true);
      expect(after.get(id)!.RestartCount).toBe(0);
    }
    expect((await ok(["inspect", "-f", "{{.State.ExitCode}} {{.State.Status}} {{.State.Running}}", short])).trim()).toBe("42 exited false");
    const [shortAfter] = await inspect(short);
    expect(shortAfter!.State.StartedAt).toBe(shortBefore!.State.StartedAt);
    // FinishedAt is the time the monitor saw the exit (about 1 s after the start), not the time of the adoption.
    const ran = Date.parse(shortAfter!.State.FinishedAt) - Date.parse(shortAfter!.State.StartedAt);
    expect(ran).toBeGreaterThanOrEqual(900);
    expect(ran).toBeLessThan(3000);

    // The ticker's log was written while the daemon was down, with no gap, and still grows.
    const n1 = await ticks(ticker);
    await Bun.sleep(400);
    const n2 = await ticks(ticker);
    expect(n2).toBeGreaterThan(n1);
    // `logs -f` of an adopted container follows new output.
    const follow = Bun.spawn([BERTH, ...t.flags, "logs", "-f", "--tail", "1", ticker], { stdout: "pipe", stderr: "pipe" });
    const reader = follow.stdout.getReader();
    let followed = "";
    while ((followed.match(/\n/g) ?? []).length < 4) followed += new TextDecoder().decode((await reader.read()).value);
    follow.kill();
    await follow.exited;
    const nums = followed.trim().split("\n").map((l) => Number(l.replace("tick ", "")));
    expect(nums[nums.length - 1]).toBeGreaterThanOrEqual(n2);

    // exec into adopted containers.
    const exec = await berth(["exec", sleeper, "sh", "-c", "echo in; cat /proc/1/cmdline | tr '\\0' ' '"]);
    expect(exec.code, exec.stderr).toBe(0);
    expect(exec.stdout).toBe("in\nsleep 1000 ");
    expect((await berth(["exec", ticker, "true"])).code).toBe(0);
    const failing = await berth(["exec", quiet, "sh", "-c", "exit 5"]);
    expect(failing.code).toBe(5);
    // `wait` on an adopted container returns at its exit.
    const wait = berth(["wait", quiet]);
    // stop of an adopted container: the TERM trap ends it with 0.
    const stop = await berth(["stop", "-t", "5", quiet]);
    expect(stop.code, stop.stderr).toBe(0);
    expect((await wait).stdout).toBe("0\n");
    expect((await ok(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", quiet])).trim()).toBe("exited 0");
    // A stopped adopted container starts again.
    expect((await berth(["start", quiet])).code).toBe(0);
    expect((await ok(["inspect", "-f", "{{.State.Status}}", quiet])).trim()).toBe("running");
    // rm -f of adopted ones, and of the one that exited meanwhile.
    const rm = await berth(["rm", "-f", sleeper, ticker, quiet, short]);
    expect(rm.code, rm.stderr).toBe(0);
    expect((await psAll()).size).toBe(0);
    expect(leaks(t)).toEqual([]);
    expect(procs.filter(stillThere)).toEqual([]);
  });

  test("SIGTERM stops only the daemon: containers run on and are adopted by the next one", async () => {
    const a = (await ok(["run", "-d", "--name", "term-a", "bb", "sleep", "1000"])).trim();
    const b = (await ok(["run", "-d", "--name", "term-b", "bb", ...TICKER])).trim();
    const before = new Map((await inspect(a, b)).map((c) => [c.Id, c]));
    const monitors = monitorByContainer();
    const procs = tree(monitorsOfRoot());
    await signalDaemon("SIGTERM");
    expect(existsSync(`${t.root}/berthd.pid`)).toBe(false);
    expect(existsSync(t.socket)).toBe(false);
    for (const id of [a, b]) {
      expect(alive(monitors.get(id)!)).toBe(true);
      expect(alive(before.get(id)!.State.Pid)).toBe(true);
    }
    await Bun.sleep(200);
    const ps = await psAll();
    expect(liveDaemon()).toBeDefined();
    expect([...ps.values()].map((c) => `${c.name} ${c.state}`).sort()).toEqual(["term-a running", "term-b running"]);
    const after = new Map((await inspect(a, b)).map((c) => [c.Id, c]));
    for (const id of [a, b]) {
      expect(after.get(id)!.State.StartedAt).toBe(before.get(id)!.State.StartedAt);
      expect(after.get(id)!.State.Pid).toBe(before.get(id)!.State.Pid);
    }
    expect((await berth(["exec", a, "true"])).code).toBe(0);
    const n1 = await ticks(b);
    await Bun.sleep(300);
    expect(await ticks(b)).toBeGreaterThan(n1);
    await removeAll();
    expect(leaks(t)).toEqual([]);
    expect(procs.filter(stillThere)).toEqual([]);
  });
});

describe("berthd killed with SIGKILL while containers start", () => {
  // The CLIs need ~20-50 ms to start and connect: 5 and 20 ms kill the daemon
  // mostly before or as the requests arrive, 50-200 ms in the middle of creates and starts.
  const DELAYS = [5, 20, 50, 5, 20, 50, 5, 20, 50, 100, 150, 200, 100, 150, 200, 300];

  test(
    "every container that exists afterwards is consistent: running ones run and exec, the others start; rm -f removes all; nothing leaks",
    async () => {
      const seen: string[] = [];
      const outcomes: string[] = [];
      for (const [round, base] of DELAYS.entries()) {
        await ok(["version"]); // a daemon is up before the round starts
        const delay = base + Math.random() * base * 0.5;
        const clis = Array.from({ length: 10 }, (_, i) => berth(["run", "-d", "--name", `r${round}-c${i}`, "bb", "sleep", "1000"]));
        await Bun.sleep(delay);
        seen.push(...tree(monitorsOfRoot()));
        await signalDaemon("SIGKILL");
        const results: Result[] = await Promise.all(clis);
        seen.push(...tree(monitorsOfRoot()));
        const succeeded = results.filter((r) => r.code === 0).length;

        // Restart, and look at every container.
        const ps = await psAll();
        const records = ps.size ? await inspect(...ps.keys()) : [];
        outcomes.push(`round ${round} (kill after ${delay.toFixed(0)} ms): ${succeeded}/10 run -d succeeded; after restart ${[...ps.values()].map((c) => c.state).join(",") || "no containers"}`);
        const context = outcomes[outcomes.length - 1]!;
        // A run -d that succeeded made a container that must still exist, running.
        for (const [i, r] of results.entries()) {
          if (r.code !== 0) continue;
          const id = r.stdout.trim();
          expect(ps.get(id)?.name, `${context}: r${round}-c${i} (${id}) was reported started`).toBe(`r${round}-c${i}`);
          expect(ps.get(id)?.state, `${context}: r${round}-c${i} (${id}) was reported started and runs sleep 1000`).toBe("running");
        }
        const monitors = monitorByContainer();
        for (const c of records) {
          expect(["running", "created", "exited"], `${context}: ${c.Name} is ${c.State.Status}`).toContain(c.State.Status);
          expect(c.State.Restarting).toBe(false);
          if (c.State.Running) {
            expect(c.State.Pid, `${context}: ${c.Name} runs with a pid`).toBeGreaterThan(0);
            expect(alive(c.State.Pid), `${context}: ${c.Name}'s process ${c.State.Pid} is alive`).toBe(true);
            expect(monitors.has(c.Id), `${context}: ${c.Name} has a monitor`).toBe(true);
            const e = await berth(["exec", c.Id, "true"]);
            expect(e.code, `${context}: exec into ${c.Name}: ${e.stderr}`).toBe(0);
          } else {
            expect(monitors.has(c.Id), `${context}: ${c.Name} is ${c.State.Status} but has a live monitor`).toBe(false);
            const s = await berth(["start", c.Id]);
            expect(s.code, `${context}: start ${c.Name}: ${s.stderr}`).toBe(0);
            expect((await berth(["exec", c.Id, "true"])).code).toBe(0);
          }
        }
        // No monitor runs for a container berth does not know or does not think is running.
        for (const id of monitorByContainer().keys()) expect(ps.has(id), `${context}: a monitor runs for unknown container ${id}`).toBe(true);
        seen.push(...tree(monitorsOfRoot()));
        await removeAll();
        expect(leaks(t), context).toEqual([]);
        expect(seen.filter(stillThere), `${context}: processes of this root's monitors still alive`).toEqual([]);
      }
      console.log(outcomes.join("\n"));
    },
    300_000,
  );
});

describe("restart policies across a daemon crash", () => {
  async function restartCount(ref: string): Promise<number> {
    return Number((await ok(["inspect", "-f", "{{.RestartCount}}", ref])).trim());
  }

  test("--restart always: killed while the container runs, it exits meanwhile, and the new daemon keeps restarting it", async () => {
    const id = (await ok(["run", "-d", "--name", "rp-running", "--restart", "always", "bb", "sh", "-c", "sleep 1; exit 3"])).trim();
    await waitUntil("it was restarted once", async () => (await restartCount(id)) >= 1, 10_000);
    await waitUntil("it runs", async () => (await ok(["inspect", "-f", "{{.State.Running}}", id])).trim() === "true", 10_000);
    const [c] = await inspect(id);
    await signalDaemon("SIGKILL");
    // It exits while no daemon runs: nothing restarts it until one does.
    await waitUntil("its process has exited", () => !alive(c!.State.Pid), 5000);
    await Bun.sleep(500);
    const count = await restartCount(id); // starts the daemon
    expect(count).toBeGreaterThanOrEqual(c!.RestartCount);
    await waitUntil(`RestartCount grows past ${count + 2} (was ${c!.RestartCount} at the crash)`, async () => (await restartCount(id)) >= count + 2, 20_000);
    const r = await berth(["rm", "-f", id]);
    expect(r.code, r.stderr).toBe(0);
    expect(leaks(t)).toEqual([]);
  }, 60_000);

  test("--restart always: killed while the container waits out its restart back-off, the new daemon restarts it", async () => {
    const id = (await ok(["run", "-d", "--name", "rp-backoff", "--restart", "always", "bb", "sh", "-c", "exit 3"])).trim();
    // Exiting at once, it soon spends most of its time in the back-off (100, 200, 400, 800 ms, ...).
    await waitUntil("it was restarted 4 times", async () => (await restartCount(id)) >= 4, 15_000);
    await waitUntil("it is in its back-off", async () => (await ok(["inspect", "-f", "{{.State.Status}}", id])).trim() === "restarting", 10_000);
    await signalDaemon("SIGKILL");
    const count = await restartCount(id); // starts the daemon
    let last = "";
    const grows = async () => {
      last = (await ok(["inspect", "-f", "{{.State.Status}} RestartCount={{.RestartCount}}", id])).trim();
      return (await restartCount(id)) >= count + 2;
    };
    await expect(waitUntil("RestartCount grows", grows, 20_000), `RestartCount was ${count} at the daemon's restart; 20 s later: ${last}`).resolves.toBeUndefined();
    const r = await berth(["rm", "-f", id]);
    expect(r.code, r.stderr).toBe(0);
    expect(leaks(t)).toEqual([]);
  }, 60_000);

  test("--restart unless-stopped: a container stopped before the crash stays stopped; a running one is restarted", async () => {
    const stopped = (await ok(["run", "-d", "--name", "us-stopped", "--restart", "unless-stopped", "bb", "sleep", "1000"])).trim();
    const running = (await ok(["run", "-d", "--name", "us-running", "--restart", "unless-stopped", "bb", "sh", "-c", "sleep 1; exit 1"])).trim();
    expect((await berth(["stop", "-t", "0", stopped])).code).toBe(0);
    const [c] = await inspect(running);
    await signalDaemon("SIGKILL");
    await waitUntil("the running one has exited", () => !alive(c!.State.Pid), 5000);
    const count = await restartCount(running);
    await waitUntil("the running one is restarted", async () => (await restartCount(running)) >= count + 1, 15_000);
    expect((await ok(["inspect", "-f", "{{.State.Status}} {{.RestartCount}}", stopped])).trim()).toBe("exited 0");
    await removeAll();
    expect(leaks(t)).toEqual([]);
  }, 60_000);
});
