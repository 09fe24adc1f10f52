// berth export: a container's filesystem as a tar archive.
import { openSync, closeSync } from "node:fs";
import { invalidArgument } from "../../errors.ts";
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { enc } from "../each.ts";
import { writeAll } from "../output.ts";

export const command: CommandDef = {
  name: "export",
  usage: "export [OPTIONS] CONTAINER",
  summary: "Export a container's filesystem as a tar archive",
  flags: [{ name: "output", short: "o", kind: "string", help: "Write to a file, instead of STDOUT" }],
  minArgs: 1,
  maxArgs: 1,
  async run({ flags, args, global }) {
    const out = flags.string("output");
    if (!out && process.stdout.isTTY) throw invalidArgument("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    const client = await connect(global);
    const res = await client.call("GET", `/containers/${enc(args[0]!)}/export`);
    const fd = out ? openSync(out, "w") : 1;
    for await (const chunk of res.body!) writeAll(fd, chunk);
    if (out) closeSync(fd);
    return 0;
  },
};
