// berth container ls|run|create|...|prune: Docker's container management commands.
import type { CommandDef } from "../args.ts";
import { confirm } from "../confirm.ts";
import { filterMap, filtersQuery } from "../filters.ts";
import { connect } from "../connect.ts";
import { humanSize } from "../format.ts";
import { alias, groupCommand, local } from "../main.ts";
import { print } from "../output.ts";
import { inspectCommand } from "./inspect.ts";

const prune: CommandDef = {
  name: "prune",
  usage: "container prune [OPTIONS]",
  summary: "Remove all stopped containers",
  flags: [
    { name: "filter", kind: "list", help: "Provide filter values (e.g. 'label=<key>=<value>', 'until=24h')" },
    { name: "force", short: "f", kind: "bool", help: "Do not prompt for confirmation" },
  ],
  maxArgs: 0,
  async run({ flags, global }) {
    if (!flags.bool("force") && !(await confirm("WARNING! This will remove all stopped containers."))) return 0;
    const filters = filterMap(flags.list("filter"));
    const client = await connect(global);
    const out = await client.json<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>("POST", "/containers/prune", { query: { filters: filtersQuery(filters) } });
    const deleted = out.ContainersDeleted ?? [];
    if (deleted.length) print(`Deleted Containers:\n${deleted.join("\n")}\n\n`);
    print(`Total reclaimed space: ${humanSize(out.SpaceReclaimed)}\n`);
    return 0;
  },
};

const same = ["run", "create", "start", "stop", "restart", "kill", "rm", "logs", "exec", "attach", "pause", "unpause", "wait", "top", "stats", "rename", "cp", "diff", "export", "port", "commit"];

export const command = groupCommand("container", "Manage containers", {
  ls: alias("ps"),
  inspect: local(inspectCommand("container")),
  ...Object.fromEntries(same.map((name) => [name, alias(name)])),
  prune: local(prune),
});
