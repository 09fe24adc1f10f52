// berth tui: a terminal dashboard of the daemon's stacks, services and
// containers, their logs, the events and compose watches (core/tui/).
// A client of the API only: --root's berthd, or -H / DOCKER_HOST.
import type { CommandDef, ParsedFlags } from "../args.ts";
import { connect } from "../connect.ts";
import { printErr } from "../output.ts";

export const command: CommandDef = {
  name: "tui",
  usage: "tui",
  summary: "A terminal dashboard: stacks, services, containers, logs, events and watches",
  flags: [],
  maxArgs: 0,
  details: "Keys: arrows/j/k move, Enter folds, s start, x stop, r restart, p pause, d remove, i inspect, e shell,\nu/D/R compose up/down/recreate, f filter, / search logs, space pauses logs, Tab cycles the side pane, ? help, q quit.\nWith -H (or DOCKER_HOST=unix://...) it shows that daemon, Docker's too.",
  async run({ global }) {
    if (!process.stdout.isTTY || !process.stdin.isTTY) {
      printErr("berth: tui needs a terminal\n");
      return 1;
    }
    const host = global.string("host") ?? (process.env.DOCKER_HOST?.startsWith("unix://") ? process.env.DOCKER_HOST : undefined);
    const flags = host && !global.string("host") ? withHost(global, host) : global;
    const { runTui } = await import("../../tui/app.ts");
    return runTui({ client: await connect(flags), global: flags });
  },
};

/** The global flags with -H set (from DOCKER_HOST). */
function withHost(global: ParsedFlags, host: string): ParsedFlags {
  return {
    bool: (n) => global.bool(n),
    string: (n) => (n === "host" ? host : global.string(n)),
    list: (n) => global.list(n),
    has: (n) => n === "host" || global.has(n),
  };
}
