// The daemon's side of berth-monitor (monitor/monitor.c), the small static
// process that holds a container's (or an exec session's) stdio, writes its
// json-file log, serves attach clients and records the exit status, so a
// container outlives `kill -9` of the daemon.
//
// The monitor's runtime directory (`--dir`, short: unix socket paths are
// limited to 108 bytes) holds:
//   attach.sock   attach clients; each sends one byte, a mask: 1 stdin, 2 stdout,
//                 4 stderr, 0 a watcher. Output is Docker's stdcopy frames
//                 (raw bytes with a tty). Every client is closed when the
//                 command has exited and its output is drained: a watcher's EOF
//                 is how the daemon learns of the exit.
//   ctl           a FIFO taking lines: `start`, `resize ROWS COLS`, `close-stdin`
//   pid           the command's pid, once started
//   monitor.pid   the monitor's own pid (for adopt)
//   exit.json     {"exitCode","signal","pid","startedAt","finishedAt","error"}
// attach.sock and ctl disappear before the monitor closes its clients;
// pid and exit.json stay.
//
// Light on purpose: the daemon loads it on every container start.
import { closeSync, constants, openSync, readFileSync, writeSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { processStartTime } from "../../../core/proc.ts";

export type Namespace = "pid" | "mnt" | "uts" | "ipc" | "net" | "cgroup";

export interface MonitorOptions {
  /** Runtime directory, created 0700; at most 95 bytes. */
  dir: string;
  /** Docker json-file log; maxSize 0 never rotates, maxFiles 1 truncates. */
  log?: { path: string; maxSize?: number; maxFiles?: number };
  tty?: boolean;
  /**
   * With tty: the command opens the terminal itself (in the container's own
   * devpts, so it is /dev/pts/N inside) and sends the master over the unix
   * socket it finds at this fd, as OCI runtimes' console socket works.
   */
  consoleFd?: number;
  /** A stdin pipe fed by attach clients (without it and without tty: /dev/null). */
  stdin?: boolean;
  /** Close the command's stdin when the first stdin client detaches. */
  stdinOnce?: boolean;
  /** Start the command in new namespaces (the monitor stays outside them). */
  cloneNs?: Namespace[];
  /** A pid namespace file (/proc/PID/ns/pid) the command is born into (exec sessions). */
  enterPidns?: string;
  /**
   * A user namespace file the command runs in as root: a new container's
   * namespaces are made inside it; `netns` and `cgroupJoin` (cgroup.procs
   * files) are joined before it, while the command is still host root.
   */
  userns?: string;
  netns?: string;
  cgroupJoin?: string[];
  /** With `userns`: [resource number, soft, hard] set before it is entered (raising a hard limit needs the host's root). */
  rlimits?: [number, bigint, bigint][];
  /** fds of this process that the command gets as its fds 3, 4, ... */
  passFds?: number[];
  /** Wait for start() before running the command. */
  gate?: boolean;
  /** Keep up to 1 MiB of output for the first client that attaches for output. */
  bufferUntilAttach?: boolean;
  /** The environment of the monitor, and so of the command (default: this process's). */
  env?: Record<string, string | undefined>;
}

export interface ExitRecord {
  exitCode: number;
  signal: string | null;
  pid: number;
  startedAt: string;
  finishedAt: string;
  error: string | null;
}

export interface AttachStreams {
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
}

/** Where build.sh is; `buildMonitor` runs it. */
export const MONITOR_BUILD_SCRIPT = new URL("./monitor/build.sh", import.meta.url).pathname;

/** Compile berth-monitor to `out` (atomically); throws with the compiler's output. */
export function buildMonitor(out: string): void {
  const p = Bun.spawnSync([MONITOR_BUILD_SCRIPT, out], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`building berth-monitor failed: ${p.stderr.toString().trim()}`);
}

/** The monitor's command line for these options (without the binary). */
export function monitorArgs(command: string[], opts: MonitorOptions): string[] {
  const args = ["--dir", opts.dir];
  if (opts.log) {
    args.push("--log", opts.log.path);
    if (opts.log.maxSize) args.push("--log-max-size", String(opts.log.maxSize));
    if (opts.log.maxFiles) args.push("--log-max-files", String(opts.log.maxFiles));
  }
  if (opts.tty) args.push("--tty");
  if (opts.tty && opts.consoleFd !== undefined) args.push("--console-fd", String(opts.consoleFd));
  if (opts.stdin) args.push("--stdin");
  if (opts.stdinOnce) args.push("--stdin-once");
  if (opts.cloneNs?.length) args.push("--clone-ns", opts.cloneNs.join(","));
  if (opts.enterPidns) args.push("--enter-pidns", opts.enterPidns);
  if (opts.userns) {
    args.push("--userns", opts.userns);
    if (opts.netns) args.push("--netns", opts.netns);
    for (const f of opts.cgroupJoin ?? []) args.push("--cgroup-join", f);
    for (const [r, soft, hard] of opts.rlimits ?? []) args.push("--rlimit", `${r}:${soft}:${hard}`);
  }
  (opts.passFds ?? []).forEach((_, i) => args.push("--pass-fd", String(3 + i)));
  if (opts.gate) args.push("--gate");
  if (opts.bufferUntilAttach) args.push("--buffer-until-attach");
  return [...args, "--", ...command];
}

/**
 * Start a monitor running `command`; resolves once it is ready (sockets up,
 * command started unless gated). Rejects with the monitor's own error when it
 * cannot set up. A command that fails to start is not an error here: its
 * exit record (125/126/127 with `error`) says so.
 */
export async function spawnMonitor(binary: string, command: string[], opts: MonitorOptions): Promise<Monitor> {
  const proc = Bun.spawn([binary, ...monitorArgs(command, opts)], {
    stdio: ["ignore", "pipe", "pipe", ...(opts.passFds ?? [])],
    env: opts.env ?? process.env,
  });
  proc.unref();
  const line = await firstLine(proc.stdout);
  let ready: { monitorPid?: number; pid?: number; error?: string } = {};
  try {
    ready = line ? JSON.parse(line) : {};
  } catch {
    // reported below
  }
  if (typeof ready.monitorPid !== "number") {
    const stderr = (await new Response(proc.stderr).text()).trim();
    throw new Error(`berth-monitor: ${ready.error ?? (stderr || `exited ${await proc.exited} without getting ready`)}`);
  }
  proc.stderr.cancel().catch(() => {});
  return new Monitor(opts.dir, ready.monitorPid, ready.pid ?? 0);
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += decoder.decode(value, { stream: true });
      const nl = text.indexOf("\n");
      if (nl >= 0) return text.slice(0, nl);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

export class Monitor {
  #exited: Promise<ExitRecord> | undefined;
  #pid: number;

  constructor(
    readonly dir: string,
    readonly monitorPid: number,
    pid = 0,
  ) {
    this.#pid = pid;
  }

  /** The command's pid (0 while gated or if it never started). */
  get pid(): number {
    if (!this.#pid) this.#pid = readPid(this.dir) ?? 0;
    return this.#pid;
  }

  /** Run the command of a `gate`d monitor. */
  start(): void {
    this.#ctl("start");
  }

  /** Set the tty's size (ignored without a tty). */
  resize(rows: number, cols: number): void {
    this.#ctl(`resize ${Math.trunc(rows)} ${Math.trunc(cols)}`);
  }

  /** Close the command's stdin (once what clients sent is written). */
  closeStdin(): void {
    this.#ctl("close-stdin");
  }

  /**
   * Connect an attach client. Resolves once the monitor has been told which
   * streams it wants; without a tty, what it reads is stdcopy frames
   * (see StdcopyDecoder). Writing to the socket feeds stdin; ending it
   * (half-close) closes stdin with `stdinOnce`. The monitor closes it when
   * the command has exited and its output is drained, or drops it when more
   * than 1 MiB of its output is unread; errors then end up as "close".
   */
  attach(streams: AttachStreams): Promise<Socket> {
    const mask = (streams.stdin ? 1 : 0) | (streams.stdout ? 2 : 0) | (streams.stderr ? 4 : 0);
    return new Promise((resolve, reject) => {
      const sock = createConnection(`${this.dir}/attach.sock`);
      sock.once("error", reject);
      sock.once("connect", () =>
        sock.write(Buffer.from([mask]), (err) => {
          if (err) return reject(err);
          sock.off("error", reject);
          sock.on("error", () => {}); // a reset is followed by "close"
          resolve(sock);
        }),
      );
    });
  }

  /**
   * The exit record, once the command has exited and its output is drained.
   * Works whether the monitor is still running (a watcher connection) or
   * already gone; rejects if the monitor died without recording an exit.
   */
  exited(): Promise<ExitRecord> {
    this.#exited ??= new Promise((resolve, reject) => {
      const sock = createConnection(`${this.dir}/attach.sock`);
      sock.on("connect", () => sock.write(Buffer.from([0])));
      sock.on("data", () => {});
      sock.on("error", () => {}); // "close" follows
      sock.on("close", () => {
        const rec = readExit(this.dir);
        if (rec) resolve(rec);
        else reject(new Error(`the monitor in ${this.dir} ended without recording an exit`));
      });
    });
    return this.#exited;
  }

  /**
   * SIGKILL the command and the monitor (only if that pid still runs a
   * monitor of this directory) and wait, up to 5 s, until the monitor is gone.
   */
  async abort(): Promise<void> {
    const isOurs = () => {
      try {
        return processStartTime(this.monitorPid) !== undefined && readFileSync(`/proc/${this.monitorPid}/cmdline`, "utf8").split("\0").includes(this.dir);
      } catch {
        return false;
      }
    };
    if (this.pid > 0) kill(this.pid);
    if (!this.monitorPid || !isOurs()) return;
    kill(this.monitorPid);
    for (let i = 0; i < 500 && isOurs(); i++) await Bun.sleep(10);
  }

  /** Whether the monitor is running (it holds its ctl FIFO open). */
  alive(): boolean {
    try {
      closeSync(openSync(`${this.dir}/ctl`, constants.O_WRONLY | constants.O_NONBLOCK));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Reconnect to a monitor started by an earlier daemon; null if it is gone
   * (then readExit tells how the command ended, if it did).
   */
  static adopt(dir: string): Monitor | null {
    const m = new Monitor(dir, 0);
    if (!m.alive()) return null;
    let monitorPid = 0;
    try {
      monitorPid = Number.parseInt(readFileSync(`${dir}/monitor.pid`, "utf8"), 10) || 0;
    } catch {
      return null;
    }
    return new Monitor(dir, monitorPid, readPid(dir) ?? 0);
  }

  #ctl(line: string): void {
    let fd: number;
    try {
      fd = openSync(`${this.dir}/ctl`, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENXIO" || code === "ENOENT") throw new Error(`the monitor in ${this.dir} is not running`);
      throw err;
    }
    try {
      writeSync(fd, `${line}\n`);
    } finally {
      closeSync(fd);
    }
  }
}

function kill(pid: number) {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** The command's pid from DIR/pid, if it started. */
export function readPid(dir: string): number | undefined {
  try {
    return Number.parseInt(readFileSync(`${dir}/pid`, "utf8"), 10) || undefined;
  } catch {
    return undefined;
  }
}

/** DIR/exit.json, if the command has exited (or failed to start). */
export function readExit(dir: string): ExitRecord | undefined {
  try {
    return JSON.parse(readFileSync(`${dir}/exit.json`, "utf8"));
  } catch {
    return undefined;
  }
}

/** Splits Docker stdcopy frames (8-byte header: stream 1|2, 0, 0, 0, length BE32). */
export class StdcopyDecoder {
  #pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (stream: 1 | 2, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let buf = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    while (buf.length >= 8) {
      const len = buf.readUInt32BE(4);
      if (buf.length < 8 + len) break;
      this.onFrame(buf[0] as 1 | 2, buf.subarray(8, 8 + len));
      buf = buf.subarray(8 + len);
    }
    this.#pending = Buffer.from(buf);
  }

  /** Bytes of an incomplete frame left over (0 when the stream ended cleanly). */
  get leftover(): number {
    return this.#pending.length;
  }
}
