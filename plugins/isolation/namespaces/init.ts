// The container's first process. `unshare` starts it as PID 1 of new pid,
// mount, uts and ipc namespaces; it reads its SandboxSpec from fd 3, sets
// the container up (setup.ts) and execve's the user's command, so the
// command itself becomes PID 1.
//
// Protocol on fd 3 (a socket to the engine), one JSON object per line:
//   engine -> init: the SandboxSpec
//   init -> engine: {"pid": <host pid>}, then {"exec": true} just before
//                   execve, or {"error": "...", "code": 125|126|127}.
import { readlinkSync, readSync, writeSync } from "node:fs";
import type { SandboxSpec } from "../../../core/contracts/isolation.ts";
import { StartError } from "../../../core/errors.ts";
import { libcSys } from "../../../core/sys/libc.ts";
import { describe, setupContainer } from "./setup.ts";
import { trace } from "../../../core/trace.ts";

const CONTROL_FD = 3;
const send = (msg: object) => writeSync(CONTROL_FD, `${JSON.stringify(msg)}\n`);

function readSpec(): SandboxSpec & { capLastCap: number } {
  const chunks: Buffer[] = [];
  const buf = Buffer.allocUnsafe(65536);
  for (;;) {
    const n = readSync(CONTROL_FD, buf);
    if (n === 0) throw new StartError("engine closed the control socket before sending the container spec", 125);
    chunks.push(Buffer.from(buf.subarray(0, n)));
    if (buf[n - 1] === 0x0a) break;
  }
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

trace("init: loaded");
try {
  const spec = readSpec();
  trace("init: spec read");
  // Before /proc is replaced, /proc/self names this process in the host's pid namespace.
  send({ pid: Number(readlinkSync("/proc/self")) });
  const target = setupContainer(spec, libcSys, { newRoot: "/", capLastCap: spec.capLastCap });
  trace("init: set up");
  libcSys.setCloexec(CONTROL_FD, true);
  send({ exec: true });
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
