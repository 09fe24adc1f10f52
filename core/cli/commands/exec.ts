// berth exec: run a command in a running container; attached by default,
// with -it a real terminal; exits with the command's code.
import { BerthError } from "../../errors.ts";
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { enc } from "../each.ts";
import { connectTerminal, pumpOutput } from "../streams.ts";
import { envEntry, readEnvFile } from "./create.ts";

export const command: CommandDef = {
  name: "exec",
  usage: "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
  summary: "Execute a command in a running container",
  flags: [
    { name: "detach", short: "d", kind: "bool", help: "Detached mode: run command in the background" },
    { name: "interactive", short: "i", kind: "bool", help: "Keep STDIN open even if not attached" },
    { name: "tty", short: "t", kind: "bool", help: "Allocate a pseudo-TTY" },
    { name: "env", short: "e", kind: "list", help: "Set environment variables" },
    { name: "env-file", kind: "list", help: "Read in a file of environment variables" },
    { name: "user", short: "u", kind: "string", help: "Username or UID (format: <name|uid>[:<group|gid>])" },
    { name: "workdir", short: "w", kind: "string", help: "Working directory inside the container" },
    { name: "privileged", kind: "bool", help: "Give extended privileges to the command" },
    { name: "detach-keys", kind: "string", help: "Override the key sequence for detaching a container" },
  ],
  stopAtPositional: true,
  minArgs: 2,
  async run({ flags, args, global }) {
    const [container, ...cmd] = args as [string, ...string[]];
    const client = await connect(global);
    const tty = flags.bool("tty");
    const interactive = flags.bool("interactive");
    const detach = flags.bool("detach");
    const env = [...flags.list("env-file").flatMap(readEnvFile), ...flags.list("env").flatMap(envEntry)];
    const consoleSize = tty && process.stdout.isTTY ? [process.stdout.rows, process.stdout.columns] : undefined;
    const { Id } = await client.json<{ Id: string }>("POST", `/containers/${enc(container)}/exec`, {
      json: {
        Cmd: cmd, Env: env, User: flags.string("user"), WorkingDir: flags.string("workdir"), Tty: tty, ConsoleSize: consoleSize,
        AttachStdin: interactive && !detach, AttachStdout: !detach, AttachStderr: !detach, Privileged: flags.bool("privileged"), DetachKeys: flags.string("detach-keys"),
      },
    });
    if (detach) {
      await client.call("POST", `/exec/${Id}/start`, { json: { Detach: true, Tty: tty } });
      return 0;
    }
    const sock = await client.hijack(`/exec/${Id}/start`, { json: { Detach: false, Tty: tty } });
    const output = pumpOutput(sock, tty);
    const restore = connectTerminal(sock, { stdin: interactive, tty, resize: tty ? (h, w) => void client.call("POST", `/exec/${Id}/resize`, { query: { h, w } }).catch(() => {}) : undefined });
    await output;
    restore();
    // The exit code is recorded a moment after the output ends.
    for (let i = 0; ; i++) {
      const info = await client.json<{ Running: boolean; ExitCode: number }>("GET", `/exec/${Id}/json`);
      if (!info.Running) return info.ExitCode;
      if (i === 2000) throw new BerthError("Internal", `exec ${Id}: the output ended but the daemon has not recorded the exit after 10 s`);
      await Bun.sleep(5);
    }
  },
};
