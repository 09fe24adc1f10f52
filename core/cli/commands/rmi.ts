// berth rmi: untag and delete images.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { forEach } from "../each.ts";
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "rmi",
  usage: "rmi [OPTIONS] IMAGE [IMAGE...]",
  summary: "Remove one or more images",
  flags: [
    { name: "force", short: "f", kind: "bool", help: "Force removal of the image" },
    { name: "no-prune", kind: "bool", help: "Do not delete untagged parents" },
  ],
  minArgs: 1,
  async run({ flags, args, global }) {
    const client = await connect(global);
    return forEach(
      args,
      async (n) => {
        const out = await client.json<{ Untagged?: string; Deleted?: string }[]>("DELETE", `/images/${n}`, { query: { force: flags.bool("force"), noprune: flags.bool("no-prune") } });
        print(out.map((o) => (o.Untagged ? `Untagged: ${o.Untagged}\n` : `Deleted: ${o.Deleted}\n`)).join(""));
      },
      false,
    );
  },
};
