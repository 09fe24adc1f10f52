// berth logs: a container's output, from its json-file log.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { enc } from "../each.ts";
import { print, printErr } from "../output.ts";
import { demux } from "../streams.ts";

export const command: CommandDef = {
  name: "logs",
  usage: "logs [OPTIONS] CONTAINER",
  summary: "Fetch the logs of a container",
  flags: [
    { name: "follow", short: "f", kind: "bool", help: "Follow log output" },
    { name: "timestamps", short: "t", kind: "bool", help: "Show timestamps" },
    { name: "tail", short: "n", kind: "string", default: "all", help: "Number of lines to show from the end of the logs" },
    { name: "since", kind: "string", help: "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)" },
    { name: "until", kind: "string", help: "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)" },
    { name: "details", kind: "bool", help: "Show extra details provided to logs" },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run({ flags, args, global }) {
    const client = await connect(global);
    const res = await client.call("GET", `/containers/${enc(args[0]!)}/logs`, {
      query: { stdout: 1, stderr: 1, follow: flags.bool("follow"), timestamps: flags.bool("timestamps"), tail: flags.string("tail"), since: flags.string("since"), until: flags.string("until") },
    });
    const raw = res.headers.get("content-type")?.includes("raw-stream");
    if (raw) for await (const chunk of res.body!) print(chunk);
    else await demux(res.body as unknown as AsyncIterable<Uint8Array>, print, printErr);
    return 0;
  },
};
