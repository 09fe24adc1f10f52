// berth info: the engine's state and every plugin with its status.
import { cpus, totalmem, hostname } from "node:os";
import { readFileSync } from "node:fs";
import type { CommandDef } from "../args.ts";
import { openEngine } from "../engine.ts";
import { humanSize, table } from "../format.ts";
import pkg from "../../../package.json" with { type: "json" };
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "info",
  usage: "info [OPTIONS]",
  summary: "Display system-wide information, including every plugin and its status",
  flags: [{ name: "format", short: "f", kind: "string", help: "Print as JSON with 'json'" }],
  maxArgs: 0,
  async run({ flags, global }) {
    const engine = openEngine(global);
    const containers = await engine.list();
    const images = engine.db.listImages();
    const plugins = engine.registry.status();
    const selected = {
      isolation: engine.pluginName("isolation"),
      limits: engine.pluginName("limits"),
      storage: engine.pluginName("storage"),
      network: engine.pluginName("network"),
    };
    const info = {
      Containers: containers.length,
      ContainersRunning: containers.filter((c) => c.State.Running).length,
      ContainersStopped: containers.filter((c) => !c.State.Running).length,
      Images: images.length,
      Driver: selected.storage ?? "",
      CgroupDriver: selected.limits ?? "",
      CgroupVersion: engine.host.cgroupMode === "v2" ? "2" : "1",
      CgroupMode: engine.host.cgroupMode,
      KernelVersion: engine.host.kernel,
      OperatingSystem: osName(),
      NCPU: cpus().length,
      MemTotal: totalmem(),
      Name: hostname(),
      RootDir: engine.root,
      ServerVersion: pkg.version,
      Plugins: plugins.map((p) => ({ Kind: p.kind, Name: p.name, Available: p.available, Default: p.isDefault, Reason: p.reason ?? "", Description: p.description })),
    };
    if (flags.string("format") === "json") {
      print(`${JSON.stringify(info, null, 2)}\n`);
      return 0;
    }
    const lines = [
      `Containers: ${info.Containers}`,
      ` Running: ${info.ContainersRunning}`,
      ` Stopped: ${info.ContainersStopped}`,
      `Images: ${info.Images}`,
      `Server Version: ${info.ServerVersion}`,
      `Storage Driver: ${info.Driver}`,
      `Cgroup Driver: ${info.CgroupDriver}`,
      `Cgroup Version: ${info.CgroupVersion} (host: ${info.CgroupMode})`,
      `Isolation: ${selected.isolation}`,
      `Default Network: ${selected.network}`,
      `Kernel Version: ${info.KernelVersion}`,
      `Operating System: ${info.OperatingSystem}`,
      `CPUs: ${info.NCPU}`,
      `Total Memory: ${humanSize(info.MemTotal)}`,
      `Name: ${info.Name}`,
      `Berth Root Dir: ${info.RootDir}`,
      "",
      "Plugins:",
    ];
    const rows = plugins.map((p) => [
      p.kind,
      p.name,
      p.available ? (p.isDefault ? "available (default)" : "available") : `unavailable: ${p.reason}`,
    ]);
    print(`${lines.join("\n")}\n${table(["KIND", "NAME", "STATUS"], rows).replace(/^/gm, " ")}`);
    return 0;
  },
};

function osName(): string {
  try {
    return /PRETTY_NAME="?([^"\n]*)"?/.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "Linux";
  } catch {
    return "Linux";
  }
}
