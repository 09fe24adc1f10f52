// The namespaces isolation: `unshare -f` makes new pid, mount, uts and ipc
// namespaces (a new pid namespace needs a fork, which a Bun process cannot
// do safely) and runs init.ts, in Bun, as the container's PID 1.
//
// busybox's unshare, not util-linux's: util-linux 2.38 exits 1 instead of
// dying by SIGKILL when the container is SIGKILLed (OOM kills included),
// which would hide Docker's exit code 137. `setsid` puts it in its own
// session, so a terminal's Ctrl-C reaches only berth, which forwards it.
import { writeSync } from "node:fs";
import { constants as osConstants } from "node:os";
import type { ContainerProcess, ExitStatus, Isolation, SandboxSpec, StdioSpec } from "../../../core/contracts/isolation.ts";
import { StartError } from "../../../core/errors.ts";
import { INIT_SCRIPT } from "../../../core/location.ts";

const UNSHARE = ["setsid", "busybox", "unshare", "-f", "-p", "-m", "-u", "-i", "--propagation", "private"];

/** Docker's convention: a signal death is 128 + the signal number. */
export function exitStatusOf(exitCode: number | null, signal: string | number | null): ExitStatus {
  if (signal) {
    const n = typeof signal === "number" ? signal : ((osConstants.signals as Record<string, number>)[signal] ?? 0);
    return { code: 128 + n, signal: String(signal) };
  }
  return { code: exitCode ?? 255 };
}

export class NamespacesIsolation implements Isolation {
  constructor(
    private readonly bun: string,
    private readonly capLastCap: number,
  ) {}

  async start(spec: SandboxSpec, stdio: [StdioSpec, StdioSpec, StdioSpec]): Promise<ContainerProcess> {
    const child = Bun.spawn([...UNSHARE, this.bun, INIT_SCRIPT], {
      stdio: [...stdio, "pipe"],
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...(process.env.BERTH_TRACE ? { BERTH_TRACE: "1" } : {}) },
    });
    const control = child.stdio[3] as unknown as number;
    writeSync(control, `${JSON.stringify({ ...spec, capLastCap: this.capLastCap })}\n`);

    // Read by hand: leaving a for-await early would close the stream.
    const messages = readMessages(control);
    let pid = 0;
    for (;;) {
      const { value: msg, done } = await messages.next();
      if (done) break;
      if (typeof msg.pid === "number") pid = msg.pid;
      else if (msg.exec) break;
      else if (typeof msg.error === "string") {
        await child.exited;
        throw new StartError(msg.error, typeof msg.code === "number" ? msg.code : 125);
      }
    }
    if (pid === 0) {
      await child.exited;
      const status = exitStatusOf(child.exitCode, child.signalCode);
      throw new StartError(`container init ended before the command started (exit ${status.code})`, 125);
    }
    // A failure of execve itself arrives after {"exec"}: keep it for the exit status.
    let lateError: string | undefined;
    const drained = (async () => {
      for await (const msg of messages) if (typeof msg.error === "string") lateError = msg.error;
    })();
    const exited = child.exited.then(async () => {
      await drained;
      const status = exitStatusOf(child.exitCode, child.signalCode);
      return lateError ? { ...status, error: lateError } : status;
    });
    return { pid, exited };
  }
}

/** The init's messages; the stream ending or breaking (the init died) ends them. */
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
