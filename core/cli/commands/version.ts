// berth version: this client's and the daemon's.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { print } from "../output.ts";
import pkg from "../../../package.json" with { type: "json" };

export const command: CommandDef = {
  name: "version",
  usage: "version",
  summary: "Show the berth version information",
  flags: [],
  maxArgs: 0,
  async run({ global }) {
    print(`Client:\n Version:    ${pkg.version}\n API version: 1.43\n Bun:        ${Bun.version}\n OS/Arch:    linux/amd64\n\n`);
    const client = await connect(global);
    const v = await client.json<{ Version: string; ApiVersion: string; MinAPIVersion: string; KernelVersion: string }>("GET", "/version");
    print(`Server: berth\n Engine:\n  Version:    ${v.Version}\n  API version: ${v.ApiVersion} (minimum version ${v.MinAPIVersion})\n  Kernel:     ${v.KernelVersion}\n  OS/Arch:    linux/amd64\n`);
    return 0;
  },
};
