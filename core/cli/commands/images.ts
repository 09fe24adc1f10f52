// berth images: list images as `docker images` does.
import { familiarName, parseReference } from "../../images/reference.ts";
import type { CommandDef } from "../args.ts";
import { openEngine } from "../engine.ts";
import { ago, humanSize, table } from "../format.ts";
import { renderTemplate } from "../template.ts";
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "images",
  usage: "images [OPTIONS] [REPOSITORY[:TAG]]",
  summary: "List images",
  flags: [
    { name: "quiet", short: "q", kind: "bool", help: "Only show image IDs" },
    { name: "no-trunc", kind: "bool", help: "Don't truncate output" },
    { name: "format", kind: "string", help: "Format output using a Go template, e.g. '{{.Repository}}:{{.Tag}}'" },
  ],
  maxArgs: 1,
  async run({ flags, args, global }) {
    const engine = openEngine(global);
    const images = await engine.images();
    const filter = args[0];
    const noTrunc = flags.bool("no-trunc");
    const rows: Record<string, string>[] = [];
    for (const { image, tags } of images.list()) {
      const id = noTrunc ? image.id : image.id.slice(7, 19);
      const base = { ID: id, CreatedSince: ago(image.created), CreatedAt: image.created, Size: humanSize(image.size) };
      if (tags.length === 0) {
        if (!filter) rows.push({ ...base, Repository: "<none>", Tag: "<none>" });
        continue;
      }
      for (const t of tags) {
        const ref = parseReference(t);
        const repo = familiarName({ ...ref, tag: undefined });
        if (filter && !matches(filter, repo, ref.tag ?? "")) continue;
        rows.push({ ...base, Repository: repo, Tag: ref.tag ?? "<none>" });
      }
    }
    const format = flags.string("format");
    if (flags.bool("quiet")) print([...new Set(rows.map((r) => r.ID))].map((id) => `${id}\n`).join(""));
    else if (format) print(rows.map((r) => `${renderTemplate(format, r)}\n`).join(""));
    else print(table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows.map((r) => [r.Repository!, r.Tag!, r.ID!, r.CreatedSince!, r.Size!])));
    return 0;
  },
};

function matches(filter: string, repo: string, tag: string): boolean {
  const colon = filter.lastIndexOf(":");
  if (colon > filter.lastIndexOf("/")) return filter.slice(0, colon) === repo && filter.slice(colon + 1) === tag;
  return filter === repo;
}
