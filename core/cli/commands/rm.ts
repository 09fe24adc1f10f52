// berth rm: remove containers; each name printed as it goes, errors after.
import type { CommandDef } from "../args.ts";
import { openEngine } from "../engine.ts";
import { reportError } from "../report.ts";
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "rm",
  usage: "rm [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Remove one or more containers",
  flags: [{ name: "force", short: "f", kind: "bool", help: "Force the removal of a running container (uses SIGKILL)" }],
  minArgs: 1,
  async run({ flags, args, global }) {
    const engine = openEngine(global);
    let failed = false;
    for (const ref of args) {
      try {
        await engine.remove(ref, { force: flags.bool("force") });
        print(`${ref}\n`);
      } catch (err) {
        reportError(err);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};
