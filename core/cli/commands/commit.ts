// berth commit: a container's changes as a new image.
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { print } from "../output.ts";
import { parseReference, familiarRepository } from "../../images/reference.ts";

export const command: CommandDef = {
  name: "commit",
  usage: "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
  summary: "Create a new image from a container's changes",
  flags: [
    { name: "author", short: "a", kind: "string", help: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
    { name: "change", short: "c", kind: "list", help: "Apply Dockerfile instruction to the created image" },
    { name: "message", short: "m", kind: "string", help: "Commit message" },
    { name: "pause", short: "p", kind: "bool", default: "true", help: "Pause container during commit" },
  ],
  minArgs: 1,
  maxArgs: 2,
  async run({ flags, args, global }) {
    const target = args[1] ? parseReference(args[1]) : undefined; // a bad name fails before anything is sent
    const client = await connect(global);
    const out = await client.json<{ Id: string }>("POST", "/commit", {
      query: {
        container: args[0],
        repo: target ? familiarRepository(target) : undefined,
        tag: target?.tag,
        comment: flags.string("message"),
        author: flags.string("author"),
        changes: flags.list("change"),
        pause: flags.bool("pause") ? "1" : "0",
      },
    });
    print(`${out.Id}\n`);
    return 0;
  },
};
