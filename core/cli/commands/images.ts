// berth images: list images as `docker images` does.
import { familiarName, parseReference } from "../../images/reference.ts";
import type { CommandDef } from "../args.ts";
import { filterMap, filtersQuery } from "../filters.ts";
import { connect } from "../connect.ts";
import { ago, humanSize, table } from "../format.ts";
import { print } from "../output.ts";
import { renderTemplate } from "../template.ts";

interface ImageSummary {
  Id: string;
  RepoTags: string[];
  RepoDigests?: string[];
  Created: number;
  Size: number;
}

export const command: CommandDef = {
  name: "images",
  usage: "images [OPTIONS] [REPOSITORY[:TAG]]",
  summary: "List images",
  flags: [
    { name: "all", short: "a", kind: "bool", help: "Show all images (default hides intermediate images)" },
    { name: "quiet", short: "q", kind: "bool", help: "Only show image IDs" },
    { name: "no-trunc", kind: "bool", help: "Don't truncate output" },
    { name: "digests", kind: "bool", help: "Show digests" },
    { name: "filter", short: "f", kind: "list", help: "Filter output based on conditions provided (dangling, label, reference)" },
    { name: "format", kind: "string", help: "Format output using a Go template, e.g. '{{.Repository}}:{{.Tag}}'" },
  ],
  maxArgs: 1,
  async run({ flags, args, global }) {
    const filters = filterMap(flags.list("filter"));
    if (args[0]) (filters.reference ??= []).push(args[0]);
    const client = await connect(global);
    const list = await client.json<ImageSummary[]>("GET", "/images/json", { query: { filters: filtersQuery(filters), ...(flags.bool("all") ? { all: "1" } : {}) } });
    const noTrunc = flags.bool("no-trunc");
    const rows: Record<string, string>[] = [];
    for (const img of list) {
      const id = noTrunc ? img.Id : img.Id.slice(7, 19);
      const created = new Date(img.Created * 1000).toISOString();
      const base = { ID: id, CreatedSince: ago(created), CreatedAt: created, Size: humanSize(img.Size) };
      // The digest of a row is that of its repository, as pulled or pushed there.
      const digestOf = (repo: string) => (img.RepoDigests ?? []).find((d) => d.startsWith(`${repo}@`))?.split("@")[1] ?? "<none>";
      if (img.RepoTags.length === 0) rows.push({ ...base, Repository: "<none>", Tag: "<none>", Digest: "<none>" });
      for (const t of img.RepoTags) {
        const ref = parseReference(t);
        const repo = familiarName({ ...ref, tag: undefined });
        rows.push({ ...base, Repository: repo, Tag: ref.tag ?? "<none>", Digest: digestOf(repo) });
      }
    }
    const format = flags.string("format");
    if (flags.bool("quiet")) print([...new Set(rows.map((r) => r.ID))].map((id) => `${id}\n`).join(""));
    else if (format) print(rows.map((r) => `${renderTemplate(format.replace(/^table /, ""), r)}\n`).join(""));
    else if (flags.bool("digests")) print(table(["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"], rows.map((r) => [r.Repository!, r.Tag!, r.Digest!, r.ID!, r.CreatedSince!, r.Size!])));
    else print(table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows.map((r) => [r.Repository!, r.Tag!, r.ID!, r.CreatedSince!, r.Size!])));
    return 0;
  },
};
