import { trace } from "../trace.ts";
trace("cli: loaded");
// berth's command line. Each command lives in commands/<name>.ts and is
// loaded only when used, so `berth run` stays near Bun's start-up floor.
import { BerthError } from "../errors.ts";
import { helpText, parseArgs, UsageError, type CommandDef, type FlagDef } from "./args.ts";
import { reportError } from "./report.ts";
import { print, printErr } from "./output.ts";

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ command: CommandDef }> }> = {
  run: { summary: "Create and run a new container from an image", load: () => import("./commands/run.ts") },
  ps: { summary: "List containers", load: () => import("./commands/ps.ts") },
  rm: { summary: "Remove one or more containers", load: () => import("./commands/rm.ts") },
  inspect: { summary: "Return low-level information on containers or images", load: () => import("./commands/inspect.ts") },
  import: { summary: "Import the contents from a tarball to create a filesystem image", load: () => import("./commands/import.ts") },
  images: { summary: "List images", load: () => import("./commands/images.ts") },
  rmi: { summary: "Remove one or more images", load: () => import("./commands/rmi.ts") },
  info: { summary: "Display system-wide information, including every plugin and its status", load: () => import("./commands/info.ts") },
  version: { summary: "Show the berth version information", load: () => import("./commands/version.ts") },
};

export const GLOBAL_FLAGS: FlagDef[] = [
  { name: "root", kind: "string", valueName: "dir", default: "/var/lib/berth", help: "Root directory of berth's state" },
  { name: "storage-driver", short: "s", kind: "string", valueName: "name", help: "Storage driver to use (default: overlay when the kernel has it, else vfs)" },
  { name: "cgroup-driver", kind: "string", valueName: "name", help: "cgroup driver to use (default: cgroup-v2 on a pure v2 host, else cgroup-v1)" },
  { name: "cgroup-parent", kind: "string", valueName: "name", default: "berth", help: "Parent cgroup of containers" },
  { name: "version", short: "v", kind: "bool", help: "Print version information and quit" },
];

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 3;
  const commands = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}${c.summary}`);
  return (
    helpText("berth", { usage: "[OPTIONS] COMMAND", summary: "A fast container engine for Linux", flags: GLOBAL_FLAGS }) +
    `\nCommands:\n${commands.join("\n")}\n\nRun 'berth COMMAND --help' for more information on a command.\n`
  );
}

export async function main(argv: string[]): Promise<number> {
  let global;
  let rest: string[];
  try {
    ({ flags: global, args: rest } = parseArgs(argv, GLOBAL_FLAGS, true));
  } catch (err) {
    printErr(`berth: ${(err as Error).message}\nSee 'berth --help'.\n`);
    return 125;
  }
  if (global.bool("version")) rest = ["version"];
  const [name, ...args] = rest;
  if (!name || global.bool("help")) {
    print(mainHelp());
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    printErr(`berth: '${name}' is not a berth command.\nSee 'berth --help'\n`);
    return 1;
  }
  const { command } = await entry.load();
  // `run` reports engine failures as 125, as `docker run` does; other commands as 1.
  const failure = command.name === "run" ? 125 : 1;
  let parsed;
  try {
    parsed = parseArgs(args, command.flags, command.stopAtPositional);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    printErr(`berth: ${err.message}\nSee 'berth ${name} --help'.\n`);
    return 125;
  }
  if (parsed.flags.bool("help")) {
    print(helpText("berth", command));
    return 0;
  }
  const n = parsed.args.length;
  if ((command.minArgs !== undefined && n < command.minArgs) || (command.maxArgs !== undefined && n > command.maxArgs)) {
    const need =
      command.minArgs === command.maxArgs
        ? `exactly ${command.minArgs} argument${command.minArgs === 1 ? "" : "s"}`
        : n < (command.minArgs ?? 0)
          ? `at least ${command.minArgs} argument${command.minArgs === 1 ? "" : "s"}`
          : `at most ${command.maxArgs} argument${command.maxArgs === 1 ? "" : "s"}`;
    printErr(
      `berth: "berth ${name}" requires ${need}.\nSee 'berth ${name} --help'.\n\nUsage:  berth ${command.usage}\n\n${command.summary}\n`,
    );
    return 1;
  }
  try {
    return await command.run({ flags: parsed.flags, args: parsed.args, global });
  } catch (err) {
    reportError(err);
    return err instanceof BerthError && "exitCode" in err ? (err as { exitCode: number }).exitCode : failure;
  }
}

if (import.meta.main) {
  // Exit as soon as the command is done: nothing berth leaves open (signal
  // handlers, finished streams) should hold the process for an idle loop turn.
  main(process.argv.slice(2)).then((code) => {
    trace("cli: done");
    process.exit(code);
  });
}
