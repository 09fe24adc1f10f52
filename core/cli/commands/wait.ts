// berth wait: print each container's exit code once it stops.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { enc, forEach } from "../each.ts";
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "wait",
  usage: "wait CONTAINER [CONTAINER...]",
  summary: "Block until one or more containers stop, then print their exit codes",
  flags: [],
  minArgs: 1,
  async run({ args, global }) {
    const client = await connect(global);
    return forEach(args, async (n) => print(`${(await client.json<{ StatusCode: number }>("POST", `/containers/${enc(n)}/wait`)).StatusCode}\n`), false);
  },
};
