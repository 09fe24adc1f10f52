// One end-to-end suite for a command line that drives berthd: run once with
// the stock docker CLI and once with berth's own (test/e2e.test.ts). Docker's
// behaviour is the reference; where the two CLIs word things differently the
// tests assert what both share (exit code, key phrase), and Go templates
// (--format / -f) compare them on the same output.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { berth, BERTH, busyboxTar, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "../helpers/berth.ts";
import { inPty } from "../helpers/pty.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes (tar archives). */
  raw: Uint8Array;
  /** The command did not end by itself within its time limit and was killed. */
  timedOut: boolean;
}

export interface RunOpts {
  stdin?: string | Uint8Array | Blob;
  timeoutMs?: number;
}

export type CliRunner = (t: TestRoot, args: string[], opts?: RunOpts) => Promise<CliResult>;

export interface Cli {
  name: string;
  /** The command line prefix (before the command's own arguments) for this root. */
  argv: (t: TestRoot) => string[];
  env: (t: TestRoot) => Record<string, string>;
  run: CliRunner;
}

/** A runner from an argv prefix and environment; every command is killed after its time limit. */
export function runner(argv: (t: TestRoot) => string[], env: (t: TestRoot) => Record<string, string>): CliRunner {
  return async (t, args, opts = {}) => {
    const stdin = opts.stdin === undefined ? "ignore" : typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin;
    const proc = Bun.spawn([...argv(t), ...args], { stdin, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env(t) } });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill("SIGKILL");
    }, opts.timeoutMs ?? 30_000);
    const [raw, stderr, code] = await Promise.all([new Response(proc.stdout).bytes(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(timer);
    return { code, stdout: new TextDecoder().decode(raw), stderr, raw, timedOut };
  };
}

export const dockerCli: Cli = {
  name: "docker",
  argv: () => ["docker"],
  env: (t) => ({ DOCKER_HOST: t.dockerHost, DOCKER_CLI_HINTS: "false" }),
  run: runner(() => ["docker"], (t) => ({ DOCKER_HOST: t.dockerHost, DOCKER_CLI_HINTS: "false" })),
};

export const berthCli: Cli = {
  name: "berth",
  argv: (t) => [BERTH, ...t.flags],
  env: () => ({}),
  run: runner((t) => [BERTH, ...t.flags], () => ({})),
};

const ID64 = /^[a-f0-9]{64}\n$/;
const lines = (s: string) => s.split("\n").filter((l) => l !== "");

export function cliSuite(cli: Cli) {
  describe(`end to end with the ${cli.name} CLI`, () => {
    let t: TestRoot;
    let host: string; // a scratch directory on the host for this run
    let failed = false;
    const c = (args: string[], opts?: RunOpts) => cli.run(t, args, opts);
    /** A test that, if it fails, has its leftovers removed before the leak check (so one failure does not cascade). */
    const it = (name: string, fn: () => Promise<void>, timeout?: number) =>
      test(
        name,
        async () => {
          try {
            await fn();
          } catch (err) {
            failed = true;
            throw err;
          }
        },
        timeout,
      );
    /** Poll until `check` holds (returns its last value). */
    async function until<T>(get: () => Promise<T>, check: (v: T) => boolean, ms = 5000): Promise<T> {
      const end = Date.now() + ms;
      let v = await get();
      while (!check(v) && Date.now() < end) {
        await Bun.sleep(50);
        v = await get();
      }
      return v;
    }
    const logsOf = async (name: string) => (await c(["logs", name])).stdout;
    /** Start a detached container and wait until it printed `ready` (so its traps are set). */
    async function started(args: string[], ready = "ready"): Promise<string> {
      const r = await c(["run", "-d", ...args]);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(ID64);
      const name = args[args.indexOf("--name") + 1]!;
      expect(await until(() => logsOf(name), (l) => l.includes(ready))).toContain(ready);
      return r.stdout.trim();
    }
    const rmf = async (...names: string[]) => {
      const r = await c(["rm", "-f", ...names]);
      expect(r.code, r.stderr).toBe(0);
    };
    const inspect = async (name: string, format: string) => {
      const r = await c(["inspect", "-f", format, name]);
      expect(r.stderr).toBe("");
      return r.stdout.replace(/\n$/, "");
    };

    beforeAll(async () => {
      t = makeRoot();
      // `berth import` starts this root's daemon; the docker CLI then finds it at DOCKER_HOST.
      await importBusybox(t);
      expect((await berth(t, ["info", "-f", "{{.ServerVersion}}"])).code).toBe(0);
      host = `${t.root}/host`;
      mkdirSync(host);
    });
    afterEach(async () => {
      if (failed) {
        failed = false;
        const ids = lines((await berth(t, ["ps", "-aq"])).stdout);
        if (ids.length) await berth(t, ["rm", "-f", ...ids]);
      }
      expect(leaks(t)).toEqual([]);
    });
    afterAll(() => removeRoot(t));

    describe("run and ps", () => {
      it("run attached: stdout and stderr apart, the exit code passed through", async () => {
        const r = await c(["run", "--name", "attached", "bb", "sh", "-c", "echo out; echo err >&2; exit 3"]);
        expect(r).toMatchObject({ code: 3, stdout: "out\n", stderr: "err\n" });
        expect(await inspect("attached", "{{.State.Status}} {{.State.ExitCode}}")).toBe("exited 3");
        await rmf("attached");
      });

      it("run --rm leaves nothing behind", async () => {
        const r = await c(["run", "--rm", "--name", "gone", "bb", "echo", "hi"]);
        expect(r).toMatchObject({ code: 0, stdout: "hi\n" });
        expect((await c(["ps", "-a", "-q", "--filter", "name=gone"])).stdout).toBe("");
        expect((await c(["ps", "-a", "--filter", "name=gone", "--format", "{{.Names}}"])).stdout).toBe("");
      });

      it("run -d prints the ID; ps lists, filters and formats", async () => {
        const d = await c(["run", "-d", "--name", "ps-up", "-l", "tier=web", "bb", "sleep", "60"]);
        expect(d.code).toBe(0);
        expect(d.stdout).toMatch(ID64);
        const id = d.stdout.trim();
        expect((await c(["run", "--name", "ps-done", "-l", "tier=db", "bb", "sh", "-c", "exit 4"])).code).toBe(4);

        const ps = await c(["ps", "--format", "{{.ID}} {{.Image}} {{.Names}} {{.State}}"]);
        expect(ps.stdout).toBe(`${id.slice(0, 12)} bb ps-up running\n`);
        expect((await c(["ps", "-q"])).stdout).toBe(`${id.slice(0, 12)}\n`);
        expect((await c(["ps", "--no-trunc", "-q"])).stdout).toBe(`${id}\n`);
        const all = await c(["ps", "-a", "--format", "{{.Names}}"]);
        expect(lines(all.stdout).sort()).toEqual(["ps-done", "ps-up"]);
        // The default table has Docker's header and a row per container.
        const table = await c(["ps", "-a"]);
        expect(table.stdout.split("\n")[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
        expect(table.stdout).toMatch(new RegExp(`^${id.slice(0, 12)}\\s+bb\\s+"sleep 60"\\s+.*\\s+Up .*\\s+ps-up$`, "m"));

        expect((await c(["ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}"])).stdout).toBe("ps-done\n");
        expect((await c(["ps", "-a", "--filter", "name=ps-do", "--format", "{{.Names}}"])).stdout).toBe("ps-done\n");
        expect((await c(["ps", "-a", "--filter", "label=tier=web", "--format", "{{.Names}}"])).stdout).toBe("ps-up\n");
        expect((await c(["ps", "-a", "--filter", "label=tier", "--format", "{{.Names}}"])).stdout.split("\n").filter(Boolean).sort()).toEqual(["ps-done", "ps-up"]);
        expect((await c(["ps", "-a", "--filter", "exited=4", "--format", "{{.Names}}"])).stdout).toBe("ps-done\n");

        const status = await c(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
        expect(lines(status.stdout).sort()).toEqual([
          expect.stringMatching(/^ps-done Exited \(4\) (Less than a second|\d+ seconds?) ago$/),
          expect.stringMatching(/^ps-up Up (Less than a second|\d+ seconds?)$/),
        ]);
        await rmf("ps-up", "ps-done");
        expect((await c(["ps", "-aq"])).stdout).toBe("");
      });
    });

    describe("logs", () => {
      it("logs: both streams, --tail, --timestamps", async () => {
        // stdout and stderr are separate pipes: their order in the log is only as sure as the time between writes.
        expect((await c(["run", "--name", "logger", "bb", "sh", "-c", "echo o1; sleep 0.05; echo e1 >&2; sleep 0.05; echo o2; echo o3"])).code).toBe(0);
        const all = await c(["logs", "logger"]);
        expect(all).toMatchObject({ code: 0, stdout: "o1\no2\no3\n", stderr: "e1\n" });
        const tail = await c(["logs", "--tail", "2", "logger"]);
        expect(tail).toMatchObject({ code: 0, stdout: "o2\no3\n", stderr: "" });
        const ts = await c(["logs", "--timestamps", "logger"]);
        const rfc3339nano = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z /;
        expect(lines(ts.stdout)).toHaveLength(3);
        for (const l of lines(ts.stdout)) expect(l).toMatch(rfc3339nano);
        expect(lines(ts.stdout).map((l) => l.split(" ")[1])).toEqual(["o1", "o2", "o3"]);
        expect(ts.stderr).toMatch(new RegExp(`${rfc3339nano.source}e1\n$`));
        const stamp = Date.parse(ts.stdout.split(" ")[0]!);
        expect(Math.abs(Date.now() - stamp)).toBeLessThan(30_000);
        await rmf("logger");
      });

      it("logs -f follows a container to its end, and ends by itself", async () => {
        const d = await c(["run", "-d", "--name", "ticker", "bb", "sh", "-c", "for i in 1 2 3 4 5; do echo line$i; sleep 0.2; done"]);
        expect(d.code).toBe(0);
        const began = Date.now();
        const f = await c(["logs", "-f", "ticker"], { timeoutMs: 10_000 });
        expect(f.timedOut).toBe(false);
        expect(f.code).toBe(0);
        expect(f.stdout).toBe("line1\nline2\nline3\nline4\nline5\n");
        expect(Date.now() - began).toBeGreaterThan(500); // it really followed
        await rmf("ticker");
      });
    });

    describe("exec", () => {
      it("exec: output, exit code, -e, -w, -u, and -d", async () => {
        await started(["--name", "ex", "bb", "sh", "-c", "echo ready; exec sleep 60"]);
        const out = await c(["exec", "ex", "sh", "-c", "echo to-out; echo to-err >&2"]);
        expect(out).toMatchObject({ code: 0, stdout: "to-out\n", stderr: "to-err\n" });
        expect((await c(["exec", "ex", "sh", "-c", "exit 7"])).code).toBe(7);
        const opts = await c(["exec", "-e", "GREETING=hello there", "-w", "/tmp", "-u", "app", "ex", "sh", "-c", 'echo "$GREETING"; pwd; id -un; id -u']);
        expect(opts).toMatchObject({ code: 0, stdout: "hello there\n/tmp\napp\n1000\n" });
        const det = await c(["exec", "-d", "ex", "sh", "-c", "sleep 0.2; echo done > /tmp/flag"]);
        expect(det).toMatchObject({ code: 0, stdout: "" });
        expect((await until(() => c(["exec", "ex", "cat", "/tmp/flag"]), (r) => r.code === 0)).stdout).toBe("done\n");
        await rmf("ex");
      });

      it("exec -it: a real terminal at /dev/pts/0 with the caller's size, and typed input arrives", async () => {
        await started(["--name", "term", "bb", "sh", "-c", "echo ready; exec sleep 60"]);
        const r = await inPty([...cli.argv(t), "exec", "-it", "term", "sh", "-c", "tty; stty size; echo prompt; read x; echo got $x"], {
          env: cli.env(t),
          rows: 30,
          cols: 100,
          steps: [{ after: /prompt/, send: "hello\r" }],
        });
        expect(r.timedOut, r.output).toBe(false);
        expect(r.code, r.output).toBe(0);
        const out = r.output.replaceAll("\r\n", "\n");
        expect(out).toMatch(/^\/dev\/pts\/0$/m);
        expect(out).toMatch(/^30 100$/m);
        expect(out).toMatch(/^got hello$/m);
        await rmf("term");
      });

      it("run -it: the container's terminal, its size, input, and exit code", async () => {
        const r = await inPty([...cli.argv(t), "run", "-it", "--rm", "--name", "runterm", "bb", "sh", "-c", "tty; stty size; echo prompt; read x; echo got $x; exit 3"], {
          env: cli.env(t),
          rows: 40,
          cols: 120,
          steps: [{ after: /prompt/, send: "world\r" }],
        });
        expect(r.timedOut, r.output).toBe(false);
        const out = r.output.replaceAll("\r\n", "\n");
        expect(out).toMatch(/^\/dev\/pts\/0$/m);
        expect(out).toMatch(/^40 120$/m);
        expect(out).toMatch(/^got world$/m);
        expect(r.code, r.output).toBe(3);
        expect((await c(["ps", "-aq", "--filter", "name=runterm"])).stdout).toBe("");
      });
    });

    describe("lifecycle", () => {
      it("stop: a container trapping SIGTERM exits with its own code; one ignoring it is killed after -t", async () => {
        await started(["--name", "polite", "bb", "sh", "-c", 'trap "echo bye; exit 42" TERM; echo ready; while true; do sleep 0.1; done']);
        await started(["--name", "stubborn", "bb", "sh", "-c", 'trap "" TERM; echo ready; while true; do sleep 0.1; done']);
        const stop = await c(["stop", "polite"]);
        expect(stop).toMatchObject({ code: 0, stdout: "polite\n" });
        expect(await inspect("polite", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}")).toBe("exited 42 false");
        expect(await logsOf("polite")).toContain("bye");
        const began = Date.now();
        const hard = await c(["stop", "-t", "1", "stubborn"]);
        expect(hard).toMatchObject({ code: 0, stdout: "stubborn\n" });
        expect(Date.now() - began).toBeGreaterThanOrEqual(900);
        expect(await inspect("stubborn", "{{.State.Status}} {{.State.ExitCode}}")).toBe("exited 137");
        // Stopping a stopped container is not an error.
        expect((await c(["stop", "polite"])).code).toBe(0);
        await rmf("polite", "stubborn");
      });

      it("kill: SIGKILL by default (137); -s USR1 reaches a trap", async () => {
        await started(["--name", "target", "bb", "sh", "-c", 'trap "echo got usr1" USR1; echo ready; while true; do sleep 0.1; done']);
        expect(await c(["kill", "-s", "USR1", "target"])).toMatchObject({ code: 0, stdout: "target\n" });
        expect(await until(() => logsOf("target"), (l) => l.includes("got usr1"))).toContain("got usr1");
        expect(await inspect("target", "{{.State.Running}}")).toBe("true");
        expect(await c(["kill", "target"])).toMatchObject({ code: 0, stdout: "target\n" });
        expect((await c(["wait", "target"])).stdout).toBe("137\n");
        expect(await inspect("target", "{{.State.Status}} {{.State.ExitCode}}")).toBe("exited 137");
        const again = await c(["kill", "target"]);
        expect(again.code).toBe(1);
        expect(again.stderr).toMatch(/is not running/);
        await rmf("target");
      });

      it("rm: refused while running, with Docker's message; -f removes it", async () => {
        await started(["--name", "busy", "bb", "sh", "-c", "echo ready; exec sleep 60"]);
        const refused = await c(["rm", "busy"]);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(/You cannot remove a running container [a-f0-9]{64}\. Stop the container before attempting removal or force remove/);
        expect(await inspect("busy", "{{.State.Running}}")).toBe("true");
        expect(await c(["rm", "-f", "busy"])).toMatchObject({ code: 0, stdout: "busy\n" });
        const gone = await c(["rm", "busy"]);
        expect(gone.code).toBe(1);
        expect(gone.stderr).toContain("No such container: busy");
      });

      it("restart: the container runs again and keeps its files", async () => {
        await started(["--name", "phoenix", "bb", "sh", "-c", 'trap "exit 0" TERM; echo run >> /runs; echo ready; while true; do sleep 0.1; done']);
        expect((await c(["exec", "phoenix", "sh", "-c", "echo kept > /keep"])).code).toBe(0);
        const pid1 = await inspect("phoenix", "{{.State.Pid}}");
        const first = await inspect("phoenix", "{{.State.StartedAt}}");
        expect(await c(["restart", "phoenix"])).toMatchObject({ code: 0, stdout: "phoenix\n" });
        expect(await inspect("phoenix", "{{.State.Status}} {{.State.Running}}")).toBe("running true");
        expect(await inspect("phoenix", "{{.State.Pid}}")).not.toBe(pid1);
        expect(await inspect("phoenix", "{{.State.StartedAt}}")).not.toBe(first);
        expect((await c(["exec", "phoenix", "cat", "/keep"])).stdout).toBe("kept\n");
        expect((await until(() => c(["exec", "phoenix", "cat", "/runs"]), (r) => r.stdout === "run\nrun\n")).stdout).toBe("run\nrun\n");
        await rmf("phoenix");
      });

      it("pause/unpause: ps says Paused and the container's clock stops", async () => {
        await started(["--name", "counter", "bb", "sh", "-c", "echo ready; i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done"]);
        expect(await c(["pause", "counter"])).toMatchObject({ code: 0, stdout: "counter\n" });
        expect((await c(["ps", "--format", "{{.Names}} {{.State}} {{.Status}}"])).stdout).toMatch(/^counter paused Up .* \(Paused\)\n$/);
        expect(await inspect("counter", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}")).toBe("paused true true");
        const a = lines(await logsOf("counter")).length;
        await Bun.sleep(400);
        const b = lines(await logsOf("counter")).length;
        expect(b).toBe(a);
        expect(await c(["unpause", "counter"])).toMatchObject({ code: 0, stdout: "counter\n" });
        expect(await inspect("counter", "{{.State.Status}} {{.State.Paused}}")).toBe("running false");
        const after = await until(async () => lines(await logsOf("counter")).length, (n) => n > b + 2);
        expect(after).toBeGreaterThan(b + 2);
        await rmf("counter");
      });

      it("wait prints the exit code", async () => {
        expect((await c(["run", "-d", "--name", "waited", "bb", "sh", "-c", "sleep 0.3; exit 5"])).code).toBe(0);
        expect(await c(["wait", "waited"])).toMatchObject({ code: 0, stdout: "5\n" });
        expect(await c(["wait", "waited"])).toMatchObject({ code: 0, stdout: "5\n" }); // already stopped
        await rmf("waited");
      });

      it("rename: the new name works, the old one is gone", async () => {
        await started(["--name", "before", "bb", "sh", "-c", "echo ready; exec sleep 60"]);
        expect(await c(["rename", "before", "after"])).toMatchObject({ code: 0, stdout: "" });
        expect(await inspect("after", "{{.Name}}")).toBe("/after");
        expect((await c(["exec", "after", "echo", "still here"])).stdout).toBe("still here\n");
        const old = await c(["inspect", "before"]);
        expect(old.code).toBe(1);
        expect(old.stderr).toContain("No such object: before");
        expect((await c(["ps", "--format", "{{.Names}}"])).stdout).toBe("after\n");
        await rmf("after");
      });
    });

    describe("inspect, stats, top, diff, export", () => {
      it("inspect a container through templates", async () => {
        const data = `${host}/inspect-data`;
        mkdirSync(data, { recursive: true });
        const r = await c(["run", "--name", "insp", "-e", "X=1", "-e", "Y=two words", "-m", "32m", "-v", `${data}:/data`, "bb", "sh", "-c", "echo hi > /data/f; exit 3"]);
        expect(r.code).toBe(3);
        expect(readFileSync(`${data}/f`, "utf8")).toBe("hi\n");
        expect(await inspect("insp", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}")).toBe("exited 3 false");
        expect(await inspect("insp", "{{.Config.Image}}")).toBe("bb");
        expect(JSON.parse(await inspect("insp", "{{json .Config.Env}}"))).toEqual(expect.arrayContaining(["X=1", "Y=two words"]));
        expect(await inspect("insp", "{{.HostConfig.Memory}}")).toBe(String(32 * 1024 * 1024));
        expect(await inspect("insp", "{{.Name}}")).toBe("/insp");
        expect(await inspect("insp", "{{json .Config.Cmd}}")).toBe('["sh","-c","echo hi > /data/f; exit 3"]');
        expect(JSON.parse(await inspect("insp", "{{json .Mounts}}"))).toEqual([
          expect.objectContaining({ Type: "bind", Source: data, Destination: "/data", RW: true }),
        ]);
        const full = JSON.parse((await c(["inspect", "insp"])).stdout);
        expect(full).toHaveLength(1);
        expect(full[0].Id).toMatch(/^[a-f0-9]{64}$/);
        expect(full[0].Image).toMatch(/^sha256:[a-f0-9]{64}$/);
        await rmf("insp");
      });

      it("inspect an image, and a missing object", async () => {
        expect(await inspect("bb", "{{json .RepoTags}} {{.Os}} {{.Architecture}}")).toBe('["bb:latest"] linux amd64');
        expect(await inspect("bb", "{{json .Config.Cmd}}")).toBe('["sh"]');
        const missing = await c(["inspect", "no-such-thing"]);
        expect(missing.code).toBe(1);
        expect(missing.stderr).toMatch(/No such object: no-such-thing/i);
        expect(missing.stdout.trim()).toBe("[]");
      });

      it("stats --no-stream: a row with the name and the memory limit", async () => {
        await started(["--name", "measured", "-m", "32m", "bb", "sh", "-c", "echo ready; exec sleep 60"]);
        const r = await c(["stats", "--no-stream", "--format", "{{.Name}}|{{.MemUsage}}|{{.PIDs}}", "measured"]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^measured\|\d+(\.\d+)?[KMG]?i?B \/ 32MiB\|1\n$/);
        const table = await c(["stats", "--no-stream", "measured"]);
        expect(table.stdout.split("\n")[0]).toMatch(/^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
        expect(table.stdout).toMatch(/\smeasured\s.*\/ 32MiB\s/);
        await rmf("measured");
      });

      it("top lists the container's processes", async () => {
        await started(["--name", "topped", "bb", "sh", "-c", "echo ready; exec sleep 61"]);
        const r = await c(["top", "topped"]);
        expect(r.code, r.stderr).toBe(0);
        const [header, ...rows] = lines(r.stdout);
        expect(header).toMatch(/^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
        expect(rows).toEqual([expect.stringMatching(/^root\s+\d+\s+\d+\s+.*sleep 61$/)]);
        await rmf("topped");
      });

      it("diff shows A, C and D; export is a tar of the filesystem", async () => {
        expect((await c(["run", "--name", "changed", "bb", "sh", "-c", "touch /newfile; rm /bin/ed; echo x >> /etc/passwd"])).code).toBe(0);
        const d = await c(["diff", "changed"]);
        expect(d.code, d.stderr).toBe(0);
        const byPath = (a: string, b: string) => (a.slice(2) < b.slice(2) ? -1 : a.slice(2) > b.slice(2) ? 1 : 0);
        expect(lines(d.stdout).sort(byPath)).toEqual(["C /bin", "D /bin/ed", "C /etc", "C /etc/passwd", "A /newfile"]);
        const out = `${host}/changed.tar`;
        const e = await c(["export", "-o", out, "changed"]);
        expect(e.code, e.stderr).toBe(0);
        const list = lines(Bun.spawnSync(["tar", "-tf", out]).stdout.toString()).map((p) => p.replace(/^\.\//, ""));
        expect(list).toContain("bin/busybox");
        expect(list).toContain("newfile");
        expect(list).not.toContain("bin/ed");
        // Without -o, the archive goes to stdout.
        const piped = await c(["export", "changed"]);
        expect(piped.code).toBe(0);
        const listed = Bun.spawnSync(["tar", "-t"], { stdin: piped.raw });
        expect(listed.stdout.toString()).toMatch(/^(\.\/)?bin\/busybox$/m);
        await rmf("changed");
      });
    });

    describe("cp", () => {
      it("cp both ways, and to stdout as a tar", async () => {
        await started(["--name", "box", "bb", "sh", "-c", "mkdir -p /srv/site/sub; echo index > /srv/site/index.html; echo deep > /srv/site/sub/deep.txt; echo ready; exec sleep 60"]);
        // A host file into a container directory.
        writeFileSync(`${host}/note.txt`, "a note\n");
        expect((await c(["cp", `${host}/note.txt`, "box:/tmp"])).code).toBe(0);
        expect((await c(["exec", "box", "cat", "/tmp/note.txt"])).stdout).toBe("a note\n");
        // A host directory to a new name.
        mkdirSync(`${host}/tree/inner`, { recursive: true });
        writeFileSync(`${host}/tree/top.txt`, "top\n");
        writeFileSync(`${host}/tree/inner/leaf.txt`, "leaf\n");
        expect((await c(["cp", `${host}/tree`, "box:/copied"])).code).toBe(0);
        expect((await c(["exec", "box", "sh", "-c", "cat /copied/top.txt /copied/inner/leaf.txt"])).stdout).toBe("top\nleaf\n");
        // A container directory back to the host (a new name).
        const back = `${host}/site-copy`;
        const r = await c(["cp", "box:/srv/site", back]);
        expect(r.code, r.stderr).toBe(0);
        expect(readFileSync(`${back}/index.html`, "utf8")).toBe("index\n");
        expect(readFileSync(`${back}/sub/deep.txt`, "utf8")).toBe("deep\n");
        expect(readdirSync(back).sort()).toEqual(["index.html", "sub"]);
        // Into an existing host directory: it lands inside.
        mkdirSync(`${host}/into`);
        expect((await c(["cp", "box:/srv/site", `${host}/into`])).code).toBe(0);
        expect(readFileSync(`${host}/into/site/index.html`, "utf8")).toBe("index\n");
        // To stdout: a tar stream holding the file.
        const tar = await c(["cp", "box:/etc/passwd", "-"]);
        expect(tar.code, tar.stderr).toBe(0);
        const listed = Bun.spawnSync(["tar", "-t"], { stdin: tar.raw });
        expect(listed.stdout.toString()).toBe("passwd\n");
        const content = Bun.spawnSync(["tar", "-xO"], { stdin: tar.raw }).stdout.toString();
        expect(content).toContain("root:x:0:0");
        // A missing source is an error.
        const missing = await c(["cp", "box:/no/such", `${host}/x`]);
        expect(missing.code).toBe(1);
        expect(missing.stderr).toMatch(/no such file or directory|Could not find the file/i);
        expect(existsSync(`${host}/x`)).toBe(false);
        await rmf("box");
      });
    });

    describe("events", () => {
      it("events --since/--until with filters show create, start and die", async () => {
        const since = new Date().toISOString(); // not earlier: the previous test's rm -f may have ended a container just now
        expect((await c(["run", "-d", "--name", "evented", "bb", "sh", "-c", "exit 2"])).code).toBe(0);
        expect((await c(["wait", "evented"])).stdout).toBe("2\n");
        const until = new Date(Date.now() + 300).toISOString();
        const fmt = "{{.Action}} {{.Actor.Attributes.name}}";
        const byName = await c(["events", "--since", since, "--until", until, "--filter", "container=evented", "--format", fmt], { timeoutMs: 10_000 });
        expect(byName.timedOut).toBe(false);
        expect(byName.code, byName.stderr).toBe(0);
        expect(lines(byName.stdout)).toEqual(["create evented", "start evented", "die evented"]);
        const starts = await c(["events", "--since", since, "--until", until, "--filter", "event=start", "--format", fmt], { timeoutMs: 10_000 });
        expect(lines(starts.stdout)).toEqual(["start evented"]);
        const die = await c(["events", "--since", since, "--until", until, "--filter", "event=die", "--format", "{{.Type}} {{.Actor.Attributes.exitCode}} {{.Actor.Attributes.image}}"], { timeoutMs: 10_000 });
        expect(lines(die.stdout)).toEqual(["container 2 bb"]);
        await rmf("evented");
      });
    });

    describe("images", () => {
      it("images, tag, rmi, history, image inspect", async () => {
        const list = await c(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        expect(lines(list.stdout)).toContain("bb:latest");
        const id = await inspect("bb", "{{.Id}}");
        expect(await c(["tag", "bb", "e2e/retagged:v1"])).toMatchObject({ code: 0, stdout: "" });
        expect(lines((await c(["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])).stdout)).toEqual(
          expect.arrayContaining([`bb:latest ${id.slice(7, 19)}`, `e2e/retagged:v1 ${id.slice(7, 19)}`]),
        );
        expect((await c(["image", "inspect", "-f", "{{.Id}}", "e2e/retagged:v1"])).stdout).toBe(`${id}\n`);
        const rmi = await c(["rmi", "e2e/retagged:v1"]);
        expect(rmi).toMatchObject({ code: 0, stdout: "Untagged: e2e/retagged:v1\n" });
        expect(lines((await c(["images", "--format", "{{.Repository}}"])).stdout)).not.toContain("e2e/retagged");
        const hist = await c(["history", "--format", "{{.ID}}|{{.Size}}", "bb"]);
        expect(hist.code, hist.stderr).toBe(0);
        expect(lines(hist.stdout)).toEqual([expect.stringMatching(new RegExp(`^${id.slice(7, 19)}\\|\\d+(\\.\\d+)?MB$`))]);
        const histTable = await c(["history", "bb"]);
        expect(histTable.stdout.split("\n")[0]).toMatch(/^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
        const missing = await c(["rmi", "e2e/never:1"]);
        expect(missing.code).toBe(1);
        expect(missing.stderr).toContain("No such image: e2e/never:1");
      });

      it("import from stdin makes an image that runs", async () => {
        const tar = await busyboxTar();
        const r = await c(["import", "-", "e2e/imported:1"], { stdin: Bun.file(tar) });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^sha256:[a-f0-9]{64}\n$/);
        expect(await inspect("e2e/imported:1", "{{.Id}}")).toBe(r.stdout.trim());
        expect((await c(["image", "inspect", "-f", "{{.Os}}/{{.Architecture}} {{len .RootFS.Layers}}", "e2e/imported:1"])).stdout).toBe("linux/amd64 1\n");
        expect(await c(["run", "--rm", "e2e/imported:1", "echo", "imported"])).toMatchObject({ code: 0, stdout: "imported\n" });
        // Its own image (no CMD, unlike bb), over bb's layer: the image goes, the shared layer stays.
        const rmi = await c(["rmi", "e2e/imported:1"]);
        expect(rmi).toMatchObject({ code: 0, stdout: `Untagged: e2e/imported:1\nDeleted: ${r.stdout.trim()}\n` });
        expect(await c(["run", "--rm", "bb", "true"])).toMatchObject({ code: 0 });
      });
    });

    describe("volumes", () => {
      it("volume create/ls/inspect; a volume shared by two containers; rm refused while in use", async () => {
        expect(await c(["volume", "create", "shared"])).toMatchObject({ code: 0, stdout: "shared\n" });
        expect(lines((await c(["volume", "ls", "--format", "{{.Driver}} {{.Name}}"])).stdout)).toContain("local shared");
        expect(lines((await c(["volume", "ls", "-q"])).stdout)).toContain("shared");
        expect((await c(["volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "shared"])).stdout).toBe("shared local\n");
        const mountpoint = (await c(["volume", "inspect", "-f", "{{.Mountpoint}}", "shared"])).stdout.trim();
        expect(mountpoint.startsWith("/")).toBe(true);
        expect(JSON.parse((await c(["volume", "inspect", "shared"])).stdout)[0]).toMatchObject({ Name: "shared", Driver: "local", Scope: "local" });

        expect((await c(["run", "--rm", "-v", "shared:/data", "bb", "sh", "-c", "echo written > /data/f"])).code).toBe(0);
        expect(await c(["run", "--rm", "-v", "shared:/data", "bb", "cat", "/data/f"])).toMatchObject({ code: 0, stdout: "written\n" });
        expect(readFileSync(`${mountpoint}/f`, "utf8")).toBe("written\n");

        await started(["--name", "holder", "-v", "shared:/data", "bb", "sh", "-c", "echo ready; exec sleep 60"]);
        expect(JSON.parse(await inspect("holder", "{{json .Mounts}}"))).toEqual([expect.objectContaining({ Type: "volume", Name: "shared", Destination: "/data", RW: true })]);
        const inUse = await c(["volume", "rm", "shared"]);
        expect(inUse.code).toBe(1);
        expect(inUse.stderr).toMatch(/volume is in use/);
        await rmf("holder");
        expect(await c(["volume", "rm", "shared"])).toMatchObject({ code: 0, stdout: "shared\n" });
        expect(lines((await c(["volume", "ls", "-q"])).stdout)).not.toContain("shared");
        const missing = await c(["volume", "inspect", "shared"]);
        expect(missing.code).toBe(1);
        expect(missing.stderr).toMatch(/no such volume/i);
      });
    });

    describe("system", () => {
      it("system df has Docker's rows; system prune -f removes stopped containers and says so", async () => {
        const df = await c(["system", "df"]);
        expect(df.code, df.stderr).toBe(0);
        const rows = lines(df.stdout);
        expect(rows[0]).toMatch(/^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/);
        expect(rows.find((l) => l.startsWith("Images"))).toMatch(/^Images\s+\d+\s+\d+\s+\S+\s+\S+/);
        expect(rows.find((l) => l.startsWith("Containers"))).toMatch(/^Containers\s+\d+\s+\d+\s+\S+\s+\S+/);
        expect(rows.find((l) => l.startsWith("Local Volumes"))).toMatch(/^Local Volumes\s+\d+\s+\d+\s+\S+\s+\S+/);

        expect((await c(["run", "--name", "leftover", "bb", "true"])).code).toBe(0);
        const id = await inspect("leftover", "{{.Id}}");
        await started(["--name", "keeper", "bb", "sh", "-c", "echo ready; exec sleep 60"]);
        const prune = await c(["system", "prune", "-f"]);
        expect(prune.code, prune.stderr).toBe(0);
        expect(prune.stdout).toContain(`Deleted Containers:\n${id}\n`);
        expect(prune.stdout).toMatch(/Total reclaimed space: \S+/);
        expect((await c(["ps", "-aq", "--filter", "name=leftover"])).stdout).toBe("");
        expect((await c(["ps", "--format", "{{.Names}}"])).stdout).toBe("keeper\n");
        await rmf("keeper");
      });

      it("info and version succeed and describe the server", async () => {
        const info = await c(["info"]);
        expect(info.code, info.stderr).toBe(0);
        expect(info.stdout).toMatch(/Server Version: \S+/);
        expect(info.stdout).toMatch(/Storage Driver: (overlay|vfs)/);
        expect((await c(["info", "--format", "{{.ServerVersion}}"])).stdout).toMatch(/^\d+\.\d+\.\d+\S*\n$/);
        expect((await c(["info", "--format", "{{.Images}}"])).stdout).toMatch(/^[1-9]\d*\n$/);
        const version = await c(["version"]);
        expect(version.code, version.stderr).toBe(0);
        expect(version.stdout).toContain("Server: berth");
        expect(version.stdout).toMatch(/API version:\s+1\.43/);
      });
    });
  });
}
