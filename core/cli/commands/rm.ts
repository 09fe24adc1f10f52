// berth rm: remove containers; -f kills running ones, -v removes their anonymous volumes.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { enc, forEach } from "../each.ts";

export const command: CommandDef = {
  name: "rm",
  usage: "rm [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Remove one or more containers",
  flags: [
    { name: "force", short: "f", kind: "bool", help: "Force the removal of a running container (uses SIGKILL)" },
    { name: "volumes", short: "v", kind: "bool", help: "Remove anonymous volumes associated with the container" },
  ],
  minArgs: 1,
  async run({ flags, args, global }) {
    const client = await connect(global);
    return forEach(args, (n) => client.call("DELETE", `/containers/${enc(n)}`, { query: { force: flags.bool("force"), v: flags.bool("volumes") } }));
  },
};
