// berth save: images, with their tags, as one tar archive (Docker's format and an OCI image layout).
import { closeSync, openSync, renameSync, rmSync } from "node:fs";
import { isatty } from "node:tty";
import { invalidArgument } from "../../errors.ts";
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { writeAll } from "../output.ts";

export const command: CommandDef = {
  name: "save",
  usage: "save [OPTIONS] IMAGE [IMAGE...]",
  summary: "Save one or more images to a tar archive (streamed to STDOUT by default)",
  flags: [{ name: "output", short: "o", kind: "string", help: "Write to a file, instead of STDOUT" }],
  minArgs: 1,
  details: "A NAME without a tag saves every tag of that repository; an image ID saves the image without a tag.",
  async run({ flags, args, global }) {
    const out = flags.string("output");
    if (!out && isatty(1)) throw invalidArgument("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    const client = await connect(global);
    const res = await client.call("GET", "/images/get", { query: { names: args } });
    if (!out) {
      for await (const chunk of res.body!) writeAll(1, chunk);
      return 0;
    }
    // Written beside the file and renamed onto it: a failed save leaves no truncated archive (as docker does).
    const tmp = `${out}.berth-${process.pid}`;
    const fd = openSync(tmp, "w", 0o644);
    try {
      for await (const chunk of res.body!) writeAll(fd, chunk);
      closeSync(fd);
      renameSync(tmp, out);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    return 0;
  },
};
