// berth version: this client's and the daemon's.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { print } from "../output.ts";
import { renderTemplate } from "../template.ts";
import pkg from "../../../package.json" with { type: "json" };

interface ServerVersion {
  Version: string;
  ApiVersion: string;
  MinAPIVersion: string;
  KernelVersion: string;
  [key: string]: unknown;
}

export const command: CommandDef = {
  name: "version",
  usage: "version [OPTIONS]",
  summary: "Show the berth version information",
  flags: [{ name: "format", short: "f", kind: "string", help: "Format output using a Go template ('{{.Server.Version}}', or 'json' for JSON)" }],
  maxArgs: 0,
  async run({ flags, global }) {
    // Docker's shape for --format: {{.Client.Version}}, {{.Server.ApiVersion}} ...
    const clientInfo = { Version: pkg.version, ApiVersion: "1.43", DefaultAPIVersion: "1.43", BunVersion: Bun.version, Os: "linux", Arch: "amd64" };
    const format = flags.string("format");
    const client = await connect(global);
    if (format) {
      const server = await client.json<ServerVersion>("GET", "/version");
      const data = { Client: clientInfo, Server: server };
      print(`${format === "json" ? JSON.stringify(data) : renderTemplate(format, data)}\n`);
      return 0;
    }
    print(`Client:\n Version:    ${pkg.version}\n API version: 1.43\n Bun:        ${Bun.version}\n OS/Arch:    linux/amd64\n\n`);
    const v = await client.json<ServerVersion>("GET", "/version");
    print(`Server: berth\n Engine:\n  Version:    ${v.Version}\n  API version: ${v.ApiVersion} (minimum version ${v.MinAPIVersion})\n  Kernel:     ${v.KernelVersion}\n  OS/Arch:    linux/amd64\n`);
    return 0;
  },
};
