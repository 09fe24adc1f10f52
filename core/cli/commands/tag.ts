// berth tag: another name for an image.
import { parseReference, familiarRepository } from "../../images/reference.ts";
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { enc } from "../each.ts";

export const command: CommandDef = {
  name: "tag",
  usage: "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
  summary: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
  flags: [],
  minArgs: 2,
  maxArgs: 2,
  async run({ args, global }) {
    const client = await connect(global);
    const target = parseReference(args[1]!);
    await client.call("POST", `/images/${enc(args[0]!)}/tag`, { query: { repo: familiarRepository(target), tag: target.tag } });
    return 0;
  },
};
