// berth start: start stopped containers; -a attaches to one.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { enc, forEach } from "../each.ts";
import { connectTerminal, pumpOutput } from "../streams.ts";
import { forwardSignals, startOrExplain } from "./run.ts";

export const command: CommandDef = {
  name: "start",
  usage: "start [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Start one or more stopped containers",
  flags: [
    { name: "attach", short: "a", kind: "bool", help: "Attach STDOUT/STDERR and forward signals" },
    { name: "interactive", short: "i", kind: "bool", help: "Attach container's STDIN" },
  ],
  minArgs: 1,
  async run({ flags, args, global }) {
    const client = await connect(global);
    if (!flags.bool("attach") && !flags.bool("interactive")) return forEach(args, (n) => client.call("POST", `/containers/${enc(n)}/start`));
    const [name] = args as [string];
    const info = await client.json<{ Id: string; Config: { Tty: boolean; OpenStdin: boolean } }>("GET", `/containers/${enc(name)}/json`);
    const tty = info.Config.Tty;
    const stdin = flags.bool("interactive") && info.Config.OpenStdin;
    const sock = await client.hijack(`/containers/${info.Id}/attach`, { query: { stream: 1, stdin, stdout: 1, stderr: 1 } });
    const waiting = await client.call("POST", `/containers/${info.Id}/wait`, { query: { condition: "next-exit" } });
    const output = pumpOutput(sock, tty);
    const restore = connectTerminal(sock, { stdin, tty, resize: tty ? (h, w) => void client.call("POST", `/containers/${info.Id}/resize`, { query: { h, w } }).catch(() => {}) : undefined });
    await startOrExplain(client, info.Id, false).catch((err) => {
      restore();
      throw err;
    });
    if (!tty) forwardSignals(client, info.Id);
    const status = (await waiting.json()) as { StatusCode: number };
    await Promise.race([output, Bun.sleep(2000)]);
    restore();
    return status.StatusCode;
  },
};
