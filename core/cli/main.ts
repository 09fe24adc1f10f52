import { trace } from "../trace.ts";
trace("cli: loaded");
// berth's command line: a client of berthd's Docker Engine API. Each
// command lives in commands/<name>.ts and is loaded only when used, so a
// command starts near Bun's own start-up time.
import { isBerthError } from "../errors.ts";
import { helpText, parseArgs, UsageError, type CommandDef, type FlagDef } from "./args.ts";
import { print, printErr } from "./output.ts";
import { reportError } from "./report.ts";
import { dirname } from "node:path";
import { BUNDLED } from "../location.ts";

export type Entry = { summary: string; load: () => Promise<{ command: CommandDef }> };

/**
 * A command's module. The bundle holds each command in its own file
 * (.build/cli/commands/NAME.js), so a command loads only its own code.
 */
function loadCommand(name: string): Promise<{ command: CommandDef }> {
  const dir = BUNDLED ? `${dirname(Bun.main)}/commands/` : "./commands/";
  return BUNDLED ? Promise.resolve(require(`${dir}${name}.js`)) : import(`${dir}${name}.ts`);
}

export const COMMANDS: Record<string, Entry> = {
  run: { summary: "Create and run a new container from an image", load: () => loadCommand("run") },
  create: { summary: "Create a new container", load: () => loadCommand("create") },
  start: { summary: "Start one or more stopped containers", load: () => loadCommand("start") },
  stop: { summary: "Stop one or more running containers", load: () => loadCommand("stop") },
  restart: { summary: "Restart one or more containers", load: () => loadCommand("restart") },
  kill: { summary: "Kill one or more running containers", load: () => loadCommand("kill") },
  rm: { summary: "Remove one or more containers", load: () => loadCommand("rm") },
  ps: { summary: "List containers", load: () => loadCommand("ps") },
  logs: { summary: "Fetch the logs of a container", load: () => loadCommand("logs") },
  exec: { summary: "Execute a command in a running container", load: () => loadCommand("exec") },
  attach: { summary: "Attach local standard input, output, and error streams to a running container", load: () => loadCommand("attach") },
  inspect: { summary: "Return low-level information on containers, images or volumes", load: () => loadCommand("inspect") },
  pause: { summary: "Pause all processes within one or more containers", load: () => loadCommand("pause") },
  unpause: { summary: "Unpause all processes within one or more containers", load: () => loadCommand("unpause") },
  wait: { summary: "Block until one or more containers stop, then print their exit codes", load: () => loadCommand("wait") },
  top: { summary: "Display the running processes of a container", load: () => loadCommand("top") },
  stats: { summary: "Display a live stream of container(s) resource usage statistics", load: () => loadCommand("stats") },
  rename: { summary: "Rename a container", load: () => loadCommand("rename") },
  cp: { summary: "Copy files/folders between a container and the local filesystem", load: () => loadCommand("cp") },
  diff: { summary: "Inspect changes to files or directories on a container's filesystem", load: () => loadCommand("diff") },
  export: { summary: "Export a container's filesystem as a tar archive", load: () => loadCommand("export") },
  images: { summary: "List images", load: () => loadCommand("images") },
  rmi: { summary: "Remove one or more images", load: () => loadCommand("rmi") },
  tag: { summary: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", load: () => loadCommand("tag") },
  import: { summary: "Import the contents from a tarball to create a filesystem image", load: () => loadCommand("import") },
  history: { summary: "Show the history of an image", load: () => loadCommand("history") },
  pull: { summary: "Download an image from a registry", load: () => loadCommand("pull") },
  push: { summary: "Upload an image to a registry", load: () => loadCommand("push") },
  login: { summary: "Log in to a registry", load: () => loadCommand("login") },
  logout: { summary: "Log out from a registry", load: () => loadCommand("logout") },
  build: { summary: "Build an image from a Dockerfile", load: () => loadCommand("build") },
  compose: { summary: "Define and run multi-container applications (Docker Compose)", load: () => loadCommand("compose") },
  commit: { summary: "Create a new image from a container's changes", load: () => loadCommand("commit") },
  save: { summary: "Save one or more images to a tar archive (streamed to STDOUT by default)", load: () => loadCommand("save") },
  load: { summary: "Load an image from a tar archive or STDIN", load: () => loadCommand("load") },
  events: { summary: "Get real time events from the server", load: () => loadCommand("events") },
  image: { summary: "Manage images (ls, inspect, rm, tag, import, save, load, history, prune)", load: () => loadCommand("image") },
  container: { summary: "Manage containers (ls, run, create, start, stop, rm, inspect, prune, ...)", load: () => loadCommand("container") },
  port: { summary: "List port mappings or a specific mapping for the container", load: () => loadCommand("port") },
  network: { summary: "Manage networks (create, ls, inspect, rm, connect, disconnect, prune)", load: () => loadCommand("network") },
  volume: { summary: "Manage volumes (create, ls, inspect, rm, prune)", load: () => loadCommand("volume") },
  system: { summary: "Manage berth (df, prune)", load: () => loadCommand("system") },
  tui: { summary: "A terminal dashboard: stacks, services, containers, logs, events and watches", load: () => loadCommand("tui") },
  info: { summary: "Display system-wide information, including every plugin and its status", load: () => loadCommand("info") },
  version: { summary: "Show the berth version information", load: () => loadCommand("version") },
};

export const GLOBAL_FLAGS: FlagDef[] = [
  { name: "root", kind: "string", valueName: "dir", default: "/var/lib/berth", help: "Root directory of berth's state (its daemon is started on first use)" },
  { name: "host", short: "H", kind: "string", valueName: "socket", help: "Daemon socket to connect to (unix:///path or tcp://HOST:PORT); default: the daemon of --root" },
  { name: "tls", kind: "bool", help: "Use TLS; implied by --tlsverify" },
  { name: "tlsverify", kind: "bool", help: "Use TLS and verify the remote (default from $DOCKER_TLS_VERIFY)" },
  { name: "tlscacert", kind: "string", valueName: "string", help: "Trust certs signed only by this CA (default \"$DOCKER_CERT_PATH/ca.pem\", else ~/.docker/ca.pem)" },
  { name: "tlscert", kind: "string", valueName: "string", help: "Path to TLS certificate file (default \"$DOCKER_CERT_PATH/cert.pem\", else ~/.docker/cert.pem)" },
  { name: "tlskey", kind: "string", valueName: "string", help: "Path to TLS key file (default \"$DOCKER_CERT_PATH/key.pem\", else ~/.docker/key.pem)" },
  { name: "storage-driver", short: "s", kind: "string", valueName: "name", help: "Storage driver of a daemon berth starts (default: overlay when the kernel has it, else vfs)" },
  { name: "cgroup-driver", kind: "string", valueName: "name", help: "cgroup driver of a daemon berth starts: cgroup-v2, cgroup-v1 or none (default: cgroup-v2 on a pure v2 host, else cgroup-v1, else none)" },
  { name: "cgroup-parent", kind: "string", valueName: "name", help: "Parent cgroup of containers, for a daemon berth starts (default \"berth\")" },
  { name: "insecure-registry", kind: "list", valueName: "host:port", help: "A registry reached over plain HTTP, for a daemon berth starts (localhost always is)" },
  { name: "registry-mirror", kind: "list", valueName: "url", help: "A mirror of Docker Hub, for a daemon berth starts" },
  { name: "userns-remap", kind: "string", valueName: "user", help: "User namespace remapping of a daemon berth starts (default, USER[:GROUP] or UID[:GID])" },
  { name: "version", short: "v", kind: "bool", help: "Print version information and quit" },
];

function listHelp(prog: string, usage: string, summary: string, flags: FlagDef[], entries: Record<string, { summary: string }>): string {
  const width = Math.max(...Object.keys(entries).map((c) => c.length)) + 3;
  const lines = Object.entries(entries).map(([n, c]) => `  ${n.padEnd(width)}${c.summary}`);
  return `${helpText(prog, { usage, summary, flags })}\nCommands:\n${lines.join("\n")}\n\nRun '${prog} COMMAND --help' for more information on a command.\n`;
}

/** Parse and run one command definition; its failures become exit codes. */
export async function runCommand(prog: string, command: CommandDef, args: string[], global: ReturnType<typeof parseArgs>["flags"]): Promise<number> {
  // `run` and `create` report engine failures as 125, as docker does; other commands as 1.
  const failure = prog === "berth" && (command.name === "run" || command.name === "create") ? 125 : 1;
  let parsed;
  try {
    parsed = parseArgs(args, command.flags, command.stopAtPositional);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    printErr(`berth: ${err.message}\nSee '${prog} ${command.name} --help'.\n`);
    return 125;
  }
  if (parsed.flags.bool("help")) {
    print(helpText(prog, command));
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
    printErr(`berth: "${prog} ${command.name}" requires ${need}.\nSee '${prog} ${command.name} --help'.\n\nUsage:  ${prog} ${command.usage}\n\n${command.summary}\n`);
    return 1;
  }
  try {
    return await command.run({ flags: parsed.flags, args: parsed.args, global });
  } catch (err) {
    if (!(err as { reported?: boolean }).reported) reportError(err);
    return isBerthError(err) && "exitCode" in err ? (err as { exitCode: number }).exitCode : failure;
  }
}

/** A management command (image, container, volume, system): its subcommands, each loaded when used. */
export function groupCommand(name: string, summary: string, subcommands: Record<string, Entry>): CommandDef {
  const width = Math.max(...Object.keys(subcommands).map((k) => k.length)) + 2;
  return {
    name,
    usage: `${name} COMMAND`,
    summary,
    flags: [],
    stopAtPositional: true,
    details: `Commands:\n${Object.entries(subcommands).map(([k, c]) => `  ${k.padEnd(width)}${c.summary}`).join("\n")}`,
    run: ({ args, global }) => runGroup(`berth ${name}`, summary, subcommands, args, global),
  };
}

/** A subcommand that is a top-level command under another name (`image ls` is `images`). */
export const alias = (command: string): Entry => COMMANDS[command]!;

/** A command defined in the group's own file. */
export const local = (command: CommandDef): Entry => ({ summary: command.summary, load: async () => ({ command }) });

/** A command with subcommands (volume, system). */
export async function runGroup(prog: string, summary: string, subcommands: Record<string, Entry>, args: string[], global: ReturnType<typeof parseArgs>["flags"]): Promise<number> {
  const [name, ...rest] = args;
  if (!name || name === "--help") {
    print(listHelp(prog, "COMMAND", summary, [], subcommands));
    return name ? 0 : 1;
  }
  const entry = subcommands[name];
  if (!entry) {
    printErr(`berth: '${name}' is not a ${prog} command.\nSee '${prog} --help'\n`);
    return 1;
  }
  const { command } = await entry.load();
  // Shown as typed ("berth image ls [OPTIONS]"), whatever the command's own name ("images") or usage ("image prune ...").
  const operands = command.usage.split(" ").filter((_, i, words) => words.slice(0, i + 1).some((w) => /^[[A-Z]/.test(w)));
  return runCommand(prog, { ...command, name, usage: [name, ...operands].join(" ") }, rest, global);
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
    print(listHelp("berth", "[OPTIONS] COMMAND", "A fast container engine for Linux", GLOBAL_FLAGS, COMMANDS));
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    printErr(`berth: '${name}' is not a berth command.\nSee 'berth --help'\n`);
    return 1;
  }
  const { command } = await entry.load();
  return runCommand("berth", command, args, global);
}

if (import.meta.main) {
  // Exit as soon as the command is done: nothing berth leaves open (signal
  // handlers, finished streams) should hold the process for an idle loop turn.
  main(process.argv.slice(2)).then((code) => {
    trace("cli: done");
    process.exit(code);
  });
}
