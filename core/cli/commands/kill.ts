// berth kill: a signal (SIGKILL by default) to each container.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { enc, forEach } from "../each.ts";

export const command: CommandDef = {
  name: "kill",
  usage: "kill [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Kill one or more running containers",
  flags: [{ name: "signal", short: "s", kind: "string", default: "KILL", help: "Signal to send to the container" }],
  minArgs: 1,
  async run({ flags, args, global }) {
    const client = await connect(global);
    return forEach(args, (n) => client.call("POST", `/containers/${enc(n)}/kill`, { query: { signal: flags.string("signal") } }));
  },
};
