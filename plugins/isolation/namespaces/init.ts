// A container's process before it becomes the user's command. The monitor
// starts it either as PID 1 of new pid, mount, uts and ipc namespaces (a new
// container), or in a running container's pid namespace (an exec). It reads
// what to do from fd 3, sets up (setup.ts), and execve's the command.
//
// Protocol on fd 3 (a socket to the engine), one JSON object per line:
//   engine -> init: {"mode":"run","spec":SandboxSpec,"capLastCap":N,"seccomp"?:{bpf,flags}}
//                or {"mode":"exec","target":ExecTarget,"process":ProcessSpec,"capLastCap":N,"seccomp"?:...}
//   init -> engine: {"pid": <host pid>}, then {"exec": true} just before
//                   execve, or {"error": "...", "code": 125|126|127}.
import { readFileSync, readlinkSync, readSync, writeSync } from "node:fs";
import type { ExecTarget, ProcessSpec, SandboxSpec } from "../../../core/contracts/isolation.ts";
import { StartError } from "../../../core/errors.ts";
import { libcSys } from "../../../core/sys/libc.ts";
import { trace, traceTo } from "../../../core/trace.ts";
import { CONTROL_FD } from "./fds.ts";
import { describe, enterContainer, setupContainer } from "./setup.ts";

export type InitRequest = (
  | { mode: "run"; spec: SandboxSpec; capLastCap: number }
  | { mode: "exec"; target: ExecTarget; process: ProcessSpec; capLastCap: number }
) & {
  /** The process's seccomp filter compiled by the engine: BPF in base64 and seccomp(2) flags. */
  seccomp?: { bpf: string; flags: number };
};

const send = (msg: object) => writeSync(CONTROL_FD, `${JSON.stringify(msg)}\n`);
traceTo((line) => send({ trace: line }));

function readRequest(): InitRequest {
  const chunks: Buffer[] = [];
  const buf = Buffer.allocUnsafe(65536);
  for (;;) {
    const n = readSync(CONTROL_FD, buf);
    if (n === 0) throw new StartError("the engine closed the control socket before saying what to run", 125);
    chunks.push(Buffer.from(buf.subarray(0, n)));
    if (buf[n - 1] === 0x0a) break;
  }
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

// The init is the host's Bun running inside the container (an exec joins
// its pid namespace): non-dumpable, no container process can open its
// /proc/<pid>/exe and through it the runtime on the host (CVE-2019-5736).
// execve makes the user's command dumpable again.
libcSys.setDumpable(false);

/** Bun ignores SIGPIPE and SIGXFSZ; an ignored signal survives execve, so the command would inherit it. */
function restoreSignals() {
  const ignored = BigInt(`0x${/^SigIgn:\s*([0-9a-f]+)/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? "0"}`);
  for (let sig = 1; sig <= 64; sig++) if (ignored & (1n << BigInt(sig - 1))) libcSys.defaultSignal(sig);
}

trace("init: loaded");
try {
  const req = readRequest();
  trace("init: request read");
  // Before /proc is replaced, /proc/self names this process in the host's pid namespace.
  send({ pid: Number(readlinkSync("/proc/self")) });
  const seccomp = req.seccomp && { program: new Uint8Array(Buffer.from(req.seccomp.bpf, "base64")), flags: req.seccomp.flags };
  const opts = { newRoot: "/", capLastCap: req.capLastCap, seccomp };
  const target = req.mode === "run" ? setupContainer(req.spec, libcSys, opts) : enterContainer(req.target, req.process, libcSys, opts);
  trace("init: set up");
  libcSys.setCloexec(CONTROL_FD, true);
  send({ exec: true });
  restoreSignals();
  libcSys.execve(target.path, target.argv, target.env);
} catch (err) {
  const code = err instanceof StartError ? err.exitCode : /ENOENT/.test(String(err)) ? 127 : /EACCES|EISDIR|ENOEXEC/.test(String(err)) ? 126 : 125;
  try {
    send({ error: describe(err), code });
  } catch {
    // The engine is gone; the exit code still tells.
  }
  process.exit(code);
}
