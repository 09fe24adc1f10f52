// The namespaces isolation. Each process runs under berth-monitor (a small
// C program, see monitor/), which outlives the engine: it clones the new
// pid, mount, uts and ipc namespaces of a container (or is born into a
// running container's pid namespace for an exec), holds the stdio, writes
// the log and records the exit. Inside, init.ts (Bun) sets the process up
// and execve's the command. The engine talks to init.ts over a socketpair
// (fd 3 there): what to run goes in, its pid and "exec" or an error come out.
import { closeSync, readlinkSync, writeSync } from "node:fs";
import type { ExecTarget, ExitStatus, Isolation, IoSpec, ProcessSpec, SandboxSpec, Supervised } from "../../../core/contracts/isolation.ts";
import { StartError } from "../../../core/errors.ts";
import { INIT_SCRIPT, MONITOR_BINARY } from "../../../core/location.ts";
import { libcSys } from "../../../core/sys/libc.ts";
import { RLIMIT, RLIM_INFINITY } from "../../../core/sys/index.ts";
import type { InitRequest } from "./init.ts";
import { CONSOLE_FD } from "./fds.ts";
import { compileSeccomp, filterFlags } from "./seccomp.ts";
import { Monitor, readExit, readPid, spawnMonitor, type ExitRecord, type MonitorOptions } from "./monitor.ts";

const INIT_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...(process.env.BERTH_TRACE ? { BERTH_TRACE: "1" } : {}) };

export class NamespacesIsolation implements Isolation {
  release?: () => void;

  constructor(
    private readonly bun: string,
    private readonly capLastCap: number,
    private readonly monitorBinary = MONITOR_BINARY,
  ) {}

  async start(spec: SandboxSpec, io: IoSpec, beforeRun?: (attach: Supervised["attach"]) => Promise<void>): Promise<Supervised> {
    const { process, seccomp } = withFilter(spec.process);
    // In a user namespace the monitor joins the network namespace and the cgroup (host objects) for the init.
    const userns = spec.userns ? { userns: spec.userns, netns: spec.netnsPath, cgroupJoin: spec.cgroupJoin, rlimits: rlimitsOf(spec.process) } : {};
    return this.run({ mode: "run", spec: { ...spec, process }, capLastCap: this.capLastCap, seccomp }, io, { cloneNs: ["pid", "mnt", "uts", "ipc"], ...userns }, beforeRun);
  }

  async exec(target: ExecTarget, proc: ProcessSpec, io: IoSpec, beforeRun?: (attach: Supervised["attach"]) => Promise<void>): Promise<Supervised> {
    const { process, seccomp } = withFilter(proc);
    // A container in a user namespace of its own (--userns-remap): the exec enters it too, as root there.
    const userns = `/proc/${target.pid}/ns/user`;
    const remapped = readlinkOr(userns) !== readlinkOr("/proc/self/ns/user");
    const ns = { enterPidns: `/proc/${target.pid}/ns/pid`, ...(remapped ? { userns, cgroupJoin: target.cgroupJoin, rlimits: rlimitsOf(proc) } : {}) };
    const t = remapped ? { ...target, cgroupJoin: [] } : target;
    return this.run({ mode: "exec", target: t, process, capLastCap: this.capLastCap, seccomp }, io, ns, beforeRun);
  }

  adopt(stateDir: string, pid: number): Supervised | ExitStatus | undefined {
    const monitor = Monitor.adopt(stateDir);
    if (monitor) return supervise(monitor, pid || readPid(stateDir) || 0);
    const exit = readExit(stateDir);
    return exit ? statusOf(exit) : undefined;
  }

  private async run(
    request: InitRequest,
    io: IoSpec,
    ns: Pick<MonitorOptions, "cloneNs" | "enterPidns" | "userns" | "netns" | "cgroupJoin" | "rlimits">,
    beforeRun?: (attach: Supervised["attach"]) => Promise<void>,
  ): Promise<Supervised> {
    const [control, theirs] = libcSys.socketpair();
    let monitor: Monitor;
    try {
      monitor = await spawnMonitor(this.monitorBinary, [this.bun, INIT_SCRIPT], {
        dir: io.stateDir,
        log: io.log,
        tty: io.tty,
        consoleFd: CONSOLE_FD,
        stdin: io.stdin,
        stdinOnce: io.stdinOnce,
        ...ns,
        passFds: [theirs],
        env: INIT_ENV,
      });
    } catch (err) {
      closeSync(control);
      throw new StartError(err instanceof Error ? err.message : String(err), 125);
    } finally {
      closeSync(theirs);
    }
    // The init boots while attach clients connect; it waits for its request,
    // so nothing runs (and no output is made) before they are in place.
    void monitor.exited().catch(() => {}); // the exit watcher, connected early
    try {
      if (beforeRun) await beforeRun((s) => monitor.attach(s));
    } finally {
      try {
        writeSync(control, `${JSON.stringify(request)}\n`);
      } catch (err) {
        // The command never started (the monitor could not set it up): its exit record says why, below.
        if ((err as NodeJS.ErrnoException).code !== "EPIPE") throw err;
      }
    }
    const messages = readMessages(control);
    let pid = 0;
    for (;;) {
      const { value: msg, done } = await messages.next();
      if (done) break;
      if (typeof msg.trace === "string") console.error(msg.trace);
      else if (typeof msg.pid === "number") pid = msg.pid;
      else if (msg.exec) {
        void messages.return(undefined); // after exec the init has nothing more to say
        return supervise(monitor, pid);
      } else if (typeof msg.error === "string") {
        await monitor.exited();
        throw new StartError(msg.error, typeof msg.code === "number" ? msg.code : 125);
      }
    }
    // The init ended before exec without a word (it could not start, or was killed).
    const exit = await monitor.exited();
    throw new StartError(exit.error ?? `container init ended before the command started (exit ${exit.exitCode})`, exit.error ? exit.exitCode : 125);
  }
}

/** The ulimits for the monitor to set as host root (the init sets them again, which then needs nothing more). */
function rlimitsOf(p: ProcessSpec): [number, bigint, bigint][] {
  const big = (n: number) => (n < 0 ? RLIM_INFINITY : BigInt(n));
  return p.rlimits.flatMap((r) => (RLIMIT[r.type] === undefined ? [] : [[RLIMIT[r.type]!, big(r.soft), big(r.hard)] as [number, bigint, bigint]]));
}

function readlinkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}

/** The process without its seccomp config, which goes to the init compiled instead. */
function withFilter(proc: ProcessSpec): { process: ProcessSpec; seccomp?: InitRequest["seccomp"] } {
  if (!proc.seccomp) return { process: proc };
  const { seccomp: cfg, ...process } = proc;
  let bpf: Uint8Array;
  try {
    bpf = compileSeccomp(cfg);
  } catch (err) {
    throw new StartError(`compiling the seccomp filter: ${(err as Error).message}`, 125);
  }
  return { process, seccomp: { bpf: Buffer.from(bpf).toString("base64"), flags: filterFlags(cfg) } };
}

function statusOf(e: ExitRecord): ExitStatus {
  return { code: e.exitCode, signal: e.signal ?? undefined, error: e.error ?? undefined, finishedAt: e.finishedAt };
}

function supervise(monitor: Monitor, pid: number): Supervised {
  return {
    pid,
    monitorPid: monitor.monitorPid,
    // A monitor killed before it could record the exit (an aborted start,
    // SIGKILL from outside) ends like a killed command; never a rejection
    // nobody waits for, which would bring the daemon down.
    exited: monitor.exited().then(statusOf, (err: Error) => ({ code: 137, signal: "SIGKILL", error: err.message })),
    attach: (s) => monitor.attach(s),
    resize: (rows, cols) => monitor.resize(rows, cols),
    closeStdin: () => monitor.closeStdin(),
    abort: () => monitor.abort(),
  };
}

/** The init's messages; the socket ending or breaking (the init died) ends them. */
async function* readMessages(fd: number): AsyncGenerator<Record<string, unknown>> {
  let pending = "";
  const decoder = new TextDecoder();
  try {
    for await (const chunk of Bun.file(fd).stream()) {
      pending += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line) yield JSON.parse(line);
      }
    }
  } catch (err) {
    if (!["ECONNRESET", "EPIPE", "EBADF"].includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
  }
}
