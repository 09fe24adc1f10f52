// berth image ls|inspect|rm|tag|import|save|load|history|prune: Docker's image management commands.
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
  usage: "image prune [OPTIONS]",
  summary: "Remove unused images (dangling ones; all unused with --all)",
  flags: [
    { name: "all", short: "a", kind: "bool", help: "Remove all unused images, not just dangling ones" },
    { name: "filter", kind: "list", help: "Provide filter values (e.g. 'label=<key>=<value>', 'until=24h')" },
    { name: "force", short: "f", kind: "bool", help: "Do not prompt for confirmation" },
  ],
  maxArgs: 0,
  async run({ flags, global }) {
    const all = flags.bool("all");
    const warning = all ? "WARNING! This will remove all images without at least one container associated to them." : "WARNING! This will remove all dangling images.";
    if (!flags.bool("force") && !(await confirm(warning))) return 0;
    const filters = { ...filterMap(flags.list("filter")), dangling: [all ? "false" : "true"] };
    const client = await connect(global);
    const out = await client.json<{ ImagesDeleted: { Untagged?: string; Deleted?: string }[] | null; SpaceReclaimed: number }>("POST", "/images/prune", { query: { filters: filtersQuery(filters) } });
    const deleted = out.ImagesDeleted ?? [];
    if (deleted.length) print(`Deleted Images:\n${deleted.map((d) => (d.Untagged ? `untagged: ${d.Untagged}` : `deleted: ${d.Deleted}`)).join("\n")}\n\n`);
    print(`Total reclaimed space: ${humanSize(out.SpaceReclaimed)}\n`);
    return 0;
  },
};

export const command = groupCommand("image", "Manage images", {
  ls: alias("images"),
  inspect: local(inspectCommand("image")),
  rm: alias("rmi"),
  tag: alias("tag"),
  import: alias("import"),
  pull: alias("pull"),
  push: alias("push"),
  save: alias("save"),
  load: alias("load"),
  history: alias("history"),
  prune: local(prune),
});
