// --security-opt, --privileged and the security settings of a container's
// processes (its first one, exec'd ones and health checks alike): the
// capabilities, no_new_privs and the seccomp filter, as Docker derives them.
import { CAPABILITIES, containerCapabilities } from "../caps.ts";
import { readFileSync } from "node:fs";
import type { MountSpec, ProcessSpec, SandboxSpec, SeccompConfig } from "../contracts/isolation.ts";
import { invalidArgument, isBerthError, notSupported } from "../errors.ts";
import { checkProfile, DEFAULT_PROFILE, hostTarget, parseProfile, resolveProfile, type Profile } from "../seccomp/profile.ts";
import type { HostConfig } from "./types.ts";

export interface SecurityOptions {
  /** "builtin" (Docker's default profile), "unconfined", or a profile in Docker's format. */
  seccomp: "builtin" | "unconfined" | Profile;
  noNewPrivileges: boolean;
}

/**
 * HostConfig.SecurityOpt as Docker's daemon reads it: "no-new-privileges",
 * "no-new-privileges=<bool>", "seccomp=unconfined|builtin|<profile JSON>"
 * (the CLI sends the file's content), and the label/apparmor options a host
 * without SELinux or AppArmor takes as no-ops. Throws InvalidArgument.
 */
export function parseSecurityOpts(opts: string[]): SecurityOptions {
  const out: SecurityOptions = { seccomp: "builtin", noNewPrivileges: false };
  for (const opt of opts) {
    if (opt === "no-new-privileges") {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === "disable") continue; // label=disable's short form
    const sep = opt.includes("=") ? "=" : opt.includes(":") ? ":" : "";
    if (!sep) throw invalidArgument(`invalid --security-opt 1: ${JSON.stringify(opt)}`, "use no-new-privileges[=true|false], seccomp=unconfined|builtin|<file.json>");
    const key = opt.slice(0, opt.indexOf(sep));
    const value = opt.slice(opt.indexOf(sep) + 1);
    switch (key) {
      case "no-new-privileges": {
        const b = parseBool(value);
        if (b === undefined) throw invalidArgument(`invalid --security-opt 2: ${JSON.stringify(opt)}`, "no-new-privileges takes true or false");
        out.noNewPrivileges = b;
        break;
      }
      case "seccomp":
        if (value === "unconfined" || value === "builtin") out.seccomp = value;
        else if (value.trimStart().startsWith("{")) out.seccomp = parseProfile(value);
        else throw invalidArgument(`invalid --security-opt ${JSON.stringify(opt.slice(0, 80))}: seccomp takes unconfined, builtin or a profile's JSON`, "the docker and berth CLIs read --security-opt seccomp=<file.json> and send its content");
        break;
      case "label":
        // No SELinux here: Docker ignores labels on such a host, so does berth; a type or level would mean confinement berth cannot give.
        if (value !== "disable") throw notSupported(`--security-opt label=${value}: berth has no SELinux support`, "use label=disable or leave the option out");
        break;
      case "apparmor":
        if (value !== "unconfined") throw notSupported(`--security-opt apparmor=${value}: berth has no AppArmor support`, "use apparmor=unconfined or leave the option out");
        break;
      default:
        throw invalidArgument(`invalid --security-opt 2: ${JSON.stringify(opt)}`, "use no-new-privileges[=true|false], seccomp=unconfined|builtin|<file.json>");
    }
  }
  return out;
}

/** Check a create request's security settings: what would fail at start fails now, with a 400. */
export function checkSecurity(h: HostConfig) {
  const opts = parseSecurityOpts(h.SecurityOpt ?? []);
  for (const [field, paths] of [["MaskedPaths", h.MaskedPaths], ["ReadonlyPaths", h.ReadonlyPaths]] as const) {
    if (paths != null && (!Array.isArray(paths) || paths.some((p) => typeof p !== "string" || !p.startsWith("/")))) throw invalidArgument(`invalid HostConfig.${field}: it must be a list of absolute paths`);
  }
  const caps = capabilitiesOf(h);
  if (typeof opts.seccomp === "object") {
    try {
      resolveProfile(checkProfile(opts.seccomp), hostTarget(caps));
    } catch (err) {
      throw isBerthError(err) ? err : invalidArgument(`invalid seccomp profile: ${(err as Error).message}`);
    }
  }
}

/**
 * The capabilities of a container's processes: when privileged, every one
 * the engine itself has (a host whose bounding set lacks some still runs
 * privileged containers); else Docker's set with --cap-add/--cap-drop.
 */
export function capabilitiesOf(h: HostConfig, privilegedExec = false): string[] {
  if (h.Privileged || privilegedExec) return engineCapabilities();
  return containerCapabilities(h.CapAdd ?? [], h.CapDrop ?? []);
}

let engineCaps: string[] | undefined;
function engineCapabilities(): string[] {
  if (!engineCaps) {
    const hex = /^CapBnd:\s*([0-9a-f]+)/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    const mask = hex ? BigInt(`0x${hex}`) : -1n;
    engineCaps = Object.entries(CAPABILITIES).filter(([, bit]) => mask & (1n << BigInt(bit))).map(([name]) => name);
  }
  return engineCaps;
}

/** Docker's --privileged sandbox: nothing masked or read-only in /proc, /sys and the cgroup filesystems writable. */
export function privilegedSandbox(spec: SandboxSpec): SandboxSpec {
  const kernelFs = (m: MountSpec) => m.type === "sysfs" || m.type === "cgroup" || m.type === "cgroup2" || (m.type === "tmpfs" && m.destination === "/sys/fs/cgroup");
  const mounts = spec.mounts.map((m) => (kernelFs(m) ? { ...m, options: m.options.filter((o) => o !== "ro") } : m));
  return { ...spec, mounts, maskedPaths: [], readonlyPaths: [] };
}

/** The seccomp filter of a container's processes, or undefined (unconfined, privileged). */
export function seccompOf(h: HostConfig, capabilities: string[]): SeccompConfig | undefined {
  if (h.Privileged) return undefined;
  const { seccomp } = parseSecurityOpts(h.SecurityOpt ?? []);
  if (seccomp === "unconfined") return undefined;
  return resolveProfile(seccomp === "builtin" ? DEFAULT_PROFILE : seccomp, hostTarget(capabilities));
}

/** Capabilities, no_new_privs and seccomp of a process in this container (exec --privileged: every capability). */
export function processSecurity(h: HostConfig, privilegedExec = false): Pick<ProcessSpec, "capabilities" | "noNewPrivileges" | "seccomp"> {
  const capabilities = capabilitiesOf(h, privilegedExec);
  const { noNewPrivileges } = parseSecurityOpts(h.SecurityOpt ?? []);
  // The filter follows the container's capabilities, as in Docker: an exec --privileged keeps it.
  const seccomp = seccompOf(h, capabilitiesOf(h));
  return { capabilities, noNewPrivileges, ...(seccomp ? { seccomp } : {}) };
}

function parseBool(s: string): boolean | undefined {
  // Go's strconv.ParseBool.
  if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
  return undefined;
}
