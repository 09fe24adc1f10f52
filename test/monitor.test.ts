// berth-monitor (plugins/isolation/namespaces/monitor/) and its client
// (monitor.ts), on the real kernel: real processes, sockets, ptys and
// namespaces; no mocks.
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildMonitor, Monitor, readExit, spawnMonitor, StdcopyDecoder, type MonitorOptions } from "../plugins/isolation/namespaces/monitor.ts";

let tmp = "";
let BIN = "";
const monitors: Monitor[] = [];
const extraPids: number[] = [];
let dirs = 0;

beforeAll(() => {
  tmp = mkdtempSync("/tmp/bm-");
  BIN = `${tmp}/berth-monitor`;
  buildMonitor(BIN);
});

afterAll(async () => {
  const alive = (pid: number) => pid > 0 && existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z/.test(safeRead(`/proc/${pid}/stat`));
  for (const pid of extraPids) if (alive(pid)) process.kill(pid, "SIGKILL");
  for (const m of monitors) {
    if (m.alive() && alive(m.pid)) process.kill(m.pid, "SIGKILL");
  }
  await waitFor(() => monitors.every((m) => !alive(m.monitorPid)), 6000).catch(() => {
    for (const m of monitors) if (alive(m.monitorPid)) process.kill(m.monitorPid, "SIGKILL");
  });
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function newDir(): string {
  return `${tmp}/d${++dirs}`;
}

async function run(command: string[], opts: Partial<MonitorOptions> = {}): Promise<Monitor> {
  const m = await spawnMonitor(BIN, command, { dir: newDir(), ...opts });
  monitors.push(m);
  return m;
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await Bun.sleep(10);
  }
}

interface Collected {
  out: string;
  err: string;
  raw: Buffer;
  frames: [number, Buffer][];
  leftover: number;
}

/** Everything a client receives until the monitor closes it. */
function collect(sock: Socket, onData?: (text: string) => void): Promise<Collected> {
  const chunks: Buffer[] = [];
  const frames: [number, Buffer][] = [];
  const dec = new StdcopyDecoder((s, p) => frames.push([s, Buffer.from(p)]));
  sock.on("data", (d: Buffer) => {
    chunks.push(d);
    dec.push(d);
    onData?.(Buffer.concat(chunks).toString("latin1"));
  });
  return new Promise((resolve) =>
    sock.on("close", () => {
      const text = (s: number) => Buffer.concat(frames.filter((f) => f[0] === s).map((f) => f[1])).toString();
      resolve({ out: text(1), err: text(2), raw: Buffer.concat(chunks), frames, leftover: dec.leftover });
    }),
  );
}

interface Entry {
  log: string;
  stream: string;
  time: string;
}

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;
const LINE = /^\{"log":"(?:[^"\\]|\\.)*","stream":"(?:stdout|stderr)","time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"\}$/;

function entries(path: string): Entry[] {
  const text = safeRead(path);
  if (!text) return [];
  expect(text.endsWith("\n")).toBe(true);
  return text
    .slice(0, -1)
    .split("\n")
    .map((l) => {
      expect(l).toMatch(LINE);
      return JSON.parse(l) as Entry;
    });
}

describe("berth-monitor", () => {
  test("ready line, pid files, runtime directory; the spawner's pipe is let go", async () => {
    const dir = newDir();
    const proc = Bun.spawn([BIN, "--dir", dir, "--", "sh", "-c", "sleep 0.5; exit 7"], { stdio: ["ignore", "pipe", "pipe"] });
    // stdout ends (the monitor dups /dev/null over it) while the command still runs
    const stdout = await new Response(proc.stdout).text();
    const m = stdout.match(/^\{"monitorPid":(\d+),"pid":(\d+)\}\n$/);
    expect(m, stdout).not.toBeNull();
    const [monitorPid, pid] = [Number(m![1]), Number(m![2])];
    expect(pid).toBeGreaterThan(0);
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    expect(readFileSync(`${dir}/pid`, "utf8").trim()).toBe(String(pid));
    expect(readFileSync(`${dir}/monitor.pid`, "utf8").trim()).toBe(String(monitorPid));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(`${dir}/attach.sock`).isSocket()).toBe(true);
    expect(statSync(`${dir}/attach.sock`).mode & 0o777).toBe(0o600);
    expect(statSync(`${dir}/ctl`).isFIFO()).toBe(true);
    expect(statSync(`${dir}/ctl`).mode & 0o777).toBe(0o600);
    // its own session (setsid), with COMMAND its only child
    const stat = readFileSync(`/proc/${monitorPid}/stat`, "utf8").split(") ")[1]!.split(" ");
    expect(Number(stat[3])).toBe(monitorPid); // session id
    expect(readFileSync(`/proc/${monitorPid}/task/${monitorPid}/children`, "utf8").trim()).toBe(String(pid));
    expect(readdirSync(`/proc/${monitorPid}/task`)).toEqual([String(monitorPid)]); // single-threaded
    const mon = Monitor.adopt(dir)!;
    expect(mon.monitorPid).toBe(monitorPid);
    expect((await mon.exited()).exitCode).toBe(7);
    await proc.exited;
    // the sockets are gone, the records stay
    expect(existsSync(`${dir}/attach.sock`) || existsSync(`${dir}/ctl`)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(["exit.json", "monitor.pid", "pid"]);
    expect(Monitor.adopt(dir)).toBeNull();
  });

  test("a monitor that cannot set up says why", async () => {
    await expect(spawnMonitor(BIN, ["true"], { dir: `/tmp/${"x".repeat(100)}` })).rejects.toThrow(/too long/);
    await expect(spawnMonitor(BIN, ["true"], { dir: newDir(), log: { path: "/nonexistent/dir/log" } })).rejects.toThrow(
      /\/nonexistent\/dir\/log: No such file/,
    );
  });

  test("json-file log: format, streams, newline splitting, leftover text at exit", async () => {
    const dir = newDir();
    const before = new Date().toISOString();
    const m = await run(["sh", "-c", "echo out1; echo err1 >&2; printf 'a\\nb\\n\\nc'; printf 'tail' >&2"], { log: { path: `${dir}.log` } });
    await m.exited();
    const after = new Date().toISOString();
    const es = entries(`${dir}.log`);
    const out = es.filter((e) => e.stream === "stdout").map((e) => e.log);
    const err = es.filter((e) => e.stream === "stderr").map((e) => e.log);
    expect(out).toEqual(["out1\n", "a\n", "b\n", "\n", "c"]);
    expect(err).toEqual(["err1\n", "tail"]);
    for (const e of es) {
      expect(e.time).toMatch(TIME);
      expect(e.time.slice(0, 23) >= before.slice(0, 23) && e.time.slice(0, 23) <= after.slice(0, 23)).toBe(true);
    }
    // key order and layout exactly Docker's
    expect(readFileSync(`${dir}.log`, "utf8").split("\n")[0]).toMatch(/^\{"log":"out1\\n","stream":"stdout","time":"[^"]+"\}$/);
  });

  test("json-file log: messages split at 16 KiB", async () => {
    const dir = newDir();
    // 40000 x's then "\n"; 16383 y's + "\n" (fits); 16384 z's + "\n" (split before the newline)
    const script = "head -c 40000 /dev/zero | tr '\\0' x; echo; head -c 16383 /dev/zero | tr '\\0' y; echo; head -c 16384 /dev/zero | tr '\\0' z; echo";
    const m = await run(["sh", "-c", script], { log: { path: `${dir}.log` } });
    await m.exited();
    const logs = entries(`${dir}.log`).map((e) => e.log);
    expect(logs.map((l) => l.length)).toEqual([16384, 16384, 7233, 16384, 16384, 1]);
    expect(logs.join("")).toBe(`${"x".repeat(40000)}\n${"y".repeat(16383)}\n${"z".repeat(16384)}\n`);
    expect(logs[2]!.endsWith("x\n") && logs[3] === `${"y".repeat(16383)}\n` && logs[5] === "\n").toBe(true);
  });

  test("json-file log: escaping as Go's encoding/json", async () => {
    const dir = newDir();
    const bytes = Buffer.concat([
      Buffer.from('q"b\\s\t\r\b\f\x01\x1f\x7f<>&\u2028\u2029é€😀', "utf8"),
      Buffer.from([0xff, 0xc3, 0x28, 0xe2, 0x82, 0x65, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80]),
      Buffer.from("end\n"),
    ]);
    writeFileSync(`${dir}.in`, bytes);
    const m = await run(["cat", `${dir}.in`], { log: { path: `${dir}.log` } });
    await m.exited();
    const line = readFileSync(`${dir}.log`, "utf8").split("\n")[0]!;
    const expected =
      'q\\"b\\\\s\\t\\r\\b\\f\\u0001\\u001f\x7f\\u003c\\u003e\\u0026\\u2028\\u2029é€😀' +
      "\\ufffd\\ufffd(\\ufffd\\ufffde\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd" +
      "end\\n";
    expect(line.slice('{"log":"'.length, line.indexOf('","stream"'))).toBe(expected);
    expect(JSON.parse(line).log).toBe('q"b\\s\t\r\b\f\x01\x1f\x7f<>&\u2028\u2029é€😀\ufffd\ufffd(\ufffd\ufffde' + "\ufffd".repeat(9) + "end\n");
  });

  test("json-file log: rotation keeps PATH, PATH.1 .. PATH.(N-1); N=1 truncates", async () => {
    const seq = "i=1; while [ $i -le 200 ]; do echo line$i; i=$((i+1)); done";
    const dir = newDir();
    const m = await run(["sh", "-c", seq], { log: { path: `${dir}.log`, maxSize: 1000, maxFiles: 3 } });
    await m.exited();
    expect(existsSync(`${dir}.log.1`) && existsSync(`${dir}.log.2`)).toBe(true);
    expect(existsSync(`${dir}.log.3`)).toBe(false);
    const files = [`${dir}.log.2`, `${dir}.log.1`, `${dir}.log`];
    for (const f of files) expect(statSync(f).size).toBeLessThanOrEqual(1000);
    // the rotated files are full: the next entry would not have fitted
    for (const f of files.slice(0, 2)) expect(statSync(f).size).toBeGreaterThan(1000 - 80);
    const lines = files.flatMap((f) => entries(f).map((e) => e.log));
    const first = Number(lines[0]!.match(/\d+/)![0]);
    expect(first).toBeGreaterThan(1); // older files were dropped
    expect(lines).toEqual(Array.from({ length: 201 - first }, (_, i) => `line${first + i}\n`));

    const dir1 = newDir();
    const m1 = await run(["sh", "-c", seq], { log: { path: `${dir1}.log`, maxSize: 1000, maxFiles: 1 } });
    await m1.exited();
    expect(existsSync(`${dir1}.log.1`)).toBe(false);
    expect(statSync(`${dir1}.log`).size).toBeLessThanOrEqual(1000);
    const kept = entries(`${dir1}.log`).map((e) => e.log);
    const k = Number(kept[0]!.match(/\d+/)![0]);
    expect(k).toBeGreaterThan(1);
    expect(kept).toEqual(Array.from({ length: 201 - k }, (_, i) => `line${k + i}\n`));
  });

  test("attach: stdcopy frames per stream, only the streams asked for", async () => {
    const m = await run(["sh", "-c", "echo out1; echo err1 >&2; sleep 0.05; echo out2"], { gate: true });
    const both = collect(await m.attach({ stdout: true, stderr: true }));
    const outOnly = collect(await m.attach({ stdout: true }));
    const errOnly = collect(await m.attach({ stderr: true }));
    m.start();
    const [b, o, e] = await Promise.all([both, outOnly, errOnly]);
    expect([b.out, b.err]).toEqual(["out1\nout2\n", "err1\n"]);
    expect(b.raw.subarray(0, 13)).toEqual(Buffer.from([1, 0, 0, 0, 0, 0, 0, 5, ..."out1\n"].map((c) => (typeof c === "string" ? c.charCodeAt(0) : c))));
    expect(b.leftover).toBe(0);
    expect(o.frames.every(([s]) => s === 1) && o.out === "out1\nout2\n" && o.leftover === 0).toBe(true);
    expect(e.frames.every(([s]) => s === 2) && e.err === "err1\n" && e.leftover === 0).toBe(true);
  });

  test("attach: stdin reaches the command; close-stdin ends it", async () => {
    const m = await run(["cat"], { stdin: true });
    const sock = await m.attach({ stdin: true, stdout: true });
    let seen = "";
    const done = collect(sock, (t) => (seen = t));
    sock.write("hello\n");
    await waitFor(() => seen.includes("hello\n"));
    m.closeStdin();
    const [c, rec] = await Promise.all([done, m.exited()]);
    expect(c.out).toBe("hello\n");
    expect(rec.exitCode).toBe(0);
  });

  test("--stdin-once: the stdin client's EOF closes stdin; without it, EOF is ignored", async () => {
    const once = await run(["cat"], { stdin: true, stdinOnce: true });
    const s1 = await once.attach({ stdin: true, stdout: true });
    const c1 = collect(s1);
    s1.end("x\n"); // half-close: its write side ends
    const [r1, e1] = await Promise.all([c1, once.exited()]);
    expect(r1.out).toBe("x\n");
    expect(e1.exitCode).toBe(0);

    const plain = await run(["cat"], { stdin: true });
    const s2 = await plain.attach({ stdin: true, stdout: true });
    const c2 = collect(s2);
    s2.end("y\n");
    await Bun.sleep(300);
    expect(existsSync(`/proc/${plain.pid}`)).toBe(true); // cat still waits for input
    expect(readExit(plain.dir)).toBeUndefined();
    plain.closeStdin();
    expect((await c2).out).toBe("y\n");
    expect((await plain.exited()).exitCode).toBe(0);
  });

  test("--tty: a /dev/pts slave, the size set by resize, raw output, stdin to the master", async () => {
    const m = await run(["sh", "-c", "tty; stty size; ls -l /proc/$$/fd | grep -c /dev/pts; read x; echo got:$x"], { tty: true, gate: true });
    const sock = await m.attach({ stdin: true, stdout: true });
    let seen = "";
    const done = collect(sock, (t) => (seen = t));
    m.resize(33, 101);
    m.start();
    await waitFor(() => /33 101\r\n3\r\n/.test(seen));
    sock.write("abc\n");
    const c = await done;
    const text = c.raw.toString();
    expect(text).toMatch(/^\/dev\/pts\/\d+\r\n33 101\r\n3\r\nabc\r\ngot:abc\r\n$/); // raw: no frame headers
    expect((await m.exited()).exitCode).toBe(0);
  });

  test("--gate: nothing runs before start; a client attached before start gets everything", async () => {
    const dir = newDir();
    const m = await run(["sh", "-c", `echo ran > ${dir}.ran; echo first; echo second`], { gate: true, dir });
    expect(m.pid).toBe(0);
    await Bun.sleep(200);
    expect(existsSync(`${dir}.ran`) || existsSync(`${dir}/pid`)).toBe(false);
    const c = collect(await m.attach({ stdout: true }));
    m.start();
    expect((await c).out).toBe("first\nsecond\n");
    expect(existsSync(`${dir}.ran`)).toBe(true);
    expect(m.pid).toBe((await m.exited()).pid);
    expect(m.pid).toBeGreaterThan(0);
  });

  test("--buffer-until-attach: output kept for the first client asking for output, even after the exit", async () => {
    const m = await run(["sh", "-c", "echo early; echo err >&2; exit 4"], { bufferUntilAttach: true });
    const watcher = m.exited(); // a watcher does not take the buffer, and is closed only after it is delivered
    let watcherDone = false;
    watcher.then(() => (watcherDone = true));
    await waitFor(() => readExit(m.dir) !== undefined);
    await Bun.sleep(100);
    expect(watcherDone).toBe(false);
    expect(m.alive()).toBe(true);
    const c = await collect(await m.attach({ stdout: true, stderr: true }));
    expect([c.out, c.err]).toEqual(["early\n", "err\n"]);
    expect((await watcher).exitCode).toBe(4);
  });

  test("exit records: exit N, SIGKILL, command not found, not executable, setns failure", async () => {
    const TS = TIME;
    const a = await run(["sh", "-c", "exit 42"]);
    const ra = await a.exited();
    expect(ra).toMatchObject({ exitCode: 42, signal: null, pid: a.pid, error: null });
    expect(ra.startedAt).toMatch(TS);
    expect(ra.finishedAt).toMatch(TS);
    expect(ra.startedAt <= ra.finishedAt).toBe(true);
    expect(readFileSync(`${a.dir}/exit.json`, "utf8")).toMatch(
      /^\{"exitCode":42,"signal":null,"pid":\d+,"startedAt":"[^"]+","finishedAt":"[^"]+","error":null\}\n$/,
    );

    const b = await run(["sleep", "30"]);
    process.kill(b.pid, "SIGKILL");
    expect(await b.exited()).toMatchObject({ exitCode: 137, signal: "SIGKILL", pid: b.pid, error: null });

    const c = await run(["/nonexistent/cmd", "arg"]);
    expect(await c.exited()).toMatchObject({ exitCode: 127, signal: null, pid: 0, error: "exec /nonexistent/cmd: No such file or directory" });
    expect(existsSync(`${c.dir}/pid`)).toBe(false);

    const file = `${tmp}/not-executable`;
    writeFileSync(file, "#!/bin/sh\n");
    chmodSync(file, 0o644);
    const d = await run([file]);
    expect(await d.exited()).toMatchObject({ exitCode: 126, error: `exec ${file}: Permission denied` });

    const e = await run(["true"], { enterPidns: "/nonexistent/ns" });
    expect(e.pid).toBe(0);
    expect(await e.exited()).toMatchObject({ exitCode: 125, pid: 0, error: "setns /nonexistent/ns: No such file or directory" });
  });

  test("all output is delivered before clients are closed; the watcher closes at the exit", async () => {
    const size = 512 * 1024;
    const m = await run(["sh", "-c", `head -c ${size} /dev/zero | tr '\\0' a; exit 5`], { gate: true });
    const c = collect(await m.attach({ stdout: true }));
    let watcherClosedAfterExit: boolean | undefined;
    const w = m.exited().then((r) => {
      watcherClosedAfterExit = existsSync(`${m.dir}/exit.json`);
      return r;
    });
    m.start();
    const [got, rec] = await Promise.all([c, w]);
    expect(got.out.length).toBe(size);
    expect(got.out).toBe("a".repeat(size));
    expect(got.leftover).toBe(0);
    expect(rec.exitCode).toBe(5);
    expect(watcherClosedAfterExit).toBe(true);
  });

  test("a client that never reads does not block the command or the log", async () => {
    const dir = newDir();
    const m = await run(["sh", "-c", "yes 0123456789abcdef | head -c 4194304; sleep 0.5"], { gate: true, dir, log: { path: `${dir}.log` } });
    // a raw client that asks for stdout and then never reads
    const py = Bun.spawn(
      [
        "python3",
        "-c",
        "import socket,sys,time\ns=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1]);s.send(b'\\x02');print('ok',flush=True);time.sleep(30)",
        `${dir}/attach.sock`,
      ],
      { stdout: "pipe" },
    );
    extraPids.push(py.pid);
    const reader = py.stdout.getReader();
    let said = "";
    while (!said.includes("\n")) said += new TextDecoder().decode((await reader.read()).value ?? new Uint8Array([10]));
    expect(said).toBe("ok\n");
    const isSocket = (fd: string) => {
      try {
        return readlinkSync(`/proc/${m.monitorPid}/fd/${fd}`).startsWith("socket:");
      } catch {
        return false; // closed between the listing and the look
      }
    };
    const sockets = () => readdirSync(`/proc/${m.monitorPid}/fd`).filter(isSocket).length;
    await waitFor(() => sockets() === 2, 3000); // the listener and the client, once the monitor has accepted it
    expect(sockets()).toBe(2);
    const t0 = Date.now();
    m.start();
    // dropped once its unsent output passed 1 MiB, while the command still runs
    await waitFor(() => sockets() === 1, 3000);
    expect(readExit(m.dir)).toBeUndefined();
    const rec = await m.exited();
    expect(rec.exitCode).toBe(0);
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(py.exitCode).toBeNull(); // the client is still there, never having read
    const text = readFileSync(`${dir}.log`, "utf8");
    expect(text.split("\n").length - 1).toBe(Math.ceil(4194304 / 17));
    const last = JSON.parse(text.slice(text.lastIndexOf("\n", text.length - 2) + 1));
    expect(last.log).toBe("0123456789abcdef\n".slice(0, 4194304 % 17));
    py.kill("SIGKILL");
    await py.exited;
  });

  test("the monitor survives its spawner being SIGKILLed, and still records the exit", async () => {
    const dir = newDir();
    const sh = Bun.spawn(["sh", "-c", `"$0" --dir ${dir} --log ${dir}.log -- sh -c 'sleep 1; echo done; exit 3'; echo after`, BIN], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    const reader = sh.stdout.getReader();
    const ready = JSON.parse(new TextDecoder().decode((await reader.read()).value));
    expect(ready.monitorPid).toBeGreaterThan(0);
    sh.kill("SIGKILL");
    await sh.exited;
    const m = Monitor.adopt(dir);
    expect(m).not.toBeNull();
    monitors.push(m!);
    expect(m!.monitorPid).toBe(ready.monitorPid);
    expect(m!.pid).toBe(ready.pid);
    expect(await m!.exited()).toMatchObject({ exitCode: 3, pid: ready.pid });
    expect(entries(`${dir}.log`).map((e) => e.log)).toEqual(["done\n"]);
    expect(Monitor.adopt(dir)).toBeNull();
  });

  test("--clone-ns pid,mnt,uts,ipc: PID 1, private mounts and hostname; the monitor stays outside", async () => {
    const dir = newDir();
    const mnt = `${dir}.mnt`;
    const script = `echo pid=$$; mkdir -p ${mnt}; mount -t tmpfs berthtest ${mnt}; hostname inside; echo host=$(hostname); echo mounted; sleep 5`;
    const m = await run(["sh", "-c", script], { cloneNs: ["pid", "mnt", "uts", "ipc"], gate: true });
    let seen = "";
    const c = collect(await m.attach({ stdout: true }), (t) => (seen = t));
    m.start();
    await waitFor(() => seen.includes("mounted"));
    const own = (pid: number | string, ns: string) => readlinkSync(`/proc/${pid}/ns/${ns}`);
    expect(readFileSync(`/proc/${m.pid}/mountinfo`, "utf8")).toContain(` ${mnt} `);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(` ${mnt} `);
    for (const ns of ["pid", "mnt", "uts", "ipc"]) {
      expect(own(m.pid, ns)).not.toBe(own("self", ns));
      expect(own(m.monitorPid, ns)).toBe(own("self", ns));
    }
    expect(own(m.monitorPid, "pid_for_children")).toBe(own("self", "pid"));
    expect(hostname()).not.toBe("inside");
    process.kill(m.pid, "SIGKILL");
    const out = (await c).out;
    expect(out).toMatch(/^pid=1\nhost=inside\nmounted\n/);
    expect((await m.exited()).signal).toBe("SIGKILL");
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(` ${mnt} `);
  });

  test("--enter-pidns: the command is born in another process's pid namespace", async () => {
    const holder = Bun.spawn(["unshare", "-fp", "--mount-proc", "sleep", "30"], { stdio: ["ignore", "ignore", "ignore"] });
    extraPids.push(holder.pid);
    let init = 0;
    await waitFor(() => (init = Number(safeRead(`/proc/${holder.pid}/task/${holder.pid}/children`).trim())) > 0);
    extraPids.push(init);
    await waitFor(() => safeRead(`/proc/${init}/comm`).trim() === "sleep");
    const m = await run(["sh", "-c", "grep NSpid /proc/self/status; echo sh=$$; sleep 0.3"], { enterPidns: `/proc/${init}/ns/pid`, gate: true });
    let seen = "";
    const c = collect(await m.attach({ stdout: true }), (t) => (seen = t));
    m.start();
    await waitFor(() => seen.includes("sh="));
    // COMMAND is PID 2 there (sleep is 1), and the monitor stayed in the host's pid namespace
    expect(readFileSync(`/proc/${m.pid}/status`, "utf8")).toMatch(new RegExp(`^NSpid:\\t${m.pid}\\t2$`, "m"));
    expect(readlinkSync(`/proc/${m.monitorPid}/ns/pid`)).toBe(readlinkSync("/proc/self/ns/pid"));
    const rec = await m.exited();
    const out = (await c).out;
    expect(rec).toMatchObject({ exitCode: 0, pid: m.pid });
    expect(out).toMatch(/^NSpid:\t\d+\t\d+\nsh=2\n$/); // grep, a child of COMMAND: two levels
    expect(Number(out.match(/^NSpid:\t\d+\t(\d+)/)![1])).toBeGreaterThan(2);
    process.kill(init, "SIGKILL");
    await holder.exited;
  });

  test("--pass-fd, no fd leaks (command and monitor), default signal dispositions in the command", async () => {
    const dir = newDir();
    const fd = openSync(`${dir}.passed`, "w");
    const m = await run(["sh", "-c", "echo through-3 >&3; ls /proc/$$/fd; readlink /proc/$$/fd/3; sleep 0.3"], {
      passFds: [fd],
      gate: true,
      dir,
      log: { path: `${dir}.log` },
    });
    closeSync(fd);
    const links = (pid: number) => readdirSync(`/proc/${pid}/fd`).map((n) => readlinkSync(`/proc/${pid}/fd/${n}`));
    expect(links(m.monitorPid)).toContain(`${dir}.passed`); // held for the command until it starts
    const c = collect(await m.attach({ stdout: true }));
    m.start();
    await waitFor(() => m.pid > 0 && existsSync(`/proc/${m.pid}`));
    await Bun.sleep(100);
    const mine = links(m.monitorPid);
    expect(mine).not.toContain(`${dir}.passed`);
    // 0-2 /dev/null; listening socket, one client; ctl; signalfd; two pipes; the log
    expect(mine.filter((l) => l === "/dev/null").length).toBe(3);
    const other = mine.filter((l) => l !== "/dev/null" && !/^(socket|pipe):\[\d+\]$|^anon_inode:\[signalfd\]$/.test(l));
    expect(other.sort()).toEqual([`${dir}.log`, `${dir}/ctl`].sort());
    expect(mine.length).toBe(3 + 2 + 1 + 1 + 2 + 1);
    const out = (await c).out;
    expect(out).toBe(`0\n1\n2\n3\n${dir}.passed\n`);
    expect(readFileSync(`${dir}.passed`, "utf8")).toBe("through-3\n");
    await m.exited();

    // none of the monitor's ignored (SIGPIPE, SIGTERM, ...) or blocked (SIGCHLD) signals reach the command
    const sig = await run(["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"], { gate: true });
    const sc = collect(await sig.attach({ stdout: true }));
    sig.start();
    expect((await sc).out).toBe("SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
  });

  test("engine-side memory: 20 idle monitors, each watched as the daemon would", async () => {
    // engine_pss.py counts every process of its pid namespace that is new or
    // grew since the snapshot. Other people's processes on this machine would
    // count too, so the tool, a shell that starts the monitors and the monitors
    // run in a pid namespace of their own (the tool and its /proc see only
    // them); the commands live in pid namespaces below it, as containers do, so
    // the tool does not count them. The watchers connect from this process, as
    // the daemon's would.
    const tool = "/work/shared/tools/engine_pss.py";
    const base = `${tmp}/mem-`;
    const script = `
      bin=$0 base=$1 tool=$2
      wait_for() { n=0; until eval "$1"; do sleep 0.02; n=$((n+1)); [ $n -lt 500 ] || exit 1; done; }
      python3 "$tool" snapshot "\${base}snap" || exit 1
      i=0; while [ $i -lt 20 ]; do
        "$bin" --dir "$base$i" --log "$base$i.log" --clone-ns pid -- sleep 30 >"$base$i.ready" 2>&1 </dev/null &
        i=$((i+1))
      done
      for i in $(seq 0 19); do wait_for "grep -q monitorPid '$base$i.ready' 2>/dev/null"; done
      : >"\${base}spawned"
      wait_for "[ -e '\${base}watched' ]"
      sleep 0.1
      echo "pss $(python3 "$tool" diff "\${base}snap" 20)"
      own=0; for i in $(seq 0 19); do own=$((own + $(awk '/^Pss:/ {print $2}' /proc/$(cat "$base$i/monitor.pid")/smaps_rollup))); done
      echo "own $((own / 20))"
      for i in $(seq 0 19); do kill -9 $(cat "$base$i/pid"); done
      for i in $(seq 0 19); do wait_for "[ -e '$base$i/exit.json' ] && [ ! -e '$base$i/attach.sock' ]"; done
    `;
    const ns = Bun.spawn(["unshare", "-fp", "--mount-proc", "--kill-child", "sh", "-c", script, BIN, base, tool], { stdout: "pipe", stderr: "pipe" });
    extraPids.push(ns.pid);
    const dirs = Array.from({ length: 20 }, (_, i) => `${base}${i}`);
    await waitFor(() => existsSync(`${base}spawned`) || ns.exitCode !== null, 10000);
    expect(existsSync(`${base}spawned`)).toBe(true);
    const ms = dirs.map((d) => Monitor.adopt(d));
    expect(ms.every((m) => m !== null)).toBe(true);
    const watched = ms.map((m) => m!.exited());
    writeFileSync(`${base}watched`, "");
    const [out, err, code] = await Promise.all([new Response(ns.stdout).text(), new Response(ns.stderr).text(), ns.exited]);
    expect(code, err).toBe(0);
    const perContainer = Number(out.match(/^pss (\d+)$/m)?.[1]);
    const monitorAlone = Number(out.match(/^own (\d+)$/m)?.[1]);
    console.log(`engine-side PSS per container (engine_pss.py): ${perContainer} KiB; the monitor process alone: ${monitorAlone} KiB`);
    expect(perContainer).toBeGreaterThan(0);
    expect(perContainer).toBeLessThanOrEqual(1024);
    expect(monitorAlone).toBeGreaterThan(0);
    expect(monitorAlone).toBeLessThanOrEqual(200);
    const recs = await Promise.all(watched);
    expect(recs.every((r) => r.exitCode === 137 && r.signal === "SIGKILL")).toBe(true);
  });
});
