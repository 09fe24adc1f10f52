// berth top: the container's processes, as the host's ps shows them.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { enc } from "../each.ts";
import { table } from "../format.ts";
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "top",
  usage: "top CONTAINER [ps OPTIONS]",
  summary: "Display the running processes of a container",
  flags: [],
  stopAtPositional: true,
  minArgs: 1,
  async run({ args, global }) {
    const client = await connect(global);
    const [name, ...ps] = args as [string, ...string[]];
    const out = await client.json<{ Titles: string[]; Processes: string[][] }>("GET", `/containers/${enc(name)}/top`, { query: { ps_args: ps.length ? ps.join(" ") : undefined } });
    print(table(out.Titles, out.Processes));
    return 0;
  },
};
