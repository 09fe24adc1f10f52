// berth ps: list containers as `docker ps` does.
import type { ContainerRecord } from "../../engine/types.ts";
import type { CommandDef } from "../args.ts";
import { openEngine } from "../engine.ts";
import { ago, humanDuration, table, truncate } from "../format.ts";
import { renderTemplate } from "../template.ts";
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "ps",
  usage: "ps [OPTIONS]",
  summary: "List containers",
  flags: [
    { name: "all", short: "a", kind: "bool", help: "Show all containers (default shows just running)" },
    { name: "quiet", short: "q", kind: "bool", help: "Only display container IDs" },
    { name: "no-trunc", kind: "bool", help: "Don't truncate output" },
    { name: "format", kind: "string", help: "Format output using a Go template, e.g. '{{.ID}} {{.Names}}'" },
  ],
  maxArgs: 0,
  async run({ flags, global }) {
    const engine = openEngine(global);
    const all = flags.bool("all");
    const rows = (await engine.list()).filter((c) => all || c.State.Running);
    const noTrunc = flags.bool("no-trunc");
    const view = rows.map((c) => psView(c, noTrunc));
    const format = flags.string("format");
    if (flags.bool("quiet")) print(view.map((v) => `${v.ID}\n`).join(""));
    else if (format) print(view.map((v) => `${renderTemplate(format, v)}\n`).join(""));
    else {
      print(
        table(
          ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"],
          view.map((v) => [v.ID, v.Image, v.Command, v.RunningFor, v.Status, v.Ports, v.Names]),
        ),
      );
    }
    return 0;
  },
};

/** The fields `docker ps --format` offers. */
export function psView(c: ContainerRecord, noTrunc: boolean) {
  const cmd = [c.Path, ...c.Args].join(" ");
  return {
    ID: noTrunc ? c.Id : c.Id.slice(0, 12),
    Image: c.Config.Image ?? c.Image,
    Command: `"${noTrunc ? cmd : truncate(cmd, 20)}"`,
    CreatedAt: c.Created,
    RunningFor: ago(c.Created),
    Status: statusText(c),
    State: c.State.Status,
    Ports: "",
    Names: c.Name.replace(/^\//, ""),
    Labels: Object.entries(c.Config.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(","),
  };
}

export function statusText(c: ContainerRecord): string {
  const s = c.State;
  switch (s.Status) {
    case "running":
      return `Up ${humanDuration(Date.now() - Date.parse(s.StartedAt))}`;
    case "paused":
      return `Up ${humanDuration(Date.now() - Date.parse(s.StartedAt))} (Paused)`;
    case "exited":
      return `Exited (${s.ExitCode}) ${ago(s.FinishedAt)}`;
    case "created":
      return "Created";
    default:
      return s.Status.charAt(0).toUpperCase() + s.Status.slice(1);
  }
}
