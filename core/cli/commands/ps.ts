// berth ps: list containers as `docker ps` does.
import type { CommandDef } from "../args.ts";
import { filterMap, filtersQuery } from "../filters.ts";
import { connect } from "../connect.ts";
import { humanDuration, table, truncate } from "../format.ts";
import { print } from "../output.ts";
import { renderTemplate } from "../template.ts";
import { trace } from "../../trace.ts";

/** An entry of GET /containers/json, the fields berth's commands read. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  Command: string;
  Created: number;
  State: string;
  Status: string;
  Labels: Record<string, string>;
  Mounts: { Name?: string; Source: string }[];
  HostConfig: { NetworkMode: string };
  Ports: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[];
  NetworkSettings?: { Networks?: Record<string, unknown> };
}

/** Docker's PORTS column: "0.0.0.0:8080->80/tcp, 53/udp". */
export function portsText(ports: ContainerSummary["Ports"]): string {
  return ports
    .map((p) => (p.PublicPort ? `${p.IP ?? "0.0.0.0"}:${p.PublicPort}->${p.PrivatePort}/${p.Type}` : `${p.PrivatePort}/${p.Type}`))
    .join(", ");
}

export const command: CommandDef = {
  name: "ps",
  usage: "ps [OPTIONS]",
  summary: "List containers",
  flags: [
    { name: "all", short: "a", kind: "bool", help: "Show all containers (default shows just running)" },
    { name: "quiet", short: "q", kind: "bool", help: "Only display container IDs" },
    { name: "no-trunc", kind: "bool", help: "Don't truncate output" },
    { name: "filter", short: "f", kind: "list", help: "Filter output based on conditions provided (id, name, label, status, exited, ancestor, health, volume)" },
    { name: "format", kind: "string", help: "Format output using a Go template, e.g. '{{.ID}} {{.Names}}'" },
    { name: "last", short: "n", kind: "string", valueName: "int", help: "Show n last created containers (includes all states)" },
    { name: "latest", short: "l", kind: "bool", help: "Show the latest created container (includes all states)" },
  ],
  maxArgs: 0,
  async run({ flags, global }) {
    const filters = filterMap(flags.list("filter"));
    const limit = flags.bool("latest") ? 1 : flags.string("last") ? Number(flags.string("last")) : undefined;
    const client = await connect(global);
    trace("ps: connected");
    const list = await client.json<ContainerSummary[]>("GET", "/containers/json", {
      query: { all: flags.bool("all") || limit !== undefined, limit, filters: filtersQuery(filters) },
    });
    trace("ps: listed");
    const noTrunc = flags.bool("no-trunc");
    const view = list.map((c) => psView(c, noTrunc));
    const format = flags.string("format");
    if (flags.bool("quiet")) print(view.map((v) => `${v.ID}\n`).join(""));
    else if (format && format !== "table") print(view.map((v) => `${renderTemplate(format.replace(/^table /, ""), v)}\n`).join(""));
    else print(table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], view.map((v) => [v.ID, v.Image, v.Command, v.RunningFor, v.Status, v.Ports, v.Names])));
    return 0;
  },
};

/** The fields `docker ps --format` offers, each computed only when used (ps may list thousands). */
function psView(c: ContainerSummary, noTrunc: boolean) {
  return {
    get ID() {
      return noTrunc ? c.Id : c.Id.slice(0, 12);
    },
    Image: c.Image,
    get Command() {
      return `"${noTrunc ? c.Command : truncate(c.Command, 20)}"`;
    },
    get CreatedAt() {
      return new Date(c.Created * 1000).toISOString();
    },
    get RunningFor() {
      return `${humanDuration(Date.now() - c.Created * 1000)} ago`;
    },
    Status: c.Status,
    State: c.State,
    get Ports() {
      return portsText(c.Ports ?? []);
    },
    get Names() {
      return c.Names.map((n) => n.replace(/^\//, "")).join(",");
    },
    get Labels() {
      return Object.entries(c.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
    },
    get Mounts() {
      return c.Mounts.map((m) => m.Name ?? m.Source).join(",");
    },
    get Networks() {
      return Object.keys(c.NetworkSettings?.Networks ?? {}).join(",") || c.HostConfig.NetworkMode;
    },
  };
}
