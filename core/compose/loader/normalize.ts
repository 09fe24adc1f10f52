// A schema-valid compose document -> the model.ts Project: every short syntax
// expanded to its long form, strings coerced to the types the schema lets
// them stand for (interpolated values are strings), sizes in bytes,
// durations in nanoseconds, env_file folded into environment, the legacy
// resource keys folded into deploy, profiles applied, and every reference
// (depends_on, networks, volumes, secrets, configs) checked against what
// exists. Errors name the file:line:col of the value at fault.
import { isAbsolute, resolve } from "node:path";
import { parseBytes } from "../../cli/args.ts";
import { isBerthError, notFound } from "../../errors.ts";
import { parseGoDuration, words } from "../../images/changes.ts";
import type {
  WatchRule,
  Build, Dependency, Deploy, FileObject, FileReference, Healthcheck, Network, Port, Position, Project, Resources,
  Service, ServiceNetwork, ServiceVolume, ValuePath, Volume,
} from "../model.ts";
import { readDotenv } from "./dotenv.ts";
import type { Lookup } from "./interpolate.ts";
import { errorAt, formatPath, isMapping, keyPositionAt, positionAt, shownPath } from "./positions.ts";

export interface NormalizeContext {
  name: string;
  workingDir: string;
  files: string[];
  /** Where the command runs: file names in messages are relative to it. */
  cwd: string;
  /** The project's environment (.env under the process environment). */
  lookup: Lookup;
  /** Enabled profiles ("*": all). */
  profiles: string[];
  /** Services named on the command line: enabled whatever their profiles. */
  targets: string[];
}

type Raw = Record<string, unknown>;
type Path = (string | number)[];

/** Turn the merged document into a Project. */
export function normalizeProject(doc: Raw, ctx: NormalizeContext): Project {
  const n = new Normalizer(doc, ctx);
  return n.project();
}

// ---- paths ----

/** Home-relative and relative host paths made absolute ("~/x" -> $HOME/x). */
export function absolutePath(p: string, dir: string, home = process.env.HOME ?? "/root"): string {
  if (p === "~" || p.startsWith("~/")) return home + p.slice(1);
  return isAbsolute(p) ? p : resolve(dir, p);
}

/** A build context that is a URL (git or https) is left as written. */
function isRemoteContext(p: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(p) || p.startsWith("git@") || p.startsWith("github.com/");
}

/** A short volume source that is a host path rather than a volume name. */
function isHostPath(s: string): boolean {
  return s.startsWith(".") || s.startsWith("/") || s.startsWith("~");
}

/** "src:dst:mode" -> parts (a single part is an anonymous volume's target). */
export function splitVolume(spec: string): { source?: string; target: string; mode?: string } {
  const parts = spec.split(":");
  if (parts.length === 1) return { target: parts[0]! };
  return { source: parts[0]!, target: parts[1]!, mode: parts.length > 2 ? parts.slice(2).join(":") : undefined };
}

/**
 * Make the relative paths of a raw document absolute against `dir`, in place.
 * It runs on each file's own directory before documents are combined (an
 * extended or included file's paths are relative to where that file is) and
 * on the merged project against its working directory.
 */
export function resolvePaths(doc: Raw, dir: string, lookup: Lookup): void {
  const home = lookup("HOME") ?? process.env.HOME ?? "/root";
  const abs = (p: string) => absolutePath(p, dir, home);
  for (const svc of Object.values(mapping(doc.services))) {
    if (!isMapping(svc)) continue;
    if (typeof svc.build === "string") {
      if (!isRemoteContext(svc.build)) svc.build = abs(svc.build);
    } else if (isMapping(svc.build)) {
      const ctxPath = typeof svc.build.context === "string" ? svc.build.context : ".";
      if (!isRemoteContext(ctxPath)) svc.build.context = abs(ctxPath);
    }
    if (typeof svc.env_file === "string") svc.env_file = abs(svc.env_file);
    else if (Array.isArray(svc.env_file)) {
      svc.env_file.forEach((e, i, list) => {
        if (typeof e === "string") list[i] = abs(e);
        else if (isMapping(e) && typeof e.path === "string") e.path = abs(e.path);
      });
    }
    const watch = isMapping(svc.develop) ? svc.develop.watch : undefined;
    if (Array.isArray(watch)) for (const rule of watch) if (isMapping(rule) && typeof rule.path === "string") rule.path = abs(rule.path);
    if (Array.isArray(svc.volumes)) {
      svc.volumes.forEach((v, i, list) => {
        if (typeof v === "string") {
          const { source } = splitVolume(v);
          if (source !== undefined && isHostPath(source)) list[i] = abs(source) + v.slice(source.length);
        } else if (isMapping(v) && v.type === "bind" && typeof v.source === "string") v.source = abs(v.source);
      });
    }
  }
  for (const section of ["secrets", "configs"]) {
    for (const obj of Object.values(mapping(doc[section]))) {
      if (isMapping(obj) && typeof obj.file === "string") obj.file = abs(obj.file);
    }
  }
}

function mapping(v: unknown): Raw {
  return isMapping(v) ? v : {};
}

// ---- the normalizer ----

const PULL_POLICIES = ["always", "never", "missing", "build", "if_not_present"];
const CONDITIONS = ["service_started", "service_healthy", "service_completed_successfully"];
const PROPAGATIONS = ["shared", "rshared", "slave", "rslave", "private", "rprivate"];

class Normalizer {
  constructor(
    private readonly doc: Raw,
    private readonly ctx: NormalizeContext,
  ) {}

  private at(path: Path): Position | undefined {
    return positionAt(this.doc, path);
  }

  private fail(path: Path, message: string, hint?: string): never {
    throw errorAt(this.at(path), `${formatPath(path)}: ${message}`, hint);
  }

  private get(path: Path): unknown {
    let cur: unknown = this.doc;
    for (const k of path) cur = (cur as Record<string | number, unknown> | undefined)?.[k];
    return cur;
  }

  // -- coercions: after interpolation, "true", "3" and "1.5" stand for their values --

  private bool(path: Path): boolean | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    if (typeof v === "boolean") return v;
    const s = String(v).toLowerCase();
    if (["true", "yes", "y", "on", "1"].includes(s)) return true;
    if (["false", "no", "n", "off", "0"].includes(s)) return false;
    return this.fail(path, `must be true or false (got ${JSON.stringify(v)})`);
  }

  private num(path: Path, integer = true): number | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    const x = typeof v === "number" ? v : String(v).trim() === "" ? NaN : Number(v);
    if (!Number.isFinite(x) || (integer && !Number.isInteger(x))) return this.fail(path, `must be ${integer ? "an integer" : "a number"} (got ${JSON.stringify(v)})`);
    return x;
  }

  private str(path: Path): string | undefined {
    const v = this.get(path);
    return v === undefined || v === null ? undefined : String(v);
  }

  private duration(path: Path): number | undefined {
    const v = this.str(path);
    if (v === undefined) return undefined;
    if (v === "0") return 0;
    try {
      return parseGoDuration(v, formatPath(path));
    } catch (err) {
      if (!isBerthError(err)) throw err;
      return this.fail(path, `invalid duration ${JSON.stringify(v)}`, "use a Go duration: 30s, 1m30s, 500ms");
    }
  }

  private bytes(path: Path): number | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    if (typeof v === "number") return v;
    try {
      return parseBytes(String(v), formatPath(path));
    } catch (err) {
      if (!isBerthError(err)) throw err;
      return this.fail(path, `invalid size ${JSON.stringify(v)}`, "use a number of bytes or a number with a unit: b, k, m, g (e.g. 512m)");
    }
  }

  private strings(path: Path): string[] {
    const v = this.get(path);
    if (v === undefined || v === null) return [];
    return Array.isArray(v) ? v.map(String) : [String(v)];
  }

  /** A list ("A=b", "A") or a mapping as Record; `bare` is the value of a list entry without "=". */
  private dict(path: Path, bare: (key: string) => string | null): Record<string, string | null> {
    const v = this.get(path);
    const out: Record<string, string | null> = {};
    if (Array.isArray(v)) {
      for (const e of v.map(String)) {
        const eq = e.indexOf("=");
        if (eq < 0) out[e] = bare(e);
        else out[e.slice(0, eq)] = e.slice(eq + 1);
      }
    } else if (isMapping(v)) {
      for (const [k, x] of Object.entries(v)) out[k] = x === null || x === undefined ? bare(k) : String(x);
    }
    return out;
  }

  private labels(path: Path): Record<string, string> {
    return this.dict(path, () => "") as Record<string, string>;
  }

  /** Variables without a value take the project environment's, else stay null (inherited when the container starts). */
  private env(path: Path): Record<string, string | null> {
    return this.dict(path, (k) => this.ctx.lookup(k) ?? null);
  }

  private stringMap(path: Path): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(mapping(this.get(path)))) if (x !== null && x !== undefined) out[k] = String(x);
    return out;
  }

  // -- the project --

  project(): Project {
    const raw = mapping(this.doc.services);
    const enabled = new Set(this.ctx.profiles);
    const active: string[] = [];
    const disabled: Project["disabled"] = {};
    for (const name of Object.keys(raw)) {
      const profiles = this.strings(["services", name, "profiles"]);
      const on = profiles.length === 0 || enabled.has("*") || profiles.some((p) => enabled.has(p)) || this.ctx.targets.includes(name);
      if (on) active.push(name);
      else disabled[name] = { profiles };
    }
    for (const t of this.ctx.targets) {
      if (!(t in raw)) throw notFound(`no such service: ${t}`);
    }
    const services: Record<string, Service> = {};
    for (const name of active) services[name] = this.service(name);

    const networks: Record<string, Network> = {};
    for (const key of Object.keys(mapping(this.doc.networks))) networks[key] = this.network(key);
    const usesDefault = Object.values(services).some((s) => "default" in s.networks);
    if (usesDefault && !networks.default) networks.default = { name: `${this.ctx.name}_default`, external: false, driver_opts: {}, labels: {} };
    const volumes: Record<string, Volume> = {};
    for (const key of Object.keys(mapping(this.doc.volumes))) volumes[key] = this.volume(key);
    const secrets: Record<string, FileObject> = {};
    for (const key of Object.keys(mapping(this.doc.secrets))) secrets[key] = this.fileObject("secrets", key);
    const configs: Record<string, FileObject> = {};
    for (const key of Object.keys(mapping(this.doc.configs))) configs[key] = this.fileObject("configs", key);

    for (const svc of Object.values(services)) this.checkReferences(svc, services, disabled, networks, volumes, secrets, configs);

    const doc = this.doc;
    return {
      name: this.ctx.name,
      workingDir: this.ctx.workingDir,
      files: this.ctx.files,
      services,
      networks,
      volumes,
      secrets,
      configs,
      disabled,
      positionOf: (path: ValuePath) => positionAt(doc, path, true),
    };
  }

  private checkReferences(
    svc: Service,
    services: Record<string, Service>,
    disabled: Project["disabled"],
    networks: Record<string, Network>,
    volumes: Record<string, Volume>,
    secrets: Record<string, FileObject>,
    configs: Record<string, FileObject>,
  ): void {
    const base = ["services", svc.name];
    for (const [dep, d] of Object.entries(svc.depends_on)) {
      if (services[dep] || !d.required) continue;
      const path = [...base, "depends_on", ...this.depKey(svc.name, dep)];
      if (disabled[dep]) {
        this.fail(path, `service "${svc.name}" depends on service "${dep}", which is disabled by its profiles (${disabled[dep]!.profiles.join(", ")})`, `enable it with --profile ${disabled[dep]!.profiles[0]}, or set required: false`);
      }
      this.fail(path, `service "${svc.name}" depends on undefined service "${dep}"`);
    }
    for (const net of Object.keys(svc.networks)) {
      if (!networks[net]) this.fail([...base, "networks", ...this.listKey([...base, "networks"], net)], `service "${svc.name}" refers to undefined network "${net}"`, `declare it under the top-level networks:`);
    }
    const mode = svc.network_mode?.match(/^service:(.*)$/)?.[1];
    if (mode !== undefined && !services[mode]) this.fail([...base, "network_mode"], `service "${svc.name}" uses the network of undefined service "${mode}"`);
    svc.volumes.forEach((v, i) => {
      if (v.type === "volume" && v.source !== undefined && !volumes[v.source]) {
        this.fail([...base, "volumes", i], `service "${svc.name}" refers to undefined volume "${v.source}"`, "declare it under the top-level volumes:");
      }
    });
    for (const [section, refs, defined] of [["secrets", svc.secrets, secrets], ["configs", svc.configs, configs]] as const) {
      refs.forEach((r, i) => {
        if (!defined[r.source]) this.fail([...base, section, i], `service "${svc.name}" refers to undefined ${section.slice(0, -1)} "${r.source}"`, `declare it under the top-level ${section}:`);
      });
    }
  }

  /** The path of a name inside a list-or-mapping value (depends_on: [db] or {db: ...}). */
  private listKey(path: Path, name: string): Path {
    const v = this.get(path);
    return Array.isArray(v) ? [v.indexOf(name)] : [name];
  }

  private depKey(service: string, dep: string): Path {
    return this.listKey(["services", service, "depends_on"], dep);
  }

  // -- services --

  private service(name: string): Service {
    const p = (...rest: Path): Path => ["services", name, ...rest];
    const svc = mapping(this.get(p()));
    const build = this.build(name);
    const image = this.str(p("image")) ?? (build ? `${this.ctx.name}-${name}` : undefined);
    if (image === undefined) throw errorAt(keyPositionAt(this.doc, p()), `services.${name}: service "${name}" has neither an image nor a build context specified`, "add image: or build:");
    const networkMode = this.str(p("network_mode"));
    if (networkMode !== undefined && svc.networks !== undefined) this.fail(p("network_mode"), `service "${name}" declares both network_mode and networks`, "use one of them");
    const replicas = this.folded(p("scale"), p("deploy", "replicas"), (q) => this.num(q)) ?? 1;
    const containerName = this.str(p("container_name"));
    if (containerName !== undefined && replicas > 1) this.fail(p("container_name"), `service "${name}" has container_name and ${replicas} replicas: container names must be unique`, "remove container_name, or use one replica");
    const pullPolicy = this.str(p("pull_policy"));
    if (pullPolicy !== undefined && !PULL_POLICIES.includes(pullPolicy)) this.fail(p("pull_policy"), `berth does not support pull_policy "${pullPolicy}"`, `use one of ${PULL_POLICIES.join(", ")}`);
    const restart = this.str(p("restart"));
    if (restart !== undefined && !/^(no|always|unless-stopped|on-failure(:\d+)?)$/.test(restart)) this.fail(p("restart"), `invalid restart policy "${restart}"`, 'use "no", "always", "on-failure[:N]" or "unless-stopped"');
    return drop({
      name,
      image: image!,
      build,
      pull_policy: pullPolicy as Service["pull_policy"],
      command: this.command(p("command")),
      entrypoint: this.command(p("entrypoint")),
      environment: { ...this.envFiles(name), ...this.env(p("environment")) },
      ports: this.ports(name),
      expose: this.strings(p("expose")),
      networks: this.serviceNetworks(name, networkMode !== undefined),
      network_mode: networkMode,
      volumes: this.serviceVolumes(name),
      tmpfs: this.tmpfs(p("tmpfs")),
      secrets: this.fileReferences(name, "secrets"),
      configs: this.fileReferences(name, "configs"),
      depends_on: this.dependsOn(name),
      healthcheck: this.healthcheck(p("healthcheck")),
      restart,
      deploy: this.deploy(name),
      replicas,
      user: this.str(p("user")),
      working_dir: this.str(p("working_dir")),
      hostname: this.str(p("hostname")),
      domainname: this.str(p("domainname")),
      container_name: containerName,
      labels: this.labels(p("labels")),
      init: this.bool(p("init")),
      stop_signal: this.str(p("stop_signal")),
      stop_grace_period: this.duration(p("stop_grace_period")),
      cap_add: this.strings(p("cap_add")),
      cap_drop: this.strings(p("cap_drop")),
      privileged: this.bool(p("privileged")),
      ulimits: this.ulimits(p("ulimits")),
      read_only: this.bool(p("read_only")),
      extra_hosts: this.extraHosts(p("extra_hosts")),
      dns: this.strings(p("dns")),
      dns_search: this.strings(p("dns_search")),
      dns_opt: this.strings(p("dns_opt")),
      logging: isMapping(svc.logging) ? drop({ driver: this.str(p("logging", "driver")), options: this.stringMap(p("logging", "options")) }) : undefined,
      tty: this.bool(p("tty")),
      stdin_open: this.bool(p("stdin_open")),
      profiles: this.strings(p("profiles")),
      develop: this.develop(name),
    });
  }

  private develop(name: string): Service["develop"] {
    const base: Path = ["services", name, "develop", "watch"];
    const rules = this.get(base);
    if (!Array.isArray(rules)) return undefined;
    return {
      watch: rules.map((_, i) => {
        const p = (...rest: Path): Path => [...base, i, ...rest];
        const action = this.str(p("action")) as WatchRule["action"];
        const target = this.str(p("target"));
        if (action.startsWith("sync") && target === undefined) this.fail(p("action"), `a ${action} rule needs a target: the path in the container to sync to`, "add target: /path/in/the/container");
        if (target !== undefined && !target.startsWith("/")) this.fail(p("target"), `target "${target}" is not an absolute path in the container`, "start it with /");
        const hasExec = this.get(p("exec")) !== undefined;
        if (action === "sync+exec" && !hasExec) this.fail(p("action"), "a sync+exec rule needs exec: {command: ...}", "add the command to run after a sync");
        if (action !== "sync+exec" && hasExec) this.fail(p("exec"), `exec is for sync+exec rules, this one is ${action}`, "remove exec, or make the action sync+exec");
        return drop({
          action,
          path: this.str(p("path"))!,
          target,
          ignore: this.strings(p("ignore")),
          include: this.strings(p("include")),
          initial_sync: this.bool(p("initial_sync")),
          exec: hasExec
            ? drop({
                command: this.command(p("exec", "command")) ?? [],
                user: this.str(p("exec", "user")),
                privileged: this.bool(p("exec", "privileged")),
                working_dir: this.str(p("exec", "working_dir")),
                environment: this.env(p("exec", "environment")) as Record<string, string>,
              })
            : undefined,
        });
      }),
    };
  }

  /** A value that may be written under a legacy key or under deploy: both may be set only to the same value. */
  private folded<T>(legacy: Path, modern: Path, read: (p: Path) => T | undefined): T | undefined {
    const a = read(legacy);
    const b = read(modern);
    if (a !== undefined && b !== undefined && a !== b) this.fail(legacy, `conflicts with ${formatPath(modern)} (${JSON.stringify(a)} vs ${JSON.stringify(b)})`, "set only one of them");
    return b ?? a;
  }

  private build(name: string): Build | undefined {
    const p: Path = ["services", name, "build"];
    const v = this.get(p);
    if (v === undefined || v === null) return undefined;
    if (typeof v === "string") return { context: v, dockerfile: "Dockerfile", args: {}, labels: {}, extra_hosts: [], tags: [] };
    return drop({
      context: this.str([...p, "context"]) ?? this.ctx.workingDir,
      dockerfile: this.str([...p, "dockerfile"]) ?? "Dockerfile",
      dockerfile_inline: this.str([...p, "dockerfile_inline"]),
      args: this.env([...p, "args"]),
      target: this.str([...p, "target"]),
      labels: this.labels([...p, "labels"]),
      no_cache: this.bool([...p, "no_cache"]),
      pull: this.bool([...p, "pull"]),
      network: this.str([...p, "network"]),
      extra_hosts: this.extraHosts([...p, "extra_hosts"]),
      tags: this.strings([...p, "tags"]),
    });
  }

  /** A string command is split like a shell would (quotes kept together); null resets the image's. */
  private command(path: Path): string[] | null | undefined {
    const v = this.get(path);
    if (v === undefined) return undefined;
    if (v === null) return null;
    if (Array.isArray(v)) return v.map(String);
    try {
      return words(String(v));
    } catch (err) {
      if (!isBerthError(err)) throw err;
      return this.fail(path, err.message);
    }
  }

  /** env_file entries in order; later files win, `environment` wins over all (the caller spreads it last). */
  private envFiles(name: string): Record<string, string> {
    const p: Path = ["services", name, "env_file"];
    const v = this.get(p);
    const list = v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
    const out: Record<string, string> = {};
    list.forEach((e, i) => {
      const path = isMapping(e) ? String(e.path) : String(e);
      const required = isMapping(e) ? this.bool(Array.isArray(v) ? [...p, i, "required"] : [...p, "required"]) ?? true : true;
      const where = Array.isArray(v) ? [...p, i] : p;
      try {
        Object.assign(out, readDotenv(path, shownPath(path, this.ctx.cwd), this.ctx.lookup, required));
      } catch (err) {
        if (!isBerthError(err)) throw err;
        throw errorAt(this.at(where), `${formatPath(where)}: ${err.message}`, err.hint, err.kind);
      }
    });
    return out;
  }

  private ports(name: string): Port[] {
    const p: Path = ["services", name, "ports"];
    const list = this.get(p);
    if (!Array.isArray(list)) return [];
    return list.flatMap((entry, i): Port[] => {
      const path = [...p, i];
      if (isMapping(entry)) {
        const protocol = (this.str([...path, "protocol"]) ?? "tcp").toLowerCase();
        if (protocol !== "tcp" && protocol !== "udp") this.fail([...path, "protocol"], `berth does not support protocol "${protocol}"`, "use tcp or udp");
        const mode = this.str([...path, "mode"]) ?? "ingress";
        if (mode !== "ingress" && mode !== "host") this.fail([...path, "mode"], `invalid port mode "${mode}"`, "use ingress or host");
        return [drop({
          target: this.num([...path, "target"])!,
          published: this.str([...path, "published"]),
          host_ip: this.str([...path, "host_ip"]),
          protocol: protocol as Port["protocol"],
          mode: mode as Port["mode"],
        })];
      }
      const parsed = parsePorts(String(entry));
      if (typeof parsed === "string") return this.fail(path, parsed, 'write "[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]", e.g. "127.0.0.1:8080:80/udp"');
      return parsed;
    });
  }

  private serviceNetworks(name: string, hasMode: boolean): Record<string, ServiceNetwork> {
    const p: Path = ["services", name, "networks"];
    const v = this.get(p);
    if (v === undefined || v === null) return hasMode ? {} : { default: {} };
    if (Array.isArray(v)) return Object.fromEntries(v.map((n) => [String(n), {}]));
    const out: Record<string, ServiceNetwork> = {};
    for (const [net, att] of Object.entries(mapping(v))) {
      const q = [...p, net];
      out[net] = isMapping(att)
        ? drop({ aliases: att.aliases === undefined ? undefined : this.strings([...q, "aliases"]), ipv4_address: this.str([...q, "ipv4_address"]), priority: this.num([...q, "priority"]) })
        : {};
    }
    return out;
  }

  private serviceVolumes(name: string): ServiceVolume[] {
    const p: Path = ["services", name, "volumes"];
    const list = this.get(p);
    if (!Array.isArray(list)) return [];
    return list.map((entry, i): ServiceVolume => {
      const path = [...p, i];
      if (typeof entry === "string") return this.shortVolume(entry, path);
      const type = this.str([...path, "type"])!;
      if (type !== "volume" && type !== "bind" && type !== "tmpfs") return this.fail([...path, "type"], `berth does not support volumes of type "${type}"`, "use volume, bind or tmpfs");
      const source = this.str([...path, "source"]);
      if (type === "bind" && source === undefined) this.fail(path, "a bind mount needs a source");
      const propagation = this.str([...path, "bind", "propagation"]);
      if (propagation !== undefined && !PROPAGATIONS.includes(propagation)) this.fail([...path, "bind", "propagation"], `invalid propagation "${propagation}"`, `use one of ${PROPAGATIONS.join(", ")}`);
      const e = entry as Raw;
      return drop({
        type,
        source: type === "tmpfs" ? undefined : source,
        target: this.str([...path, "target"])!,
        read_only: this.bool([...path, "read_only"]),
        bind: isMapping(e.bind) ? drop({ create_host_path: this.bool([...path, "bind", "create_host_path"]), propagation }) : undefined,
        volume: isMapping(e.volume) ? drop({ nocopy: this.bool([...path, "volume", "nocopy"]) }) : undefined,
        tmpfs: isMapping(e.tmpfs) ? drop({ size: this.bytes([...path, "tmpfs", "size"]), mode: this.mode([...path, "tmpfs", "mode"]) }) : undefined,
      });
    });
  }

  /** "./data:/data:ro", "name:/x", "/anon": a host path source is a bind mount (its host directory created as Docker does). */
  private shortVolume(spec: string, path: Path): ServiceVolume {
    const { source, target, mode } = splitVolume(spec);
    if (!target) this.fail(path, `invalid volume "${spec}"`, 'write "[SOURCE:]TARGET[:MODE]"');
    const v: ServiceVolume = source === undefined ? { type: "volume", target } : isHostPath(source) ? { type: "bind", source, target, bind: { create_host_path: true } } : { type: "volume", source, target };
    for (const opt of mode ? mode.split(",") : []) {
      if (opt === "ro") v.read_only = true;
      else if (opt === "rw") v.read_only = undefined;
      else if (opt === "nocopy" && v.type === "volume") v.volume = { nocopy: true };
      else if (PROPAGATIONS.includes(opt) && v.type === "bind") v.bind = { ...v.bind, propagation: opt };
      else if (opt === "z" || opt === "Z") this.fail(path, `berth does not support SELinux relabeling ("${opt}")`, "remove the :z/:Z option");
      else this.fail(path, `invalid volume option "${opt}" in "${spec}"`, 'use ro, rw, nocopy (volumes) or a propagation such as rshared (binds)');
    }
    // Fields in the order of the long form, as `config` prints them.
    return drop({ type: v.type, source: v.source, target: v.target, read_only: v.read_only, bind: v.bind, volume: v.volume });
  }

  /** File modes are octal when written as strings ("0440"); YAML numbers like 0440 are read as octal by the parser. */
  private mode(path: Path): number | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    if (typeof v === "number") return v;
    if (!/^[0-7]+$/.test(String(v))) return this.fail(path, `invalid file mode ${JSON.stringify(v)}`, "use an octal number such as 0440");
    return parseInt(String(v), 8);
  }

  private tmpfs(path: Path): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.strings(path)) {
      const colon = e.indexOf(":");
      if (colon < 0) out[e] = "";
      else out[e.slice(0, colon)] = e.slice(colon + 1);
    }
    return out;
  }

  private fileReferences(name: string, section: "secrets" | "configs"): FileReference[] {
    const p: Path = ["services", name, section];
    const list = this.get(p);
    if (!Array.isArray(list)) return [];
    const targetOf = (source: string, target?: string) => fileTarget(section, source, target);
    return list.map((entry, i): FileReference => {
      if (!isMapping(entry)) return { source: String(entry), target: targetOf(String(entry)) };
      const q = [...p, i];
      const source = this.str([...q, "source"]);
      if (source === undefined) return this.fail(q, "missing source");
      return drop({ source, target: targetOf(source, this.str([...q, "target"])), uid: this.str([...q, "uid"]), gid: this.str([...q, "gid"]), mode: this.mode([...q, "mode"]) });
    });
  }

  private dependsOn(name: string): Record<string, Dependency> {
    const p: Path = ["services", name, "depends_on"];
    const v = this.get(p);
    const out: Record<string, Dependency> = {};
    if (Array.isArray(v)) {
      for (const dep of v.map(String)) out[dep] = { condition: "service_started", restart: false, required: true };
      return out;
    }
    for (const dep of Object.keys(mapping(v))) {
      const q = [...p, dep];
      const condition = this.str([...q, "condition"]) ?? "service_started";
      if (!CONDITIONS.includes(condition)) this.fail([...q, "condition"], `invalid condition "${condition}"`, `use one of ${CONDITIONS.join(", ")}`);
      out[dep] = { condition: condition as Dependency["condition"], restart: this.bool([...q, "restart"]) ?? false, required: this.bool([...q, "required"]) ?? true };
    }
    return out;
  }

  private healthcheck(path: Path): Healthcheck | undefined {
    const v = this.get(path);
    if (!isMapping(v)) return undefined;
    const test = v.test === undefined ? undefined : typeof v.test === "string" ? ["CMD-SHELL", v.test] : this.strings([...path, "test"]);
    return drop({
      test,
      interval: this.duration([...path, "interval"]),
      timeout: this.duration([...path, "timeout"]),
      start_period: this.duration([...path, "start_period"]),
      start_interval: this.duration([...path, "start_interval"]),
      retries: this.num([...path, "retries"]),
      disable: this.bool([...path, "disable"]),
    });
  }

  private deploy(name: string): Deploy | undefined {
    const s = (...rest: Path): Path => ["services", name, ...rest];
    const d = (...rest: Path): Path => s("deploy", ...rest);
    const cpus = (q: Path) => this.num(q, false);
    const limits: Resources = drop({
      cpus: this.folded(s("cpus"), d("resources", "limits", "cpus"), cpus),
      memory: this.folded(s("mem_limit"), d("resources", "limits", "memory"), (q) => this.bytes(q)),
      pids: this.folded(s("pids_limit"), d("resources", "limits", "pids"), (q) => this.num(q)),
    });
    const reservations: Resources = drop({
      cpus: cpus(d("resources", "reservations", "cpus")),
      memory: this.folded(s("mem_reservation"), d("resources", "reservations", "memory"), (q) => this.bytes(q)),
    });
    const condition = this.str(d("restart_policy", "condition"));
    if (condition !== undefined && !["none", "on-failure", "any"].includes(condition)) this.fail(d("restart_policy", "condition"), `invalid restart condition "${condition}"`, "use none, on-failure or any");
    const restartPolicy = drop({ condition: condition as "none" | "on-failure" | "any" | undefined, max_attempts: this.num(d("restart_policy", "max_attempts")) });
    const resources = drop({ limits: empty(limits) ? undefined : limits, reservations: empty(reservations) ? undefined : reservations });
    const deploy: Deploy = drop({
      resources: empty(resources) ? undefined : resources,
      memory_swap: this.bytes(s("memswap_limit")),
      cpu_shares: this.num(s("cpu_shares")),
      cpuset: this.str(s("cpuset")),
      restart_policy: empty(restartPolicy) ? undefined : restartPolicy,
    });
    return empty(deploy) ? undefined : deploy;
  }

  private ulimits(path: Path): Service["ulimits"] {
    const out: Service["ulimits"] = {};
    for (const [k, v] of Object.entries(mapping(this.get(path)))) {
      if (isMapping(v)) out[k] = { soft: this.num([...path, k, "soft"]) ?? 0, hard: this.num([...path, k, "hard"]) ?? 0 };
      else {
        const n = this.num([...path, k])!;
        out[k] = { soft: n, hard: n };
      }
    }
    return out;
  }

  /** ["host:ip"] from a list ("host:ip" or "host=ip") or a mapping (host: ip or [ips]). */
  private extraHosts(path: Path): string[] {
    const v = this.get(path);
    if (Array.isArray(v)) return v.map((e) => String(e).replace(/^([^=:]+)=/, "$1:"));
    return Object.entries(mapping(v)).flatMap(([host, ip]) => (Array.isArray(ip) ? ip : [ip]).map((x) => `${host}:${x}`));
  }

  // -- top-level resources --

  /** The real name: `name:`, or the key for external ones (or the deprecated external.name), else "<project>_<key>". */
  private realName(section: string, key: string): { name: string; external: boolean } {
    const p: Path = [section, key];
    const ext = this.get([...p, "external"]);
    const external = isMapping(ext) ? true : (this.bool([...p, "external"]) ?? false);
    const name = this.str([...p, "name"]) ?? (isMapping(ext) ? this.str([...p, "external", "name"]) : undefined);
    return { name: name ?? (external ? key : `${this.ctx.name}_${key}`), external };
  }

  private network(key: string): Network {
    const p: Path = ["networks", key];
    const ipam = mapping(this.get([...p, "ipam"]));
    const config = Array.isArray(ipam.config) ? ipam.config : [];
    return drop({
      ...this.realName("networks", key),
      driver: this.str([...p, "driver"]),
      driver_opts: this.stringMap([...p, "driver_opts"]),
      ipam: this.get([...p, "ipam"]) === undefined ? undefined : drop({
        driver: this.str([...p, "ipam", "driver"]),
        config: config.map((_, i) => drop({ subnet: this.str([...p, "ipam", "config", i, "subnet"]), gateway: this.str([...p, "ipam", "config", i, "gateway"]), ip_range: this.str([...p, "ipam", "config", i, "ip_range"]) })),
      }),
      internal: this.bool([...p, "internal"]),
      attachable: this.bool([...p, "attachable"]),
      labels: this.labels([...p, "labels"]),
    });
  }

  private volume(key: string): Volume {
    const p: Path = ["volumes", key];
    return drop({ ...this.realName("volumes", key), driver: this.str([...p, "driver"]), driver_opts: this.stringMap([...p, "driver_opts"]), labels: this.labels([...p, "labels"]) });
  }

  private fileObject(section: "secrets" | "configs", key: string): FileObject {
    const p: Path = [section, key];
    const obj = drop({ ...this.realName(section, key), file: this.str([...p, "file"]), environment: this.str([...p, "environment"]), content: this.str([...p, "content"]) });
    if (!obj.external && obj.file === undefined && obj.environment === undefined && obj.content === undefined) {
      this.fail(p, `${section.slice(0, -1)} "${key}" needs file, environment${section === "configs" ? ", content" : ""} or external`);
    }
    return obj;
  }
}

/**
 * Short port syntax -> Ports, or an error message: "80", "8080:80",
 * "127.0.0.1:8080:80/udp", "[::1]::80", and ranges ("8000-8001:80-81" is two
 * ports; "9000-9010:80" publishes 80 on the first free port of the range).
 */
export function parsePorts(spec: string): Port[] | string {
  let rest = spec.trim();
  let protocol = "tcp";
  const slash = rest.lastIndexOf("/");
  if (slash >= 0) {
    protocol = rest.slice(slash + 1).toLowerCase();
    rest = rest.slice(0, slash);
  }
  if (protocol !== "tcp" && protocol !== "udp") return `berth does not support protocol "${protocol}" in "${spec}"`;
  let hostIp: string | undefined;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (v6) {
    hostIp = v6[1];
    rest = v6[2]!;
  } else if (rest.split(":").length === 3) {
    hostIp = rest.slice(0, rest.indexOf(":"));
    rest = rest.slice(rest.indexOf(":") + 1);
  }
  const parts = rest.split(":");
  if (parts.length > 2) return `invalid port "${spec}"`;
  const [published, target] = parts.length === 2 ? [parts[0]!, parts[1]!] : [undefined, parts[0]!];
  const range = (s: string): [number, number] | undefined => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(s);
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    return lo >= 0 && hi <= 65535 && lo <= hi ? [lo, hi] : undefined;
  };
  const t = range(target);
  if (!t) return `invalid container port "${target}" in "${spec}"`;
  const pub = published === undefined || published === "" ? undefined : range(published);
  if (published && !pub) return `invalid host port "${published}" in "${spec}"`;
  const base = { host_ip: hostIp || undefined, protocol: protocol as Port["protocol"], mode: "ingress" as const };
  const count = t[1] - t[0] + 1;
  if (count === 1) return [drop({ target: t[0], published: published || undefined, ...base })];
  if (pub && pub[1] - pub[0] + 1 !== count) return `the host port range "${published}" and the container port range "${target}" differ in size in "${spec}"`;
  return Array.from({ length: count }, (_, i) => drop({ target: t[0] + i, published: pub ? String(pub[0] + i) : undefined, ...base }));
}

/** Where a secret or config is mounted: /run/secrets/<name> and /<name> by default, relative targets under those. */
export function fileTarget(section: "secrets" | "configs", source: string, target?: string): string {
  const t = target ?? source;
  if (t.startsWith("/")) return t;
  return section === "secrets" ? `/run/secrets/${t}` : `/${t}`;
}

/** The object without its undefined properties (so that printed and compared models hold only what was set). */
function drop<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function empty(o: object): boolean {
  return Object.keys(o).length === 0;
}
