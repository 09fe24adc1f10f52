// berth unpause.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { enc, forEach } from "../each.ts";

export const command: CommandDef = {
  name: "unpause",
  usage: "unpause CONTAINER [CONTAINER...]",
  summary: "Unpause all processes within one or more containers",
  flags: [],
  minArgs: 1,
  async run({ args, global }) {
    const client = await connect(global);
    return forEach(args, (n) => client.call("POST", `/containers/${enc(n)}/unpause`));
  },
};
