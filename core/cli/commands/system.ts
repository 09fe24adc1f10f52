// berth system df|prune
import type { CommandDef } from "../args.ts";
import { confirm } from "../confirm.ts";
import { connect } from "../connect.ts";
import { humanSize, table } from "../format.ts";
import { runGroup } from "../main.ts";
import { print } from "../output.ts";

const df: CommandDef = {
  name: "df",
  usage: "system df [OPTIONS]",
  summary: "Show berth disk usage",
  flags: [{ name: "verbose", short: "v", kind: "bool", help: "Show detailed information on space usage" }],
  maxArgs: 0,
  async run({ global }) {
    const client = await connect(global);
    const d = await client.json<{
      LayersSize: number;
      Images: { Containers: number; Size: number }[];
      Containers: { State: string; SizeRw: number }[];
      Volumes: { UsageData: { Size: number; RefCount: number } }[];
    }>("GET", "/system/df");
    const pct = (part: number, all: number) => (all ? `${Math.round((part / all) * 100)}%` : "0%");
    const imgActive = d.Images.filter((i) => i.Containers > 0);
    const imgReclaim = d.Images.filter((i) => i.Containers === 0).reduce((n, i) => n + i.Size, 0);
    const ctrSize = d.Containers.reduce((n, c) => n + c.SizeRw, 0);
    const ctrReclaim = d.Containers.filter((c) => c.State !== "running").reduce((n, c) => n + c.SizeRw, 0);
    const volSize = d.Volumes.reduce((n, v) => n + v.UsageData.Size, 0);
    const volReclaim = d.Volumes.filter((v) => v.UsageData.RefCount === 0).reduce((n, v) => n + v.UsageData.Size, 0);
    print(
      table(
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        [
          ["Images", String(d.Images.length), String(imgActive.length), humanSize(d.LayersSize), `${humanSize(imgReclaim)} (${pct(imgReclaim, d.LayersSize)})`],
          ["Containers", String(d.Containers.length), String(d.Containers.filter((c) => c.State === "running").length), humanSize(ctrSize), `${humanSize(ctrReclaim)} (${pct(ctrReclaim, ctrSize)})`],
          ["Local Volumes", String(d.Volumes.length), String(d.Volumes.filter((v) => v.UsageData.RefCount > 0).length), humanSize(volSize), `${humanSize(volReclaim)} (${pct(volReclaim, volSize)})`],
          ["Build Cache", "0", "0", "0B", "0B"],
        ],
      ),
    );
    return 0;
  },
};

const prune: CommandDef = {
  name: "prune",
  usage: "system prune [OPTIONS]",
  summary: "Remove stopped containers, unused networks, dangling images (all unused with -a) and, with --volumes, unused anonymous volumes",
  flags: [
    { name: "all", short: "a", kind: "bool", help: "Remove all unused images not just dangling ones" },
    { name: "volumes", kind: "bool", help: "Prune anonymous volumes" },
    { name: "force", short: "f", kind: "bool", help: "Do not prompt for confirmation" },
    { name: "filter", kind: "list", help: "Provide filter values (e.g. 'label=<key>=<value>')" },
  ],
  maxArgs: 0,
  async run({ flags, global }) {
    const removes = [
      "all stopped containers",
      "all networks not used by at least one container",
      ...(flags.bool("volumes") ? ["all anonymous volumes not used by at least one container"] : []),
      flags.bool("all") ? "all images without at least one container associated to them" : "all dangling images",
    ];
    if (!flags.bool("force") && !(await confirm(`WARNING! This will remove:\n${removes.map((r) => `  - ${r}`).join("\n")}\n`))) return 0;
    const client = await connect(global);
    const labels = flags.list("filter").filter((f) => f.startsWith("label=")).map((f) => f.slice(6));
    const filters = labels.length ? JSON.stringify({ label: labels }) : undefined;
    let space = 0;
    const c = await client.json<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>("POST", "/containers/prune", { query: { filters } });
    space += c.SpaceReclaimed;
    if (c.ContainersDeleted?.length) print(`Deleted Containers:\n${c.ContainersDeleted.join("\n")}\n\n`);
    const n = await client.json<{ NetworksDeleted: string[] | null }>("POST", "/networks/prune");
    if (n.NetworksDeleted?.length) print(`Deleted Networks:\n${n.NetworksDeleted.join("\n")}\n\n`);
    if (flags.bool("volumes")) {
      const v = await client.json<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>("POST", "/volumes/prune", { query: { filters } });
      space += v.SpaceReclaimed;
      if (v.VolumesDeleted?.length) print(`Deleted Volumes:\n${v.VolumesDeleted.join("\n")}\n\n`);
    }
    const imgFilters = JSON.stringify({ dangling: [flags.bool("all") ? "false" : "true"], ...(labels.length ? { label: labels } : {}) });
    const i = await client.json<{ ImagesDeleted: { Untagged?: string; Deleted?: string }[] | null; SpaceReclaimed: number }>("POST", "/images/prune", { query: { filters: imgFilters } });
    space += i.SpaceReclaimed;
    if (i.ImagesDeleted?.length) print(`Deleted Images:\n${i.ImagesDeleted.map((d) => (d.Untagged ? `untagged: ${d.Untagged}` : `deleted: ${d.Deleted}`)).join("\n")}\n\n`);
    print(`Total reclaimed space: ${humanSize(space)}\n`);
    return 0;
  },
};

const SUB = { df, prune };

export const command: CommandDef = {
  name: "system",
  usage: "system COMMAND",
  summary: "Manage berth",
  flags: [],
  stopAtPositional: true,
  details: `Commands:\n${Object.values(SUB).map((c) => `  ${c.name.padEnd(7)}${c.summary}`).join("\n")}`,
  async run({ args, global }) {
    return runGroup("berth system", "Manage berth", Object.fromEntries(Object.entries(SUB).map(([k, c]) => [k, { summary: c.summary, load: async () => ({ command: c }) }])), args, global);
  },
};
