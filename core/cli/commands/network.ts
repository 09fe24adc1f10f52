// berth network create|ls|inspect|rm|connect|disconnect|prune
import type { CommandDef } from "../args.ts";
import { confirm } from "../confirm.ts";
import { connect } from "../connect.ts";
import { enc, forEach } from "../each.ts";
import { filterMap, filtersQuery } from "../filters.ts";
import { table } from "../format.ts";
import { groupCommand, local } from "../main.ts";
import { print } from "../output.ts";
import { renderTemplate } from "../template.ts";

interface Network {
  Id: string;
  Name: string;
  Driver: string;
  Scope: string;
  Internal: boolean;
  Labels: Record<string, string> | null;
  Created: string;
}

const keyValues = (list: string[]) => Object.fromEntries(list.map((s) => (s.includes("=") ? [s.slice(0, s.indexOf("=")), s.slice(s.indexOf("=") + 1)] : [s, ""])));

const create: CommandDef = {
  name: "create",
  usage: "network create [OPTIONS] NETWORK",
  summary: "Create a network",
  flags: [
    { name: "driver", short: "d", kind: "string", default: "bridge", help: "Driver to manage the Network" },
    { name: "subnet", kind: "list", help: "Subnet in CIDR format that represents a network segment (one IPv4 subnet)" },
    { name: "gateway", kind: "list", help: "IPv4 Gateway for the master subnet" },
    { name: "internal", kind: "bool", help: "Restrict external access to the network" },
    { name: "attachable", kind: "bool", help: "Enable manual container attachment" },
    { name: "opt", short: "o", kind: "list", help: "Set driver specific options (com.docker.network.bridge.name, com.docker.network.driver.mtu)" },
    { name: "label", kind: "list", help: "Set metadata on a network" },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run({ flags, args, global }) {
    const subnets = flags.list("subnet");
    const gateways = flags.list("gateway");
    const client = await connect(global);
    const out = await client.json<{ Id: string }>("POST", "/networks/create", {
      json: {
        Name: args[0],
        Driver: flags.string("driver"),
        Internal: flags.bool("internal"),
        Attachable: flags.bool("attachable"),
        CheckDuplicate: true,
        IPAM: { Driver: "default", Config: subnets.map((s, i) => ({ Subnet: s, Gateway: gateways[i] })) },
        Options: keyValues(flags.list("opt")),
        Labels: keyValues(flags.list("label")),
      },
    });
    print(`${out.Id}\n`);
    return 0;
  },
};

const ls: CommandDef = {
  name: "ls",
  usage: "network ls [OPTIONS]",
  summary: "List networks",
  flags: [
    { name: "quiet", short: "q", kind: "bool", help: "Only display network IDs" },
    { name: "no-trunc", kind: "bool", help: "Do not truncate the output" },
    { name: "filter", short: "f", kind: "list", help: "Provide filter values (driver, id, label, name, type=custom|builtin, dangling)" },
    { name: "format", kind: "string", help: "Format output using a Go template" },
  ],
  maxArgs: 0,
  async run({ flags, global }) {
    const client = await connect(global);
    const list = await client.json<Network[]>("GET", "/networks", { query: { filters: filtersQuery(filterMap(flags.list("filter"))) } });
    const id = (n: Network) => (flags.bool("no-trunc") ? n.Id : n.Id.slice(0, 12));
    const view = list.map((n) => ({ ID: id(n), Name: n.Name, Driver: n.Driver, Scope: n.Scope, Internal: String(n.Internal), CreatedAt: n.Created, Labels: Object.entries(n.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(",") }));
    const format = flags.string("format");
    if (flags.bool("quiet")) print(view.map((v) => `${v.ID}\n`).join(""));
    else if (format) print(view.map((v) => `${renderTemplate(format.replace(/^table /, ""), v)}\n`).join(""));
    else print(table(["NETWORK ID", "NAME", "DRIVER", "SCOPE"], view.map((v) => [v.ID, v.Name, v.Driver, v.Scope])));
    return 0;
  },
};

const inspect: CommandDef = {
  name: "inspect",
  usage: "network inspect [OPTIONS] NETWORK [NETWORK...]",
  summary: "Display detailed information on one or more networks",
  flags: [{ name: "format", short: "f", kind: "string", help: "Format output using a Go template" }],
  minArgs: 1,
  async run({ flags, args, global }) {
    const client = await connect(global);
    const found: unknown[] = [];
    const code = await forEach(args, async (n) => void found.push(await client.json("GET", `/networks/${enc(n)}`)), false);
    const format = flags.string("format");
    print(format ? found.map((n) => `${renderTemplate(format, n)}\n`).join("") : `${JSON.stringify(found, null, 4)}\n`);
    return code;
  },
};

const rm: CommandDef = {
  name: "rm",
  usage: "network rm NETWORK [NETWORK...]",
  summary: "Remove one or more networks",
  flags: [],
  minArgs: 1,
  async run({ args, global }) {
    const client = await connect(global);
    return forEach(args, (n) => client.call("DELETE", `/networks/${enc(n)}`));
  },
};

const connectCmd: CommandDef = {
  name: "connect",
  usage: "network connect [OPTIONS] NETWORK CONTAINER",
  summary: "Connect a container to a network",
  flags: [
    { name: "ip", kind: "string", valueName: "address", help: "IPv4 address" },
    { name: "alias", kind: "list", help: "Add network-scoped alias for the container" },
  ],
  minArgs: 2,
  maxArgs: 2,
  async run({ flags, args, global }) {
    const client = await connect(global);
    const ip = flags.string("ip");
    const aliases = flags.list("alias");
    await client.call("POST", `/networks/${enc(args[0]!)}/connect`, {
      json: { Container: args[1], EndpointConfig: { IPAMConfig: ip ? { IPv4Address: ip } : null, Aliases: aliases.length ? aliases : null } },
    });
    return 0;
  },
};

const disconnect: CommandDef = {
  name: "disconnect",
  usage: "network disconnect [OPTIONS] NETWORK CONTAINER",
  summary: "Disconnect a container from a network",
  flags: [{ name: "force", short: "f", kind: "bool", help: "Force the container to disconnect from a network" }],
  minArgs: 2,
  maxArgs: 2,
  async run({ flags, args, global }) {
    const client = await connect(global);
    await client.call("POST", `/networks/${enc(args[0]!)}/disconnect`, { json: { Container: args[1], Force: flags.bool("force") } });
    return 0;
  },
};

const prune: CommandDef = {
  name: "prune",
  usage: "network prune [OPTIONS]",
  summary: "Remove all unused networks",
  flags: [{ name: "force", short: "f", kind: "bool", help: "Do not prompt for confirmation" }],
  maxArgs: 0,
  async run({ flags, global }) {
    if (!flags.bool("force") && !(await confirm("WARNING! This will remove all custom networks not used by at least one container."))) return 0;
    const client = await connect(global);
    const out = await client.json<{ NetworksDeleted: string[] | null }>("POST", "/networks/prune");
    if (out.NetworksDeleted?.length) print(`Deleted Networks:\n${out.NetworksDeleted.join("\n")}\n`);
    return 0;
  },
};

export const command = groupCommand("network", "Manage networks", {
  create: local(create),
  ls: local(ls),
  inspect: local(inspect),
  rm: local(rm),
  connect: local(connectCmd),
  disconnect: local(disconnect),
  prune: local(prune),
});
