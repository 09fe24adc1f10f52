// berth create, and the flags `run` shares with it.
import { readFileSync } from "node:fs";
import { BerthError, invalidArgument } from "../../errors.ts";
import type { CreateRequest, HealthConfig, HostConfig, Ulimit } from "../../engine/types.ts";
import { parseGoDuration } from "../../images/changes.ts";
import { parseBytes, type CommandDef, type FlagDef, type ParsedFlags } from "../args.ts";
import type { Client } from "../client.ts";
import { connect } from "../connect.ts";
import { print, printErr } from "../output.ts";

export const CREATE_FLAGS: FlagDef[] = [
  { name: "name", kind: "string", help: "Assign a name to the container" },
  { name: "interactive", short: "i", kind: "bool", help: "Keep STDIN open even if not attached" },
  { name: "tty", short: "t", kind: "bool", help: "Allocate a pseudo-TTY" },
  { name: "env", short: "e", kind: "list", help: "Set environment variables (KEY=VALUE, or KEY to copy it from here)" },
  { name: "env-file", kind: "list", help: "Read in a file of environment variables" },
  { name: "workdir", short: "w", kind: "string", help: "Working directory inside the container" },
  { name: "user", short: "u", kind: "string", help: "Username or UID (format: <name|uid>[:<group|gid>])" },
  { name: "hostname", short: "h", kind: "string", help: "Container host name" },
  { name: "userns", kind: "string", help: "User namespace to use: host runs without the daemon's --userns-remap" },
  { name: "volume", short: "v", kind: "list", help: "Bind mount a host directory (/host:/ctr[:ro]), or a volume (name:/ctr, /ctr)" },
  { name: "mount", kind: "list", help: "Attach a filesystem mount (type=volume|bind|tmpfs,source=...,target=...[,readonly])" },
  { name: "tmpfs", kind: "list", help: "Mount a tmpfs directory (/path[:options])" },
  { name: "read-only", kind: "bool", help: "Mount the container's root filesystem as read only" },
  { name: "entrypoint", kind: "string", help: "Overwrite the default ENTRYPOINT of the image" },
  { name: "network", kind: "string", valueName: "network", aliases: ["net"], help: "Connect a container to a network: bridge (the default), a network's name, host, none or container:<name|id>" },
  { name: "ip", kind: "string", valueName: "address", help: "IPv4 address on the network (user-defined networks)" },
  { name: "network-alias", kind: "list", help: "Add a network-scoped alias for the container (other containers resolve it)" },
  { name: "publish", short: "p", kind: "list", help: "Publish a container's port(s) to the host: [ip:][hostPort:]containerPort[/tcp|udp]" },
  { name: "publish-all", short: "P", kind: "bool", help: "Publish all exposed ports to free host ports" },
  { name: "expose", kind: "list", help: "Expose a port or a range of ports" },
  { name: "add-host", kind: "list", help: "Add a custom host-to-IP mapping (host:ip)" },
  { name: "dns", kind: "list", help: "Set custom DNS servers (instead of berth's embedded DNS)" },
  { name: "dns-search", kind: "list", help: "Set custom DNS search domains" },
  { name: "dns-option", kind: "list", help: "Set DNS options" },
  { name: "memory", short: "m", kind: "string", valueName: "bytes", help: "Memory limit" },
  { name: "memory-swap", kind: "string", valueName: "bytes", help: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" },
  { name: "memory-reservation", kind: "string", valueName: "bytes", help: "Memory soft limit" },
  { name: "init", kind: "bool", help: "Run an init inside the container that forwards signals and reaps processes" },
  { name: "cpus", kind: "string", valueName: "decimal", help: "Number of CPUs" },
  { name: "cpu-shares", short: "c", kind: "string", valueName: "int", help: "CPU shares (relative weight)" },
  { name: "cpuset-cpus", kind: "string", help: "CPUs in which to allow execution (0-3, 0,1)" },
  { name: "pids-limit", kind: "string", valueName: "int", help: "Tune container pids limit (set -1 for unlimited)" },
  { name: "blkio-weight", kind: "string", valueName: "uint16", help: "Block IO (relative weight), between 10 and 1000, or 0 to disable" },
  { name: "ulimit", kind: "list", valueName: "ulimit", help: "Ulimit options (name=soft[:hard])" },
  { name: "cap-add", kind: "list", help: "Add Linux capabilities (NET_ADMIN, ALL, ...)" },
  { name: "cap-drop", kind: "list", help: "Drop Linux capabilities (NET_RAW, ALL, ...)" },
  { name: "privileged", kind: "bool", help: "Give extended privileges to this container: every capability, no seccomp, every host device" },
  { name: "device", kind: "list", help: "Add a host device to the container (/dev/HOST[:/dev/CONTAINER][:rwm])" },
  { name: "device-cgroup-rule", kind: "list", help: "Add a rule to the cgroup allowed devices list ('c 42:* rmw')" },
  { name: "security-opt", kind: "list", help: "Security options: seccomp=unconfined|builtin|<profile.json>, no-new-privileges[=true|false], systempaths=unconfined" },
  { name: "label", short: "l", kind: "list", help: "Set meta data on a container" },
  { name: "restart", kind: "string", default: "no", help: "Restart policy to apply when a container exits (no, always, unless-stopped, on-failure[:max-retries])" },
  { name: "rm", kind: "bool", help: "Automatically remove the container when it exits" },
  { name: "stop-signal", kind: "string", help: "Signal to stop the container" },
  { name: "stop-timeout", kind: "string", valueName: "int", help: "Timeout (in seconds) to stop a container" },
  { name: "log-opt", kind: "list", help: "Log driver options (max-size=10m, max-file=3)" },
  { name: "health-cmd", kind: "string", help: "Command to run to check health" },
  { name: "health-interval", kind: "string", valueName: "duration", help: "Time between running the check (ms|s|m|h) (default 30s)" },
  { name: "health-timeout", kind: "string", valueName: "duration", help: "Maximum time to allow one check to run (ms|s|m|h) (default 30s)" },
  { name: "health-retries", kind: "string", valueName: "int", help: "Consecutive failures needed to report unhealthy" },
  { name: "health-start-period", kind: "string", valueName: "duration", help: "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)" },
  { name: "no-healthcheck", kind: "bool", help: "Disable any container-specified HEALTHCHECK" },
];

export const command: CommandDef = {
  name: "create",
  usage: "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
  summary: "Create a new container",
  flags: CREATE_FLAGS,
  stopAtPositional: true,
  minArgs: 1,
  async run({ flags, args, global }) {
    const client = await connect(global);
    const { id, warnings } = await createContainer(client, flags, args);
    for (const w of warnings) printErr(`WARNING: ${w}\n`);
    print(`${id}\n`);
    return 0;
  },
};

export async function createContainer(client: Client, flags: ParsedFlags, args: string[]): Promise<{ id: string; warnings: string[] }> {
  const req = createRequest(flags, args);
  const out = await client.json<{ Id: string; Warnings: string[] | null }>("POST", "/containers/create", { query: { name: flags.string("name") }, json: req });
  return { id: out.Id, warnings: out.Warnings ?? [] };
}

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
  const swap = flags.string("memory-swap");
  const cpus = num("cpus");
  const entrypoint = flags.string("entrypoint");
  const interactive = flags.bool("interactive");
  const host: HostConfig = {
    Binds: flags.list("volume"),
    Mounts: flags.list("mount").map(parseMountFlag),
    Tmpfs: Object.fromEntries(flags.list("tmpfs").map((t) => [t.split(":", 1)[0]!, t.includes(":") ? t.slice(t.indexOf(":") + 1) : ""])),
    ReadonlyRootfs: flags.bool("read-only"),
    NetworkMode: flags.string("network"),
    UsernsMode: flags.string("userns"),
    AutoRemove: flags.bool("rm"),
    Memory: num("memory", (s) => parseBytes(s, "--memory")),
    MemorySwap: swap === undefined ? undefined : swap === "-1" ? -1 : parseBytes(swap, "--memory-swap"),
    MemoryReservation: num("memory-reservation", (s) => parseBytes(s, "--memory-reservation")),
    Init: flags.bool("init") || undefined,
    NanoCpus: cpus === undefined ? undefined : Math.round(cpus * 1e9),
    CpuShares: num("cpu-shares"),
    CpusetCpus: flags.string("cpuset-cpus"),
    PidsLimit: num("pids-limit"),
    BlkioWeight: num("blkio-weight"),
    Ulimits: flags.list("ulimit").map(parseUlimit),
    PortBindings: portBindings(flags.list("publish")),
    PublishAllPorts: flags.bool("publish-all"),
    ExtraHosts: flags.list("add-host"),
    Dns: flags.list("dns"),
    DnsSearch: flags.list("dns-search"),
    DnsOptions: flags.list("dns-option"),
    CapAdd: flags.list("cap-add"),
    CapDrop: flags.list("cap-drop"),
    SecurityOpt: nonEmpty(securityOpts(flags.list("security-opt").filter((o) => o !== "systempaths=unconfined"))),
    // As the docker CLI does: systempaths=unconfined is no daemon option but empty path lists.
    ...(flags.list("security-opt").includes("systempaths=unconfined") ? { MaskedPaths: [], ReadonlyPaths: [] } : {}),
    Privileged: flags.bool("privileged") || undefined,
    Devices: flags.list("device").map(parseDevice),
    DeviceCgroupRules: nonEmpty(flags.list("device-cgroup-rule")),
    // The terminal's size from the start, as the docker CLI sends it: no first frame at 0x0.
    ConsoleSize: flags.bool("tty") && process.stdout.isTTY ? [process.stdout.rows, process.stdout.columns] : undefined,
    RestartPolicy: parseRestart(flags.string("restart") ?? "no"),
    LogConfig: { Type: "json-file", Config: Object.fromEntries(flags.list("log-opt").map(keyValue)) },
  };
  return {
    Image: image,
    Cmd: cmd.length > 0 ? cmd : undefined,
    Entrypoint: entrypoint === undefined ? undefined : entrypoint === "" ? [] : [entrypoint],
    Env: [...flags.list("env-file").flatMap(readEnvFile), ...flags.list("env").flatMap(envEntry)],
    WorkingDir: flags.string("workdir"),
    User: flags.string("user"),
    Hostname: flags.string("hostname"),
    Tty: flags.bool("tty"),
    OpenStdin: interactive,
    StdinOnce: interactive,
    AttachStdin: interactive,
    AttachStdout: true,
    AttachStderr: true,
    Labels: Object.fromEntries(flags.list("label").map(keyValue)),
    StopSignal: flags.string("stop-signal"),
    StopTimeout: num("stop-timeout"),
    Healthcheck: healthcheck(flags),
    ExposedPorts: exposedPorts(flags.list("expose"), host.PortBindings ?? {}),
    HostConfig: host,
    NetworkingConfig: endpointsConfig(flags),
  };
}

/** --ip and --network-alias: the settings of the endpoint on --network. */
function endpointsConfig(flags: ParsedFlags): CreateRequest["NetworkingConfig"] {
  const ip = flags.string("ip");
  const aliases = flags.list("network-alias");
  if (!ip && !aliases.length) return undefined;
  const network = flags.string("network") ?? "bridge";
  return { EndpointsConfig: { [network]: { IPAMConfig: ip ? { IPv4Address: ip } : null, Aliases: aliases.length ? aliases : null } } };
}

/** -p [ip:][hostPort:]containerPort[/proto], container ports as ranges too (8000-8002:80-82). */
export function portBindings(specs: string[]): NonNullable<HostConfig["PortBindings"]> {
  const out: NonNullable<HostConfig["PortBindings"]> = {};
  for (const spec of specs) {
    const [addr, proto = "tcp"] = spec.split("/") as [string, string?];
    if (proto !== "tcp" && proto !== "udp") throw invalidArgument(`invalid proto "${proto}" in -p ${spec}: use tcp or udp`);
    const parts = addr.split(":");
    if (parts.length > 3) throw invalidArgument(`invalid -p ${spec}: use [ip:][hostPort:]containerPort[/tcp|udp]`);
    const containerPart = parts.pop()!;
    const hostPart = parts.pop() ?? "";
    const ip = parts.pop() ?? "";
    const range = (s: string) => {
      const m = /^(\d+)(?:-(\d+))?$/.exec(s);
      if (!m) throw invalidArgument(`invalid port "${s}" in -p ${spec}`);
      const lo = Number(m[1]);
      const hi = Number(m[2] ?? m[1]);
      if (lo < 1 || hi > 65535 || lo > hi) throw invalidArgument(`invalid port range "${s}" in -p ${spec}`);
      return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
    };
    const cports = range(containerPart);
    const hports = hostPart && hostPart !== "0" ? range(hostPart) : []; // "" or 0: a free port
    if (hports.length > 1 && hports.length !== cports.length && cports.length !== 1) throw invalidArgument(`invalid ranges in -p ${spec}: the host and container ranges differ in size`);
    cports.forEach((p, i) => {
      // One container port with a host range: any free port of the range (as Docker does).
      const hostPort = !hports.length ? "" : cports.length === 1 && hports.length > 1 ? hostPart : String(hports[i]);
      (out[`${p}/${proto}`] ??= [])!.push({ HostIp: ip, HostPort: hostPort });
    });
  }
  return out;
}

/** --expose ports, and every published port is exposed too. */
function exposedPorts(specs: string[], published: NonNullable<HostConfig["PortBindings"]>): Record<string, object> | undefined {
  const out: Record<string, object> = {};
  for (const spec of specs) {
    const [ports, proto = "tcp"] = spec.split("/") as [string, string?];
    const m = /^(\d+)(?:-(\d+))?$/.exec(ports);
    if (!m) throw invalidArgument(`invalid --expose ${spec}: use PORT[-PORT][/tcp|udp]`);
    for (let p = Number(m[1]); p <= Number(m[2] ?? m[1]); p++) out[`${p}/${proto}`] = {};
  }
  for (const key of Object.keys(published)) out[key] = {};
  return Object.keys(out).length ? out : undefined;
}

const nonEmpty = <T,>(list: T[]) => (list.length ? list : undefined);

/** --device /dev/HOST[:/dev/CONTAINER][:PERMISSIONS], as the docker CLI reads it. */
export function parseDevice(spec: string): NonNullable<HostConfig["Devices"]>[number] {
  const parts = spec.split(":");
  const mode = (s: string) => /^[rwm]{1,3}$/.test(s);
  let [src, dst, perms] = ["", "", "rwm"];
  if (parts.length === 3) [src, dst, perms] = parts as [string, string, string];
  else if (parts.length === 2) [src, dst, perms] = mode(parts[1]!) ? [parts[0]!, "", parts[1]!] : [parts[0]!, parts[1]!, "rwm"];
  else if (parts.length === 1) src = parts[0]!;
  else throw invalidArgument(`invalid device specification: ${spec}`, "use --device /dev/HOST[:/dev/CONTAINER][:rwm]");
  if (!mode(perms)) throw invalidArgument(`invalid device mode: ${perms}`, "use a combination of r, w and m");
  for (const p of [src, dst]) if (p && !p.startsWith("/")) throw invalidArgument(`bad format for path: ${p}`, "device paths are absolute, e.g. /dev/fuse");
  return { PathOnHost: src, PathInContainer: dst || src, CgroupPermissions: perms };
}

/** As the docker CLI does: a seccomp profile file is read and sent as its (compacted) JSON. */
export function securityOpts(opts: string[]): string[] {
  return opts.map((opt) => {
    let sep = opt.indexOf("=");
    if (sep < 0 && opt !== "no-new-privileges") sep = opt.indexOf(":");
    if (sep < 0 && opt !== "no-new-privileges") throw invalidArgument(`Invalid --security-opt: ${JSON.stringify(opt)}`, "use KEY=VALUE, e.g. seccomp=profile.json or no-new-privileges=true");
    const key = opt.slice(0, sep);
    const value = opt.slice(sep + 1);
    if (key !== "seccomp" || value === "unconfined" || value === "builtin") return opt;
    let text: string;
    try {
      text = readFileSync(value, "utf8");
    } catch (err) {
      throw invalidArgument(`opening seccomp profile (${value}) failed: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (err as Error).message}`);
    }
    try {
      JSON.parse(text);
    } catch (err) {
      throw invalidArgument(`compacting json for seccomp profile (${value}) failed: ${(err as Error).message}`);
    }
    return `seccomp=${compactJson(text)}`;
  });
}

/** JSON without the whitespace between tokens; numbers kept as written (64-bit masks stay exact). */
function compactJson(text: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === "\\") out += text[++i] ?? "";
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (!" \t\n\r".includes(c)) out += c;
  }
  return out;
}

function keyValue(s: string): [string, string] {
  const eq = s.indexOf("=");
  return eq < 0 ? [s, ""] : [s.slice(0, eq), s.slice(eq + 1)];
}

/** "no", "always", "unless-stopped", "on-failure[:N]". */
export function parseRestart(s: string): HostConfig["RestartPolicy"] {
  const [name, count] = s.split(":");
  if (!["no", "always", "unless-stopped", "on-failure"].includes(name!)) throw invalidArgument(`invalid restart policy format: ${s}`, "use no, always, unless-stopped or on-failure[:max-retries]");
  if (count !== undefined && (name !== "on-failure" || !/^\d+$/.test(count))) throw invalidArgument(`invalid restart policy format: ${s}`, "a retry count goes only with on-failure, e.g. on-failure:3");
  return { Name: name as "no", MaximumRetryCount: count ? Number(count) : 0 };
}

function healthcheck(flags: ParsedFlags): HealthConfig | undefined {
  if (flags.bool("no-healthcheck")) return { Test: ["NONE"] };
  const cmd = flags.string("health-cmd");
  const d = (f: string) => (flags.string(f) === undefined ? undefined : parseGoDuration(flags.string(f)!, `--${f}`));
  const retries = flags.string("health-retries");
  const any = cmd !== undefined || ["health-interval", "health-timeout", "health-start-period", "health-retries"].some((f) => flags.has(f));
  if (!any) return undefined;
  return {
    Test: cmd === undefined ? undefined : ["CMD-SHELL", cmd],
    Interval: d("health-interval"),
    Timeout: d("health-timeout"),
    StartPeriod: d("health-start-period"),
    Retries: retries === undefined ? undefined : Number(retries),
  };
}

/** --mount type=volume,source=data,target=/data,readonly */
function parseMountFlag(spec: string): NonNullable<HostConfig["Mounts"]>[number] {
  const m: Record<string, string> = {};
  for (const part of spec.split(",")) {
    const [k, v = "true"] = keyValue(part);
    m[k] = v;
  }
  const type = (m.type ?? "volume") as "volume" | "bind" | "tmpfs";
  if (!["volume", "bind", "tmpfs"].includes(type)) throw invalidArgument(`invalid mount type "${type}" in --mount ${spec}`);
  const target = m.target ?? m.destination ?? m.dst;
  if (!target) throw invalidArgument(`invalid argument "${spec}" for "--mount" flag: target is required`);
  return {
    Type: type,
    Source: m.source ?? m.src,
    Target: target,
    ReadOnly: m.readonly === "true" || m.readonly === "1" || "ro" in m,
    VolumeOptions: m["volume-nocopy"] ? { NoCopy: m["volume-nocopy"] !== "false" } : undefined,
  };
}

/** `-e KEY=V` as is; `-e KEY` takes KEY from this environment, or is dropped. */
export function envEntry(e: string): string[] {
  if (e.includes("=")) return [e];
  const v = process.env[e];
  return v === undefined ? [] : [`${e}=${v}`];
}

export function readEnvFile(path: string): string[] {
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
