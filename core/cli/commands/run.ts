// berth run: create a container and start it; attached (the default) its
// output comes here, signals are forwarded, and berth exits with its code.
import { BerthError } from "../../errors.ts";
import type { CommandDef } from "../args.ts";
import type { Client } from "../client.ts";
import { connect } from "../connect.ts";
import { print, printErr } from "../output.ts";
import { reportError } from "../report.ts";
import { connectTerminal, pumpOutput } from "../streams.ts";
import { trace } from "../../trace.ts";
import { CREATE_FLAGS, createContainer } from "./create.ts";

export const command: CommandDef = {
  name: "run",
  usage: "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
  summary: "Create and run a new container from an image",
  flags: [
    ...CREATE_FLAGS,
    { name: "detach", short: "d", kind: "bool", help: "Run container in background and print container ID" },
    { name: "sig-proxy", kind: "bool", default: "true", help: "Proxy received signals to the process" },
    { name: "detach-keys", kind: "string", help: "Override the key sequence for detaching a container" },
  ],
  stopAtPositional: true,
  minArgs: 1,
  async run({ flags, args, global }) {
    const client = await connect(global);
    trace("run: connected");
    const { id, warnings } = await createContainer(client, flags, args);
    trace("run: created");
    for (const w of warnings) printErr(`WARNING: ${w}\n`);
    const autoRemove = flags.bool("rm");
    if (flags.bool("detach")) {
      await startOrExplain(client, id, autoRemove);
      print(`${id}\n`);
      return 0;
    }
    const tty = flags.bool("tty");
    const interactive = flags.bool("interactive");
    // The attach and the wait are both registered (their headers are back)
    // before the start: no output and no exit can slip by.
    const [sock, waiting] = await Promise.all([
      client.hijack(`/containers/${id}/attach`, {
        query: { stream: 1, stdin: interactive, stdout: 1, stderr: 1, detachKeys: flags.string("detach-keys") },
      }),
      client.call("POST", `/containers/${id}/wait`, { query: { condition: autoRemove ? "removed" : "next-exit" } }),
    ]);
    trace("run: attached and waiting");
    const output = pumpOutput(sock, tty);
    const restore = connectTerminal(sock, {
      stdin: interactive,
      tty,
      resize: tty ? (h, w) => void client.call("POST", `/containers/${id}/resize`, { query: { h, w } }).catch(() => {}) : undefined,
    });
    // Output can arrive before start returns: forward signals from now on, sent once started.
    const started = startOrExplain(client, id, autoRemove);
    if (flags.bool("sig-proxy") && !tty) forwardSignals(client, id, started);
    try {
      await started;
    } catch (err) {
      restore();
      sock.destroy();
      throw err;
    }
    trace("run: started");
    const status = (await waiting.json()) as { StatusCode: number; Error: { Message: string } | null };
    await Promise.race([output, Bun.sleep(2000)]);
    restore();
    trace("run: exited");
    if (status.Error?.Message) printErr(`berth: ${status.Error.Message}\n`);
    return status.StatusCode;
  },
};

/** Start; on failure give Docker's exit code (127 not found, 126 cannot run, 125 other). */
export async function startOrExplain(client: Client, id: string, autoRemove: boolean) {
  try {
    await client.call("POST", `/containers/${id}/start`);
  } catch (err) {
    if (autoRemove) await client.call("DELETE", `/containers/${id}`, { query: { force: 1 } }).catch(() => {});
    reportError(err);
    const msg = err instanceof Error ? err.message : String(err);
    const code = /executable file not found|no such file or directory/.test(msg) ? 127 : /permission denied|is a directory/.test(msg) ? 126 : 125;
    throw Object.assign(new BerthError("FailedPrecondition", msg), { exitCode: code, reported: true });
  }
}

/** Forward the signals a shell sends to the container's PID 1 (once `started`), as `docker run` does. */
export function forwardSignals(client: Client, id: string, started: Promise<unknown> = Promise.resolve()) {
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const) {
    process.on(sig, () => void started.then(() => client.call("POST", `/containers/${id}/kill`, { query: { signal: sig } })).catch(() => {}));
  }
}
