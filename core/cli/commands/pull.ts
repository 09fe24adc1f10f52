// berth pull: an image from a registry, with Docker's progress lines.
import { invalidArgument } from "../../errors.ts";
import { fullName, parseReference } from "../../images/reference.ts";
import type { CommandDef } from "../args.ts";
import { registryAuthHeader } from "../auth-config.ts";
import { connect } from "../connect.ts";
import { print } from "../output.ts";
import { showProgress } from "../progress.ts";

export const command: CommandDef = {
  name: "pull",
  usage: "pull [OPTIONS] NAME[:TAG|@DIGEST]",
  summary: "Download an image from a registry",
  flags: [
    { name: "platform", kind: "string", help: "Set platform if server is multi-platform capable (default linux/amd64)" },
    { name: "quiet", short: "q", kind: "bool", help: "Suppress verbose output" },
    { name: "all-tags", short: "a", kind: "bool", help: "Download all tagged images in the repository (not supported by berth)" },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run({ flags, args, global }) {
    if (flags.bool("all-tags")) throw invalidArgument("--all-tags is not supported by berth yet", "pull the tags one by one");
    const ref = parseReference(args[0]!);
    const client = await connect(global);
    const auth = registryAuthHeader(ref.domain);
    const res = await client.call("POST", "/images/create", {
      query: { fromImage: `${ref.domain}/${ref.path}`, tag: ref.digest ?? ref.tag, platform: flags.string("platform") },
      headers: auth ? { "X-Registry-Auth": auth } : {},
    });
    await showProgress(res.body!, !!process.stdout.isTTY && !flags.bool("quiet"), flags.bool("quiet"));
    print(`${fullName(ref)}\n`);
    return 0;
  },
};
