// berth attach: this terminal to a running container's stdio.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { enc } from "../each.ts";
import { connectTerminal, pumpOutput } from "../streams.ts";
import { forwardSignals } from "./run.ts";

export const command: CommandDef = {
  name: "attach",
  usage: "attach [OPTIONS] CONTAINER",
  summary: "Attach local standard input, output, and error streams to a running container",
  flags: [
    { name: "no-stdin", kind: "bool", help: "Do not attach STDIN" },
    { name: "sig-proxy", kind: "bool", default: "true", help: "Proxy all received signals to the process" },
    { name: "detach-keys", kind: "string", help: "Override the key sequence for detaching a container" },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run({ flags, args, global }) {
    const client = await connect(global);
    const info = await client.json<{ Id: string; State: { Running: boolean }; Config: { Tty: boolean; OpenStdin: boolean } }>("GET", `/containers/${enc(args[0]!)}/json`);
    if (!info.State.Running) throw new Error("You cannot attach to a stopped container, start it first");
    const tty = info.Config.Tty;
    const stdin = !flags.bool("no-stdin") && info.Config.OpenStdin;
    const sock = await client.hijack(`/containers/${info.Id}/attach`, { query: { stream: 1, stdin, stdout: 1, stderr: 1, detachKeys: flags.string("detach-keys") } });
    const waiting = client.json<{ StatusCode: number }>("POST", `/containers/${info.Id}/wait`);
    const output = pumpOutput(sock, tty);
    const restore = connectTerminal(sock, { stdin, tty, resize: tty ? (h, w) => void client.call("POST", `/containers/${info.Id}/resize`, { query: { h, w } }).catch(() => {}) : undefined });
    if (flags.bool("sig-proxy") && !tty) forwardSignals(client, info.Id);
    await output;
    restore();
    // Detached with the keys: the container still runs, berth exits 0.
    const status = await Promise.race([waiting, Bun.sleep(200).then(() => undefined)]);
    return status?.StatusCode ?? 0;
  },
};
