// berth volume create|ls|inspect|rm|prune
import type { CommandDef } from "../args.ts";
import { filterMap, filtersQuery } from "../filters.ts";
import { confirm } from "../confirm.ts";
import { connect } from "../connect.ts";
import { enc, forEach } from "../each.ts";
import { table } from "../format.ts";
import { runGroup } from "../main.ts";
import { print } from "../output.ts";
import { renderTemplate } from "../template.ts";
import { humanSize } from "../format.ts";

interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  Labels: Record<string, string> | null;
}

const keyValues = (list: string[]) => Object.fromEntries(list.map((s) => (s.includes("=") ? [s.slice(0, s.indexOf("=")), s.slice(s.indexOf("=") + 1)] : [s, ""])));
const filters = (list: string[]) => filtersQuery(filterMap(list));

const create: CommandDef = {
  name: "create",
  usage: "volume create [OPTIONS] [VOLUME]",
  summary: "Create a volume",
  flags: [
    { name: "driver", short: "d", kind: "string", default: "local", help: "Specify volume driver name" },
    { name: "opt", short: "o", kind: "list", help: "Set driver specific options (type, device, o)" },
    { name: "label", kind: "list", help: "Set metadata for a volume" },
    { name: "name", kind: "string", help: "Specify volume name" },
  ],
  maxArgs: 1,
  async run({ flags, args, global }) {
    const client = await connect(global);
    const v = await client.json<Volume>("POST", "/volumes/create", {
      json: { Name: args[0] ?? flags.string("name") ?? "", Driver: flags.string("driver"), DriverOpts: keyValues(flags.list("opt")), Labels: keyValues(flags.list("label")) },
    });
    print(`${v.Name}\n`);
    return 0;
  },
};

const ls: CommandDef = {
  name: "ls",
  usage: "volume ls [OPTIONS]",
  summary: "List volumes",
  flags: [
    { name: "quiet", short: "q", kind: "bool", help: "Only display volume names" },
    { name: "filter", short: "f", kind: "list", help: "Provide filter values (dangling=true, driver, label, name)" },
    { name: "format", kind: "string", help: "Format output using a Go template" },
  ],
  maxArgs: 0,
  async run({ flags, global }) {
    const client = await connect(global);
    const { Volumes } = await client.json<{ Volumes: Volume[] }>("GET", "/volumes", { query: { filters: filters(flags.list("filter")) } });
    const format = flags.string("format");
    if (flags.bool("quiet")) print(Volumes.map((v) => `${v.Name}\n`).join(""));
    else if (format) print(Volumes.map((v) => `${renderTemplate(format.replace(/^table /, ""), v)}\n`).join(""));
    else print(table(["DRIVER", "VOLUME NAME"], Volumes.map((v) => [v.Driver, v.Name])));
    return 0;
  },
};

const inspect: CommandDef = {
  name: "inspect",
  usage: "volume inspect [OPTIONS] VOLUME [VOLUME...]",
  summary: "Display detailed information on one or more volumes",
  flags: [{ name: "format", short: "f", kind: "string", help: "Format output using a Go template" }],
  minArgs: 1,
  async run({ flags, args, global }) {
    const client = await connect(global);
    const found: unknown[] = [];
    const code = await forEach(args, async (n) => void found.push(await client.json("GET", `/volumes/${enc(n)}`)), false);
    const format = flags.string("format");
    print(format ? found.map((v) => `${renderTemplate(format, v)}\n`).join("") : `${JSON.stringify(found, null, 4)}\n`);
    return code;
  },
};

const rm: CommandDef = {
  name: "rm",
  usage: "volume rm [OPTIONS] VOLUME [VOLUME...]",
  summary: "Remove one or more volumes",
  flags: [{ name: "force", short: "f", kind: "bool", help: "Do not fail when a volume does not exist" }],
  minArgs: 1,
  async run({ flags, args, global }) {
    const client = await connect(global);
    return forEach(args, (n) => client.call("DELETE", `/volumes/${enc(n)}`, { query: { force: flags.bool("force") } }));
  },
};

const prune: CommandDef = {
  name: "prune",
  usage: "volume prune [OPTIONS]",
  summary: "Remove unused local volumes (anonymous ones; all unused with --all)",
  flags: [
    { name: "all", short: "a", kind: "bool", help: "Remove all unused volumes, not just anonymous ones" },
    { name: "filter", kind: "list", help: "Provide filter values (label=<key>=<value>)" },
    { name: "force", short: "f", kind: "bool", help: "Do not prompt for confirmation" },
  ],
  maxArgs: 0,
  async run({ flags, global }) {
    const warning = flags.bool("all")
      ? "WARNING! This will remove all local volumes not used by at least one container."
      : "WARNING! This will remove anonymous local volumes not used by at least one container.";
    if (!flags.bool("force") && !(await confirm(warning))) return 0;
    const client = await connect(global);
    const f = flags.list("filter");
    if (flags.bool("all")) f.push("all=true");
    const out = await client.json<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>("POST", "/volumes/prune", { query: { filters: filters(f) } });
    const deleted = out.VolumesDeleted ?? [];
    print(`${deleted.length ? `Deleted Volumes:\n${deleted.join("\n")}\n\n` : ""}Total reclaimed space: ${humanSize(out.SpaceReclaimed)}\n`);
    return 0;
  },
};

const SUB = { create, ls, inspect, rm, prune };

export const command: CommandDef = {
  name: "volume",
  usage: "volume COMMAND",
  summary: "Manage volumes",
  flags: [],
  stopAtPositional: true,
  details: `Commands:\n${Object.values(SUB).map((c) => `  ${c.name.padEnd(9)}${c.summary}`).join("\n")}`,
  async run({ args, global }) {
    return runGroup("berth volume", "Manage volumes", Object.fromEntries(Object.entries(SUB).map(([k, c]) => [k, { summary: c.summary, load: async () => ({ command: c }) }])), args, global);
  },
};
