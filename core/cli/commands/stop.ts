// berth stop: the stop signal, then SIGKILL after the grace period.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { enc, forEach } from "../each.ts";

export const command: CommandDef = {
  name: "stop",
  usage: "stop [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Stop one or more running containers",
  flags: [
    { name: "time", short: "t", kind: "string", valueName: "int", help: "Seconds to wait before killing the container (default 10)" },
    { name: "signal", short: "s", kind: "string", help: "Signal to send to the container (default: its stop signal, SIGTERM)" },
  ],
  minArgs: 1,
  async run({ flags, args, global }) {
    const client = await connect(global);
    return forEach(args, (n) => client.call("POST", `/containers/${enc(n)}/stop`, { query: { t: flags.string("time"), signal: flags.string("signal") } }));
  },
};
