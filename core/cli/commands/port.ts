// berth port: a container's published ports, as `docker port` lists them.
import { BerthError } from "../../errors.ts";
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { enc } from "../each.ts";
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "port",
  usage: "port CONTAINER [PRIVATE_PORT[/PROTO]]",
  summary: "List port mappings or a specific mapping for the container",
  flags: [],
  minArgs: 1,
  maxArgs: 2,
  async run({ args, global }) {
    const client = await connect(global);
    const c = await client.json<{ NetworkSettings: { Ports: Record<string, { HostIp: string; HostPort: string }[] | null> } }>("GET", `/containers/${enc(args[0]!)}/json`);
    const wanted = args[1] && (args[1].includes("/") ? args[1] : `${args[1]}/tcp`);
    const lines: string[] = [];
    for (const [key, bindings] of Object.entries(c.NetworkSettings.Ports ?? {})) {
      if (wanted && key !== wanted) continue;
      for (const b of bindings ?? []) lines.push(wanted ? `${b.HostIp}:${b.HostPort}` : `${key} -> ${b.HostIp}:${b.HostPort}`);
    }
    if (wanted && !lines.length) throw new BerthError("NotFound", `No public port '${wanted}' published for ${args[0]}`);
    print(lines.map((l) => `${l}\n`).join(""));
    return 0;
  },
};
