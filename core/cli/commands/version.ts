// berth version.
import type { CommandDef } from "../args.ts";
import pkg from "../../../package.json" with { type: "json" };
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "version",
  usage: "version",
  summary: "Show the berth version information",
  flags: [],
  maxArgs: 0,
  async run() {
    print(
      `Client:\n Version:    ${pkg.version}\n Bun:        ${Bun.version}\n OS/Arch:    linux/amd64\n`,
    );
    return 0;
  },
};
