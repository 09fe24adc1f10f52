// berth load: images from a tar archive of `docker save` (any version) or an OCI image layout.
import { existsSync } from "node:fs";
import { isatty } from "node:tty";
import { BerthError, invalidArgument, notFound } from "../../errors.ts";
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "load",
  usage: "load [OPTIONS]",
  summary: "Load an image from a tar archive or STDIN",
  flags: [
    { name: "input", short: "i", kind: "string", help: "Read from tar archive file, instead of STDIN" },
    { name: "quiet", short: "q", kind: "bool", help: "Suppress the load output (progress; the loaded images are still listed, as docker does)" },
  ],
  maxArgs: 0,
  details: "The archive may come from `docker save` (the format of docker 20.10 or of 25 and later) or be an OCI image layout; layers may be plain, gzip or zstd.",
  async run({ flags, global }) {
    const input = flags.string("input");
    if (!input && isatty(0)) throw invalidArgument("requested load from stdin, but stdin is empty");
    if (input && !existsSync(input)) throw notFound(`open ${input}: no such file or directory`);
    const client = await connect(global);
    const res = await client.call("POST", "/images/load", {
      query: { quiet: flags.bool("quiet") ? "1" : "0" },
      body: (input ? Bun.file(input) : Bun.stdin) as unknown as RequestInit["body"],
      headers: { "Content-Type": "application/x-tar" },
    });
    for (const line of (await res.text()).split("\n")) {
      if (!line.trim()) continue;
      const msg = JSON.parse(line) as { stream?: string; errorDetail?: { message: string } };
      // An error after the first image: the daemon can only say it in the stream.
      if (msg.errorDetail) throw new BerthError("Internal", msg.errorDetail.message);
      if (msg.stream) print(msg.stream);
    }
    return 0;
  },
};
