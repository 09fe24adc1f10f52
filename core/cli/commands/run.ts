// berth run: create a container, start it in the foreground, pass its
// output through, forward signals, and exit with its exit code.
import { readFileSync } from "node:fs";
import { BerthError, invalidArgument, StartError } from "../../errors.ts";
import type { CreateRequest, Ulimit } from "../../engine/types.ts";
import { parseBytes, type CommandDef, type FlagDef, type ParsedFlags } from "../args.ts";
import { openEngine } from "../engine.ts";
import { reportError } from "../report.ts";
import { trace } from "../../trace.ts";
import { printErr } from "../output.ts";

export const CREATE_FLAGS: FlagDef[] = [
  { name: "name", kind: "string", help: "Assign a name to the container" },
  { name: "env", short: "e", kind: "list", help: "Set environment variables (KEY=VALUE, or KEY to copy it from here)" },
  { name: "env-file", kind: "list", help: "Read in a file of environment variables" },
  { name: "workdir", short: "w", kind: "string", help: "Working directory inside the container" },
  { name: "user", short: "u", kind: "string", help: "Username or UID (format: <name|uid>[:<group|gid>])" },
  { name: "hostname", short: "h", kind: "string", help: "Container host name" },
  { name: "volume", short: "v", kind: "list", help: "Bind mount a host directory (/host:/container[:ro])" },
  { name: "tmpfs", kind: "list", help: "Mount a tmpfs directory (/path[:options])" },
  { name: "read-only", kind: "bool", help: "Mount the container's root filesystem as read only" },
  { name: "entrypoint", kind: "string", help: "Overwrite the default ENTRYPOINT of the image" },
  { name: "network", kind: "string", valueName: "network", aliases: ["net"], help: "Connect a container to a network: none or host" },
  { name: "memory", short: "m", kind: "string", valueName: "bytes", help: "Memory limit" },
  { name: "memory-swap", kind: "string", valueName: "bytes", help: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" },
  { name: "cpus", kind: "string", valueName: "decimal", help: "Number of CPUs" },
  { name: "cpu-shares", short: "c", kind: "string", valueName: "int", help: "CPU shares (relative weight)" },
  { name: "cpuset-cpus", kind: "string", help: "CPUs in which to allow execution (0-3, 0,1)" },
  { name: "pids-limit", kind: "string", valueName: "int", help: "Tune container pids limit (set -1 for unlimited)" },
  { name: "blkio-weight", kind: "string", valueName: "uint16", help: "Block IO (relative weight), between 10 and 1000, or 0 to disable" },
  { name: "ulimit", kind: "list", valueName: "ulimit", help: "Ulimit options (name=soft[:hard])" },
  { name: "label", short: "l", kind: "list", help: "Set meta data on a container" },
  { name: "interactive", short: "i", kind: "bool", help: "Keep STDIN open and pass it to the container" },
];

export const command: CommandDef = {
  name: "run",
  usage: "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
  summary: "Create and run a new container from an image",
  flags: [...CREATE_FLAGS, { name: "rm", kind: "bool", help: "Automatically remove the container when it exits" }],
  stopAtPositional: true,
  minArgs: 1,
  async run({ flags, args, global }) {
    trace("run: parsed");
    const req = createRequest(flags, args);
    const engine = openEngine(global);
    trace("run: engine open");
    const { id } = await engine.create(req, flags.string("name"));
    trace("run: created");
    const autoRemove = flags.bool("rm");
    let started;
    try {
      started = await engine.start(id, [flags.bool("interactive") ? "inherit" : "ignore", "inherit", "inherit"]);
    } catch (err) {
      if (autoRemove) await engine.remove(id, { force: true }).catch(() => {});
      reportError(err);
      return err instanceof StartError ? err.exitCode : 125;
    }
    trace("run: started");
    for (const w of started.warnings) printErr(`WARNING: ${w}\n`);

    // Forward signals to the container's PID 1, as `docker run` does.
    const forward = (sig: NodeJS.Signals) => () => {
      try {
        process.kill(started.pid, sig);
      } catch {
        // it has just ended
      }
    };
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const) process.on(sig, forward(sig));

    const status = await started.exited;
    trace("run: exited");
    await engine.finish(id, status);
    trace("run: finished");
    if (status.error) printErr(`berth: ${status.error}\n`);
    if (autoRemove) await engine.remove(id, { force: true });
    engine.close();
    trace("run: removed");
    return status.code;
  },
};

/** Turn `run`/`create` flags and arguments into a Docker create request. */
export function createRequest(flags: ParsedFlags, args: string[]): CreateRequest {
  const [image, ...cmd] = args;
  const num = (name: string, parse: (s: string) => number = Number) => {
    const v = flags.string(name);
    if (v === undefined) return undefined;
    const n = parse(v);
    if (!Number.isFinite(n)) throw invalidArgument(`invalid argument "${v}" for "--${name}" flag`);
    return n;
  };
  const memory = num("memory", (s) => parseBytes(s, "--memory"));
  const swapFlag = flags.string("memory-swap");
  const cpus = num("cpus");
  const entrypoint = flags.string("entrypoint");
  return {
    Image: image,
    Cmd: cmd.length > 0 ? cmd : undefined,
    Entrypoint: entrypoint === undefined ? undefined : entrypoint === "" ? [] : [entrypoint],
    Env: [...flags.list("env-file").flatMap(readEnvFile), ...flags.list("env").flatMap(envEntry)],
    WorkingDir: flags.string("workdir"),
    User: flags.string("user"),
    Hostname: flags.string("hostname"),
    OpenStdin: flags.bool("interactive"),
    AttachStdin: flags.bool("interactive"),
    AttachStdout: true,
    AttachStderr: true,
    Labels: Object.fromEntries(flags.list("label").map((l) => [l.split("=", 1)[0]!, l.includes("=") ? l.slice(l.indexOf("=") + 1) : ""])),
    HostConfig: {
      Binds: flags.list("volume"),
      Tmpfs: Object.fromEntries(flags.list("tmpfs").map((t) => [t.split(":", 1)[0]!, t.includes(":") ? t.slice(t.indexOf(":") + 1) : ""])),
      ReadonlyRootfs: flags.bool("read-only"),
      NetworkMode: flags.string("network"),
      AutoRemove: flags.bool("rm"),
      Memory: memory,
      MemorySwap: swapFlag === undefined ? undefined : swapFlag === "-1" ? -1 : parseBytes(swapFlag, "--memory-swap"),
      NanoCpus: cpus === undefined ? undefined : Math.round(cpus * 1e9),
      CpuShares: num("cpu-shares"),
      CpusetCpus: flags.string("cpuset-cpus"),
      PidsLimit: num("pids-limit"),
      BlkioWeight: num("blkio-weight"),
      Ulimits: flags.list("ulimit").map(parseUlimit),
    },
  };
}

/** `-e KEY=V` as is; `-e KEY` takes KEY from this environment, or is dropped. */
function envEntry(e: string): string[] {
  if (e.includes("=")) return [e];
  const v = process.env[e];
  return v === undefined ? [] : [`${e}=${v}`];
}

function readEnvFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new BerthError("NotFound", `open ${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (err as Error).message}`);
  }
  return text.split("\n").flatMap((raw, i) => {
    const line = raw.replace(/^\s+/, "");
    if (line === "" || line.startsWith("#")) return [];
    const key = line.split("=", 1)[0]!;
    if (/\s/.test(key)) throw invalidArgument(`${path}:${i + 1}: variable '${key.trim()}' contains whitespaces`);
    return envEntry(line);
  });
}

function parseUlimit(s: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(s);
  if (!m) throw invalidArgument(`invalid ulimit argument: ${s}`, "use name=soft[:hard], e.g. nofile=1024:2048");
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft > hard && hard !== -1) throw invalidArgument(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: m[1]!, Soft: soft, Hard: hard };
}
