// berth history: the layers and steps an image was made of.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { ago, humanSize, table, truncate } from "../format.ts";
import { print } from "../output.ts";
import { renderTemplate } from "../template.ts";

export const command: CommandDef = {
  name: "history",
  usage: "history [OPTIONS] IMAGE",
  summary: "Show the history of an image",
  flags: [
    { name: "no-trunc", kind: "bool", help: "Don't truncate output" },
    { name: "quiet", short: "q", kind: "bool", help: "Only show image IDs" },
    { name: "format", kind: "string", help: "Format output using a Go template" },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run({ flags, args, global }) {
    const client = await connect(global);
    const rows = await client.json<{ Id: string; Created: number; CreatedBy: string; Size: number; Comment: string }[]>("GET", `/images/${args[0]}/history`);
    const noTrunc = flags.bool("no-trunc");
    const view = rows.map((r) => ({
      ID: r.Id === "<missing>" ? r.Id : noTrunc ? r.Id : r.Id.slice(7, 19),
      CreatedSince: r.Created ? ago(new Date(r.Created * 1000).toISOString()) : "N/A",
      CreatedBy: noTrunc ? r.CreatedBy : truncate(r.CreatedBy, 45),
      Size: humanSize(r.Size),
      Comment: r.Comment,
    }));
    const format = flags.string("format");
    if (flags.bool("quiet")) print(view.map((v) => `${v.ID}\n`).join(""));
    else if (format) print(view.map((v) => `${renderTemplate(format, v)}\n`).join(""));
    else print(table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], view.map((v) => [v.ID, v.CreatedSince, v.CreatedBy, v.Size, v.Comment])));
    return 0;
  },
};
