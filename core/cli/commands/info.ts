// berth info: the daemon's state and every plugin with its status.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { humanSize, table } from "../format.ts";
import { print } from "../output.ts";
import { renderTemplate } from "../template.ts";

interface Info {
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  ServerVersion: string;
  Driver: string;
  BerthCgroupDriver: string;
  DriverStatus?: [string, string][];
  Warnings?: string[];
  CgroupVersion: string;
  BerthCgroupMode: string;
  KernelVersion: string;
  SecurityOptions?: string[];
  OperatingSystem: string;
  NCPU: number;
  MemTotal: number;
  Name: string;
  DockerRootDir: string;
  LoggingDriver: string;
  BerthSocket: string;
  BerthUsernsRemap?: { User: string; Group: string; Uids: string; Gids: string } | null;
  BerthPlugins: { Kind: string; Name: string; Available: boolean; Default: boolean; Reason: string }[];
}

export const command: CommandDef = {
  name: "info",
  usage: "info [OPTIONS]",
  summary: "Display system-wide information, including every plugin and its status",
  flags: [{ name: "format", short: "f", kind: "string", help: "Format output using a Go template ('{{json .}}' or 'json' for JSON)" }],
  maxArgs: 0,
  async run({ flags, global }) {
    const client = await connect(global);
    const i = await client.json<Info>("GET", "/info");
    const format = flags.string("format");
    if (format === "json") return print(`${JSON.stringify(i, null, 2)}\n`), 0;
    if (format) return print(`${renderTemplate(format, i)}\n`), 0;
    const lines = [
      `Containers: ${i.Containers}`,
      ` Running: ${i.ContainersRunning}`,
      ` Paused: ${i.ContainersPaused}`,
      ` Stopped: ${i.ContainersStopped}`,
      `Images: ${i.Images}`,
      `Server Version: ${i.ServerVersion}`,
      `Storage Driver: ${i.Driver}`,
      ...(i.DriverStatus ?? []).map(([k, v]) => ` ${k}: ${v}`),
      `Logging Driver: ${i.LoggingDriver}`,
      `Cgroup Driver: ${i.BerthCgroupDriver}`,
      `Cgroup Version: ${i.CgroupVersion} (host: ${i.BerthCgroupMode})`,
      ...securityLines(i.SecurityOptions ?? []),
      ...(i.BerthUsernsRemap ? [`Userns Remap: ${i.BerthUsernsRemap.User}:${i.BerthUsernsRemap.Group} (uids ${i.BerthUsernsRemap.Uids}, gids ${i.BerthUsernsRemap.Gids})`] : []),
      `Kernel Version: ${i.KernelVersion}`,
      `Operating System: ${i.OperatingSystem}`,
      `CPUs: ${i.NCPU}`,
      `Total Memory: ${humanSize(i.MemTotal)}`,
      `Name: ${i.Name}`,
      `Berth Root Dir: ${i.DockerRootDir}`,
      `API Socket: unix://${i.BerthSocket}`,
      "",
      "Plugins:",
    ];
    const rows = i.BerthPlugins.map((p) => [p.Kind, p.Name, p.Available ? (p.Default ? "available (default)" : "available") : `unavailable: ${p.Reason}`]);
    print(`${lines.join("\n")}\n${table(["KIND", "NAME", "STATUS"], rows).replace(/^/gm, " ")}`);
    for (const w of i.Warnings ?? []) process.stderr.write(`${w}\n`);
    return 0;
  },
};

/** "name=seccomp,profile=builtin" as docker info shows it: the name, then its other fields. */
function securityLines(opts: string[]): string[] {
  if (!opts.length) return [];
  const out = ["Security Options:"];
  for (const o of opts) {
    const fields = Object.fromEntries(o.split(",").map((kv) => [kv.split("=", 1)[0]!, kv.slice(kv.indexOf("=") + 1)]));
    out.push(`  ${fields.name ?? o}`);
    for (const [k, v] of Object.entries(fields)) if (k !== "name") out.push(`   ${k[0]!.toUpperCase()}${k.slice(1)}: ${v}`);
  }
  return out;
}
