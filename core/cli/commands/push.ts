// berth push: an image to a registry, with Docker's progress lines.
import { parseReference } from "../../images/reference.ts";
import type { CommandDef } from "../args.ts";
import { registryAuthHeader } from "../auth-config.ts";
import { connect } from "../connect.ts";
import { enc } from "../each.ts";
import { showProgress } from "../progress.ts";

export const command: CommandDef = {
  name: "push",
  usage: "push [OPTIONS] NAME[:TAG]",
  summary: "Upload an image to a registry",
  flags: [{ name: "quiet", short: "q", kind: "bool", help: "Suppress verbose output" }],
  minArgs: 1,
  maxArgs: 1,
  async run({ flags, args, global }) {
    const ref = parseReference(args[0]!);
    const client = await connect(global);
    const auth = registryAuthHeader(ref.domain);
    const res = await client.call("POST", `/images/${enc(`${ref.domain}/${ref.path}`).replace(/%2F/g, "/")}/push`, {
      query: { tag: ref.tag },
      headers: auth ? { "X-Registry-Auth": auth } : {},
    });
    await showProgress(res.body!, !!process.stdout.isTTY && !flags.bool("quiet"), flags.bool("quiet"));
    return 0;
  },
};
