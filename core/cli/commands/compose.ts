// berth compose: Docker Compose's commands, on berthd. `berth compose
// [-f FILE] [-p NAME] COMMAND`: the compose flags come before the command.
import type { CommandDef } from "../args.ts";
import { helpText } from "../args.ts";
import { Compose, COMPOSE_FLAGS, type ComposeCommand } from "../compose/context.ts";
import { config, events, images, logs, ls, port, ps, top } from "../compose/inspect.ts";
import { kill, pause, restart, rm, start, stop, unpause } from "../compose/lifecycle.ts";
import { build, exec, pull, push, run } from "../compose/run.ts";
import { down, up } from "../compose/up.ts";
import { watch } from "../compose/watch.ts";
import { print, printErr } from "../output.ts";
import { runCommand } from "../main.ts";

const SUBCOMMANDS: ComposeCommand[] = [build, config, down, events, exec, images, kill, logs, ls, pause, port, ps, pull, push, restart, rm, run, start, stop, top, unpause, up, watch];

const SUMMARY = "Define and run multi-container applications";

export const command: CommandDef = {
  name: "compose",
  usage: "compose [OPTIONS] COMMAND",
  summary: SUMMARY,
  flags: COMPOSE_FLAGS,
  stopAtPositional: true,
  details: `Commands:\n${SUBCOMMANDS.map((c) => `  ${c.name.padEnd(10)}${c.summary}`).join("\n")}\n\nRun 'berth compose COMMAND --help' for more information on a command.`,
  async run({ flags, args, global }) {
    const [name, ...rest] = args;
    if (!name) {
      print(helpText("berth", command));
      return 0;
    }
    const sub = SUBCOMMANDS.find((c) => c.name === name);
    if (!sub) {
      printErr(`berth: unknown command: "compose ${name}"\nSee 'berth compose --help'.\n`);
      return 1;
    }
    const compose = new Compose(flags, global);
    const def: CommandDef = { ...sub, run: (ctx) => sub.run({ flags: ctx.flags, args: ctx.args, compose }) };
    return runCommand("berth compose", def, rest, global);
  },
};


