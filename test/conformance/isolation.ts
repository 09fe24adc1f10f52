// The isolation conformance suite: every isolation plugin runs it, on a
// busybox root filesystem in a plain directory, without cgroups. Processes
// run under the plugin's monitor; output is read from its json-file log.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { DEFAULT_CAPABILITIES } from "../../core/caps.ts";
import type { IoSpec, Isolation, ProcessSpec, SandboxSpec, Supervised } from "../../core/contracts/isolation.ts";
import { DEFAULT_MOUNTS, DEFAULT_MOUNTS_AFTER_CGROUP, MASKED_PATHS, READONLY_PATHS } from "../../core/engine/defaults.ts";
import { StartError } from "../../core/errors.ts";
import { createNetns, removeNetns } from "../../core/sys/netns.ts";
import { libcSys } from "../../core/sys/libc.ts";
import { busyboxTar } from "../helpers/berth.ts";
import { decodeFrames } from "../../core/api/stdcopy.ts";

export function isolationConformance(name: string, make: () => Promise<Isolation>) {
  describe(`isolation conformance: ${name}`, () => {
    let iso: Isolation;
    let work: string;
    let state: string;
    let rootfs: string;
    let seq = 0;

    beforeAll(async () => {
      iso = await make();
      mkdirSync("/tmp/berth-tests", { recursive: true });
      work = mkdtempSync("/tmp/berth-tests/iso-");
      state = mkdtempSync("/run/berth-iso-"); // short: it holds unix sockets
      rootfs = `${work}/rootfs`;
      mkdirSync(rootfs);
      expect(Bun.spawnSync(["tar", "-C", rootfs, "-xf", await busyboxTar()]).exitCode).toBe(0);
    });
    afterAll(() => {
      rmSync(work, { recursive: true, force: true });
      rmSync(state, { recursive: true, force: true });
    });

    const proc = (args: string[], over: Partial<ProcessSpec> = {}): ProcessSpec => ({
      args, env: ["PATH=/bin:/sbin:/usr/bin"], cwd: "/", user: "", capabilities: DEFAULT_CAPABILITIES, noNewPrivileges: false, rlimits: [], terminal: false, ...over,
    });
    const spec = (args: string[], over: Partial<SandboxSpec> = {}, p: Partial<ProcessSpec> = {}): SandboxSpec => ({
      id: "conformance",
      rootfs,
      hostname: "iso-test",
      readonlyRootfs: false,
      mounts: [...DEFAULT_MOUNTS, ...DEFAULT_MOUNTS_AFTER_CGROUP],
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
      cgroupJoin: [],
      ...over,
      process: proc(args, p),
    });
    const io = (over: Partial<IoSpec> = {}): IoSpec & { log: NonNullable<IoSpec["log"]> } => {
      const n = ++seq;
      return { stateDir: `${state}/${n}`, tty: false, stdin: false, stdinOnce: false, log: { path: `${work}/log-${n}`, maxSize: 0, maxFiles: 1 }, ...over } as IoSpec & { log: NonNullable<IoSpec["log"]> };
    };
    const logText = (path: string, stream?: string) =>
      readFileSync(path, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((e) => !stream || e.stream === stream).map((e) => e.log).join("");

    /** Run to completion; stdout from the log. */
    async function run(s: SandboxSpec) {
      const o = io();
      const p = await iso.start(s, o);
      const status = await p.exited;
      return { pid: p.pid, status, out: logText(o.log.path, "stdout"), err: logText(o.log.path, "stderr") };
    }

    test("the command runs as PID 1 with only its own processes; its host pid is reported", async () => {
      // /proc of its own pid namespace lists sh (1), ls, and the rest of the pipeline that
      // sh has forked by the time ls reads it (grep, tr); nothing of the host.
      const r = await run(spec(["sh", "-c", "echo $$; ls /proc | grep '^[0-9]' | tr '\\n' ' '; echo; ls -d /proc/[0-9]*/ | head -1"]));
      expect(r.status.code).toBe(0);
      const [self, pids, first] = r.out.trim().split("\n");
      expect([self, first]).toEqual(["1", "/proc/1/"]);
      const listed = pids!.trim().split(" ").map(Number);
      expect(listed).toContain(1);
      expect(listed.length).toBeGreaterThanOrEqual(2);
      expect(listed.length).toBeLessThanOrEqual(4);
      expect(Math.max(...listed)).toBeLessThan(32); // small numbers of its own namespace, not host pids
      expect(r.pid).toBeGreaterThan(1);
    });

    test("hostname, /proc masking and read-only paths are applied", async () => {
      const r = await run(spec(["sh", "-c", "hostname; wc -c < /proc/keys; echo x 2>&1 > /proc/sys/kernel/hostname; touch /sys/x 2>&1"]));
      const lines = r.out.trim().split("\n");
      expect(lines[0]).toBe("iso-test");
      expect(lines[1]!.trim()).toBe("0");
      expect(lines.slice(2)).toHaveLength(2);
      for (const l of lines.slice(2)) expect(l).toMatch(/Read-only file system/);
    });

    test("the exit code of the command, and 128+n for a signal death", async () => {
      expect((await run(spec(["sh", "-c", "exit 7"]))).status.code).toBe(7);
      // PID 1 ignores signals from inside its namespace; from the host, SIGKILL ends it.
      const p = await iso.start(spec(["sleep", "30"]), io());
      process.kill(p.pid, "SIGKILL");
      expect(await p.exited).toMatchObject({ code: 137, signal: "SIGKILL" });
    });

    test("start fails with StartError 127 for a missing command and 126 for a non-executable one", async () => {
      const err = (await iso.start(spec(["no-such-cmd"]), io()).catch((e) => e)) as StartError;
      expect(err).toBeInstanceOf(StartError);
      expect(err.exitCode).toBe(127);
      expect(err.message).toContain('exec: "no-such-cmd": executable file not found in $PATH');
      const err2 = (await iso.start(spec(["/etc/passwd"]), io()).catch((e) => e)) as StartError;
      expect(err2.exitCode).toBe(126);
    });

    test("a non-root user runs with the user's ids and no effective capabilities", async () => {
      const r = await run(spec(["sh", "-c", "id -u; id -g; grep CapEff /proc/self/status"], {}, { user: "1000:1000" }));
      expect(r.out.trim().split("\n")).toEqual(["1000", "1000", "CapEff:\t0000000000000000"]);
    });

    test("a read-only root filesystem refuses writes", async () => {
      const r = await run(spec(["sh", "-c", "touch /x 2>&1; echo $?"], { readonlyRootfs: true }));
      expect(r.out).toMatch(/Read-only file system\n1\n$/);
    });

    test("a given network namespace is joined", async () => {
      const ns = `${work}/netns`;
      createNetns(libcSys, ns);
      try {
        const r = await run(spec(["ip", "-o", "link"], { netnsPath: ns }));
        expect(r.out.trim().split("\n")).toHaveLength(1);
        expect(r.out).toMatch(/lo: <LOOPBACK,UP,LOWER_UP>/);
      } finally {
        removeNetns(libcSys, ns);
      }
    });

    test("a client attached before the process runs misses nothing, and feeds its stdin", async () => {
      let stream: Awaited<ReturnType<Supervised["attach"]>> | undefined;
      const p = await iso.start(spec(["sh", "-c", "echo first; read line; echo got $line"]), io({ stdin: true, stdinOnce: true }), async (attach) => {
        stream = await attach({ stdin: true, stdout: true, stderr: true });
      });
      stream!.end("hello\n");
      let out = "";
      for await (const f of decodeFrames(stream as unknown as AsyncIterable<Uint8Array>)) out += new TextDecoder().decode(f.payload);
      expect(out).toBe("first\ngot hello\n");
      expect((await p.exited).code).toBe(0);
    });

    test("exec runs a process in a running container's namespaces, with its own exit code", async () => {
      const c = await iso.start(spec(["sleep", "30"], { hostname: "exec-target" }), io());
      try {
        const o = io();
        const e = await iso.exec({ pid: c.pid, cgroupJoin: [] }, proc(["sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '; exit 5"]), o);
        expect((await e.exited).code).toBe(5);
        expect(logText(o.log.path, "stdout").trim().split("\n")).toEqual(["exec-target", "sleep 30"]);
        const missing = (await iso.exec({ pid: c.pid, cgroupJoin: [] }, proc(["nope"]), io()).catch((x) => x)) as StartError;
        expect(missing.exitCode).toBe(127);
      } finally {
        process.kill(c.pid, "SIGKILL");
        await c.exited;
      }
    });

    test("a process outlives the engine: a new instance adopts it, and reads its exit afterwards", async () => {
      const o = io();
      const c = await iso.start(spec(["sh", "-c", "echo before; sleep 30"]), o);
      const other = await make();
      const adopted = other.adopt(o.stateDir, c.pid);
      expect(adopted && "attach" in adopted).toBe(true);
      process.kill(c.pid, "SIGKILL");
      expect(await (adopted as Supervised).exited).toMatchObject({ code: 137 });
      const after = other.adopt(o.stateDir, c.pid);
      expect(after).toMatchObject({ code: 137, signal: "SIGKILL" });
      expect(other.adopt(`${state}/never-used`, 0)).toBeUndefined();
    });

    test("an aborted process (its supervisor killed before it records the exit) ends as killed: exited resolves, never rejects", async () => {
      const o = io();
      const c = await iso.start(spec(["sleep", "30"]), o);
      const other = await make();
      const adopted = other.adopt(o.stateDir, c.pid) as Supervised;
      await adopted.abort();
      // A rejection here would be unhandled in the engine (it only awaits the exit) and end the daemon.
      expect(await adopted.exited).toMatchObject({ code: 137 });
      expect(await c.exited).toMatchObject({ code: 137 });
    });

    test("nothing of the container's mounts is visible on the host afterwards", async () => {
      await run(spec(["true"]));
      expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(rootfs);
      expect(existsSync(rootfs)).toBe(true);
    });
  });
}
