// berth compose ps, ls, logs, config, images, top, port, events: what the
// stack is and does, read from the labels of what runs.
import * as L from "../../compose/labels.ts";
import { invalidArgument, notFound } from "../../errors.ts";
import { humanDuration, humanSize, table, truncate } from "../format.ts";
import { print } from "../output.ts";
import { portsText, type ContainerSummary as Summary } from "../commands/ps.ts";
import { colourWanted } from "./up.ts";
import type { ComposeCommand } from "./context.ts";
import { LogPrinter } from "./log-printer.ts";
import { lines } from "../streams.ts";
import { rfc3339Nano } from "../../time.ts";
import { writeFileSync } from "node:fs";


export const ps: ComposeCommand = {
  name: "ps",
  usage: "ps [OPTIONS] [SERVICE...]",
  summary: "List containers",
  flags: [
    { name: "all", short: "a", kind: "bool", help: "Show all stopped containers (including those created by the run command)" },
    { name: "quiet", short: "q", kind: "bool", help: "Only display IDs" },
    { name: "services", kind: "bool", help: "Display services" },
    { name: "format", kind: "string", default: "table", help: "Format the output. Values: [table | json]" },
    { name: "status", kind: "list", valueName: "stringArray", help: "Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]" },
  ],
  async run({ flags, args, compose }) {
    const name = await compose.projectName();
    const backend = await compose.backend();
    let list = await backend.client.json<Summary[]>("GET", "/containers/json", { query: { all: 1, filters: L.projectFilter(name) } });
    list = list.filter((c) => (!args.length || args.includes(c.Labels[L.SERVICE]!)) && (flags.bool("all") || (c.State !== "exited" && c.State !== "created" && c.State !== "dead")));
    if (flags.list("status").length) list = list.filter((c) => flags.list("status").includes(c.State));
    list.sort((a, b) => (a.Names[0]! < b.Names[0]! ? -1 : 1));
    if (flags.bool("services")) {
      print([...new Set(list.map((c) => c.Labels[L.SERVICE]!))].map((s) => `${s}\n`).join(""));
      return 0;
    }
    if (flags.bool("quiet")) {
      print(list.map((c) => `${c.Id}\n`).join(""));
      return 0;
    }
    // The fields of Docker Compose's `ps --format json`.
    const rows = list.map((c) => {
      const name = c.Names[0]!.replace(/^\//, "");
      return {
        ID: c.Id,
        Name: name,
        Names: name,
        Image: c.Image,
        Command: `"${c.Command}"`,
        Project: c.Labels[L.PROJECT]!,
        Service: c.Labels[L.SERVICE]!,
        CreatedAt: new Date(c.Created * 1000).toISOString(),
        RunningFor: `${humanDuration(Date.now() - c.Created * 1000)} ago`,
        State: c.State,
        Status: c.Status,
        Health: /\((healthy|unhealthy)\)/.exec(c.Status)?.[1] ?? (c.Status.includes("(health: starting)") ? "starting" : ""),
        ExitCode: Number(/^Exited \((\d+)\)/.exec(c.Status)?.[1] ?? 0),
        Labels: Object.entries(c.Labels).map(([k, v]) => `${k}=${v}`).join(","),
        Ports: portsText(c.Ports),
        Publishers: c.Ports.map((p) => ({ URL: p.IP ?? "", TargetPort: p.PrivatePort, PublishedPort: p.PublicPort ?? 0, Protocol: p.Type })),
      };
    });
    if (flags.string("format") === "json") {
      print(rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
      return 0;
    }
    print(table(["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"], rows.map((r) => [r.Name, r.Image, `"${truncate(r.Command.slice(1, -1), 20)}"`, r.Service, r.RunningFor, r.Status, r.Ports])));
    return 0;
  },
};

export const ls: ComposeCommand = {
  name: "ls",
  usage: "ls [OPTIONS]",
  summary: "List running compose projects",
  flags: [
    { name: "all", short: "a", kind: "bool", help: "Show all stopped Compose projects" },
    { name: "quiet", short: "q", kind: "bool", help: "Only display IDs" },
    { name: "format", kind: "string", default: "table", help: "Format the output. Values: [table | json]" },
  ],
  maxArgs: 0,
  async run({ flags, compose }) {
    const backend = await compose.backend();
    const list = await backend.client.json<Summary[]>("GET", "/containers/json", { query: { all: 1, filters: JSON.stringify({ label: [L.PROJECT] }) } });
    const projects = new Map<string, { states: Map<string, number>; files: Set<string> }>();
    for (const c of list) {
      const p = c.Labels[L.PROJECT]!;
      const e = projects.get(p) ?? { states: new Map(), files: new Set() };
      e.states.set(c.State, (e.states.get(c.State) ?? 0) + 1);
      if (c.Labels[L.CONFIG_FILES]) e.files.add(c.Labels[L.CONFIG_FILES]!);
      projects.set(p, e);
    }
    const rows = [...projects]
      .filter(([, e]) => flags.bool("all") || e.states.has("running"))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, e]) => ({
        Name: name,
        Status: [...e.states].sort(([a], [b]) => (a < b ? -1 : 1)).map(([s, n]) => `${s}(${n})`).join(", "),
        ConfigFiles: [...e.files].join(","),
      }));
    if (flags.bool("quiet")) print(rows.map((r) => `${r.Name}\n`).join(""));
    else if (flags.string("format") === "json") print(`${JSON.stringify(rows)}\n`);
    else print(table(["NAME", "STATUS", "CONFIG FILES"], rows.map((r) => [r.Name, r.Status, r.ConfigFiles])));
    return 0;
  },
};

export const logs: ComposeCommand = {
  name: "logs",
  usage: "logs [OPTIONS] [SERVICE...]",
  summary: "View output from containers",
  flags: [
    { name: "follow", short: "f", kind: "bool", help: "Follow log output" },
    { name: "tail", short: "n", kind: "string", default: "all", help: "Number of lines to show from the end of the logs for each container" },
    { name: "timestamps", short: "t", kind: "bool", help: "Show timestamps" },
    { name: "since", kind: "string", help: "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)" },
    { name: "no-color", kind: "bool", help: "Produce monochrome output" },
    { name: "no-log-prefix", kind: "bool", help: "Don't print prefix in logs" },
  ],
  async run({ flags, args, compose }) {
    const containers = await compose.containers(args);
    const backend = await compose.backend();
    const printer = new LogPrinter(backend.client, containers, {
      follow: flags.bool("follow"),
      tail: flags.string("tail"),
      timestamps: flags.bool("timestamps"),
      since: flags.string("since"),
      colour: colourWanted(compose, flags.bool("no-color")),
      prefix: !flags.bool("no-log-prefix"),
    });
    await Promise.all(containers.map((c) => printer.stream(c)));
    return 0;
  },
};

export const config: ComposeCommand = {
  name: "config",
  usage: "config [OPTIONS] [SERVICE...]",
  summary: "Parse, resolve and render compose file in canonical format",
  flags: [
    { name: "format", kind: "string", default: "yaml", help: "Format the output. Values: [yaml | json]" },
    { name: "quiet", short: "q", kind: "bool", help: "Only validate the configuration, don't print anything" },
    { name: "services", kind: "bool", help: "Print the service names, one per line" },
    { name: "volumes", kind: "bool", help: "Print the volume names, one per line" },
    { name: "images", kind: "bool", help: "Print the image names, one per line" },
    { name: "profiles", kind: "bool", help: "Print the profile names, one per line" },
    { name: "output", short: "o", kind: "string", help: "Save to file (default to stdout)" },
  ],
  async run({ flags, args, compose }) {
    const format = flags.string("format");
    if (format !== "yaml" && format !== "json") throw invalidArgument(`unsupported format "${format}": use yaml or json`);
    const project = await compose.project(args);
    const services = Object.keys(project.services).sort();
    let out: string;
    if (flags.bool("services")) out = services.map((s) => `${s}\n`).join("");
    else if (flags.bool("volumes")) out = Object.keys(project.volumes).sort().map((v) => `${v}\n`).join("");
    else if (flags.bool("images")) out = services.map((s) => `${project.services[s]!.image}\n`).join("");
    else if (flags.bool("profiles")) out = [...new Set([...Object.values(project.services), ...Object.values(project.disabled)].flatMap((s) => s.profiles))].sort().map((p) => `${p}\n`).join("");
    else out = (await import("../../compose/loader/print.ts")).formatConfig(project, format); // yaml's printer, only here
    if (flags.bool("quiet")) return 0;
    if (flags.string("output")) writeFileSync(flags.string("output")!, out);
    else print(out);
    return 0;
  },
};

export const images: ComposeCommand = {
  name: "images",
  usage: "images [OPTIONS] [SERVICE...]",
  summary: "List images used by the created containers",
  flags: [{ name: "quiet", short: "q", kind: "bool", help: "Only display IDs" }],
  async run({ flags, args, compose }) {
    const containers = await compose.containers(args);
    const backend = await compose.backend();
    const rows = await Promise.all(
      containers.map(async (c) => {
        const img = await backend.client.json<{ Id: string; RepoTags: string[]; Size: number }>("GET", `/images/${c.image}/json`);
        const ref = c.labels[L.IMAGE] ?? img.RepoTags[0] ?? "<none>";
        const at = ref.lastIndexOf(":");
        const slash = ref.lastIndexOf("/");
        const [repo, tag] = at > slash ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, "latest"];
        return [c.name, repo, tag, img.Id.replace(/^sha256:/, "").slice(0, 12), humanSize(img.Size)];
      }),
    );
    if (flags.bool("quiet")) print([...new Set(rows.map((r) => r[3]))].map((id) => `${id}\n`).join(""));
    else print(table(["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"], rows));
    return 0;
  },
};

export const top: ComposeCommand = {
  name: "top",
  usage: "top [SERVICES...]",
  summary: "Display the running processes",
  flags: [],
  async run({ args, compose }) {
    const containers = (await compose.containers(args)).filter((c) => c.state === "running");
    const backend = await compose.backend();
    const tops = await Promise.all(containers.map((c) => backend.client.json<{ Titles: string[]; Processes: string[][] }>("GET", `/containers/${c.id}/top`)));
    print(containers.map((c, i) => `${c.name}\n${table(tops[i]!.Titles, tops[i]!.Processes)}`).join("\n"));
    return 0;
  },
};

export const port: ComposeCommand = {
  name: "port",
  usage: "port [OPTIONS] SERVICE PRIVATE_PORT",
  summary: "Print the public port for a port binding",
  flags: [
    { name: "protocol", kind: "string", default: "tcp", help: "tcp or udp" },
    { name: "index", kind: "string", valueName: "int", default: "1", help: "Index of the container if service has multiple replicas" },
  ],
  minArgs: 2,
  maxArgs: 2,
  async run({ flags, args, compose }) {
    const [service, privatePort] = args as [string, string];
    const index = Number(flags.string("index"));
    const c = (await compose.containers([service])).find((x) => x.number === index);
    if (!c) throw notFound(`service "${service}" is not running container #${index}`);
    const backend = await compose.backend();
    const info = await backend.client.json<{ NetworkSettings: { Ports: Record<string, { HostIp: string; HostPort: string }[] | null> } }>("GET", `/containers/${c.id}/json`);
    const bindings = info.NetworkSettings.Ports[`${privatePort}/${flags.string("protocol")}`];
    if (!bindings?.length) throw notFound(`no port ${privatePort}/${flags.string("protocol")} for container ${c.name}`);
    print(`${bindings[0]!.HostIp || "0.0.0.0"}:${bindings[0]!.HostPort}\n`);
    return 0;
  },
};

export const events: ComposeCommand = {
  name: "events",
  usage: "events [OPTIONS] [SERVICE...]",
  summary: "Receive real time events from containers",
  flags: [{ name: "json", kind: "bool", help: "Output events as a stream of json objects" }],
  async run({ flags, args, compose }) {
    const name = await compose.projectName();
    const backend = await compose.backend();
    const res = await backend.client.call("GET", "/events", { query: { filters: JSON.stringify({ type: ["container"], label: [`${L.PROJECT}=${name}`] }) } });
    for await (const line of lines(res.body as unknown as AsyncIterable<Uint8Array>)) {
      const e = JSON.parse(line) as { Action: string; Actor: { ID: string; Attributes: Record<string, string> }; timeNano: number };
      const service = e.Actor.Attributes[L.SERVICE] ?? "";
      if (args.length && !args.includes(service)) continue;
      const time = rfc3339Nano(BigInt(/"timeNano":(\d+)/.exec(line)?.[1] ?? e.timeNano)); // as digits: a float loses the nanoseconds
      const attrs = Object.fromEntries(Object.entries(e.Actor.Attributes).filter(([k]) => !k.startsWith("com.docker.compose.")));
      if (flags.bool("json")) print(`${JSON.stringify({ time, type: "container", action: e.Action, id: e.Actor.ID, service, attributes: attrs })}\n`);
      else print(`${time} container ${e.Action} ${e.Actor.ID} (${Object.entries(attrs).map(([k, v]) => `${k}=${v}`).join(", ")})\n`);
    }
    return 0;
  },
};
