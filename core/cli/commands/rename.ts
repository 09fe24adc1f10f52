// berth rename.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { enc } from "../each.ts";

export const command: CommandDef = {
  name: "rename",
  usage: "rename CONTAINER NEW_NAME",
  summary: "Rename a container",
  flags: [],
  minArgs: 2,
  maxArgs: 2,
  async run({ args, global }) {
    const client = await connect(global);
    await client.call("POST", `/containers/${enc(args[0]!)}/rename`, { query: { name: args[1] } });
    return 0;
  },
};
