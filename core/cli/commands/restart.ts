// berth restart: stop (if running) then start.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { enc, forEach } from "../each.ts";

export const command: CommandDef = {
  name: "restart",
  usage: "restart [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Restart one or more containers",
  flags: [
    { name: "time", short: "t", kind: "string", valueName: "int", help: "Seconds to wait before killing the container (default 10)" },
    { name: "signal", short: "s", kind: "string", help: "Signal to send to the container" },
  ],
  minArgs: 1,
  async run({ flags, args, global }) {
    const client = await connect(global);
    return forEach(args, (n) => client.call("POST", `/containers/${enc(n)}/restart`, { query: { t: flags.string("time"), signal: flags.string("signal") } }));
  },
};
