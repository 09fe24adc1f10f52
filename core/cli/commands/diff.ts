// berth diff: what changed in a container's filesystem (A added, C changed, D deleted).
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { enc } from "../each.ts";
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "diff",
  usage: "diff CONTAINER",
  summary: "Inspect changes to files or directories on a container's filesystem",
  flags: [],
  minArgs: 1,
  maxArgs: 1,
  async run({ args, global }) {
    const client = await connect(global);
    const changes = (await client.json<{ Path: string; Kind: number }[] | null>("GET", `/containers/${enc(args[0]!)}/changes`)) ?? [];
    print(changes.map((c) => `${"CAD"[c.Kind]} ${c.Path}\n`).join(""));
    return 0;
  },
};
