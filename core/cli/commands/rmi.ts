// berth rmi: untag and delete images.
import type { CommandDef } from "../args.ts";
import { openEngine } from "../engine.ts";
import { reportError } from "../report.ts";
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "rmi",
  usage: "rmi [OPTIONS] IMAGE [IMAGE...]",
  summary: "Remove one or more images",
  flags: [{ name: "force", short: "f", kind: "bool", help: "Force removal of the image" }],
  minArgs: 1,
  async run({ flags, args, global }) {
    const engine = openEngine(global);
    const images = await engine.images();
    const containers = await engine.list();
    const usedBy = (imageId: string) => containers.filter((c) => c.Image === imageId).map((c) => ({ id: c.Id, running: c.State.Running }));
    let failed = false;
    for (const ref of args) {
      try {
        for (const line of await images.remove(ref, flags.bool("force"), usedBy)) print(`${line}\n`);
      } catch (err) {
        reportError(err);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};
