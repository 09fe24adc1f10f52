// What a container's process does before it becomes the user's command.
// The first process (setupContainer): join the cgroup, build the mount
// tree, pivot_root into it, mask /proc, set the hostname. A process exec'd
// into a running container (enterContainer): join its cgroup and enter its
// namespaces. Both then (becomeProcess): user, limits, capabilities, working
// directory, and the path to execve. Everything goes through `Sys`, so a
// recording fake can check the sequence without a kernel.
import {
  accessSync, chmodSync, chownSync, constants, existsSync, mkdirSync, openSync, closeSync,
  readFileSync, statSync, symlinkSync, writeFileSync,
} from "node:fs";
import { capMask, CAPABILITIES } from "../../../core/caps.ts";
import type { DeviceNode, ExecTarget as ContainerTarget, MountSpec, ProcessSpec, SandboxSpec } from "../../../core/contracts/isolation.ts";
import { BerthError, errnoCode, StartError, SysError } from "../../../core/errors.ts";
import { resolveInRoot } from "../../../core/paths.ts";
import { CLONE, makedev, MNT_DETACH, MS, RLIMIT, RLIM_INFINITY, S_IFBLK, S_IFCHR, type Sys } from "../../../core/sys/index.ts";
import { CONSOLE_FD } from "./fds.ts";
import { resolveUser } from "./users.ts";

export interface ExecTarget {
  path: string;
  argv: string[];
  env: string[];
}

export interface SetupOptions {
  /** Where the container's root is once entered: "/" for real, the rootfs itself under a fake Sys. */
  newRoot: string;
  capLastCap: number;
  /** The process's seccomp filter, compiled (struct sock_filter[]), and its seccomp(2) flags. */
  seccomp?: { program: Uint8Array; flags: number };
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Prepare a new container and return what to execve. Throws StartError. */
export function setupContainer(spec: SandboxSpec, sys: Sys, opts: SetupOptions): ExecTarget {
  // Its own session: terminal signals go to berth, which forwards them once;
  // with a tty, the container's own controlling terminal.
  sys.setsid();
  // In a user namespace, the monitor joined the cgroup and the network namespace (host objects) already.
  joinCgroup(spec.cgroupJoin, sys, !!spec.userns);
  if (spec.netnsPath && !spec.userns) {
    const fd = openSync(spec.netnsPath, "r");
    sys.setns(fd, CLONE.NEWNET);
    closeSync(fd);
  }
  buildMountTree(spec, sys);
  if (spec.process.terminal) {
    const pts = openTerminal(resolveInRoot(spec.rootfs, "/dev/pts"), spec.process.consoleSize, sys);
    // As Docker does: /dev/console is the container's terminal.
    const console = resolveInRoot(spec.rootfs, "/dev/console");
    if (!existsSync(console)) writeFileSync(console, "", { mode: 0o620 });
    sys.mount(pts, console, null, MS.BIND);
  }
  pivotInto(spec.rootfs, sys);
  const root = opts.newRoot;
  for (const p of spec.maskedPaths) maskPath(root, p, sys);
  for (const p of spec.readonlyPaths) readonlyPath(root, p, sys);
  if (spec.readonlyRootfs) sys.mount(null, "/", null, MS.BIND | MS.REMOUNT | MS.RDONLY);
  sys.sethostname(spec.hostname);
  return becomeProcess(spec.process, sys, opts);
}

/** Join a running container: its cgroup, then its namespaces (the pid one was entered by the monitor). */
export function enterContainer(target: ContainerTarget, proc: ProcessSpec, sys: Sys, opts: SetupOptions): ExecTarget {
  sys.setsid();
  const open = (ns: string) => openSync(`/proc/${target.pid}/ns/${ns}`, "r");
  // Open every namespace first: /proc is the host's until the mount namespace changes.
  const fds = { cgroup: open("cgroup"), ipc: open("ipc"), uts: open("uts"), net: open("net"), mnt: open("mnt") };
  for (const f of target.cgroupJoin) writeFileSync(f, "0");
  sys.setns(fds.cgroup, CLONE.NEWCGROUP);
  sys.setns(fds.ipc, CLONE.NEWIPC);
  sys.setns(fds.uts, CLONE.NEWUTS);
  sys.setns(fds.net, CLONE.NEWNET);
  // A mount namespace can only be entered by a thread with its own filesystem
  // context; Bun's threads share one, so this (main) thread takes a copy first.
  sys.unshare(CLONE.FS);
  sys.setns(fds.mnt, CLONE.NEWNS);
  for (const fd of Object.values(fds)) closeSync(fd);
  if (proc.terminal) openTerminal(`${opts.newRoot === "/" ? "" : opts.newRoot}/dev/pts`, proc.consoleSize, sys);
  return becomeProcess(proc, sys, opts);
}

/** User, limits, capabilities and working directory; then what to execve. */
function becomeProcess(proc: ProcessSpec, sys: Sys, opts: SetupOptions): ExecTarget {
  const root = opts.newRoot;
  const user = withStartError(125, () =>
    resolveUser(proc.user, readOr(`${root}/etc/passwd`), readOr(`${root}/etc/group`)),
  );
  const env = [...proc.env];
  if (!env.some((e) => e.startsWith("HOME="))) env.push(`HOME=${user.home}`);

  const cwd = resolveInRoot(root, proc.cwd);
  if (!existsSync(cwd)) mkdirSync(cwd, { recursive: true, mode: 0o755 });
  sys.chdir(cwd);

  for (const r of proc.rlimits) {
    const resource = RLIMIT[r.type];
    if (resource === undefined) throw new StartError(`unknown rlimit "${r.type}"`, 125);
    const big = (n: number) => (n < 0 ? RLIM_INFINITY : BigInt(n));
    withStartError(125, () => sys.setrlimit(resource, big(r.soft), big(r.hard)), `setting ulimit ${r.type}=${r.soft}:${r.hard}`);
  }

  // Without no_new_privs, installing a filter takes CAP_SYS_ADMIN: before
  // the capabilities go, as runc does; the profile must allow what follows.
  const filter = opts.seccomp;
  if (filter && !proc.noNewPrivileges) loadFilter(filter, sys);

  // Capabilities: shrink the bounding set, switch credentials, then set
  // what root keeps. For other users the kernel clears the sets at execve,
  // as in Docker (CapEff 0 for non-root, the bounding set still limited).
  const keep = withStartError(125, () => capMask(proc.capabilities));
  for (let cap = 0; cap <= opts.capLastCap; cap++) {
    if (!(keep & (1n << BigInt(cap)))) sys.capbsetDrop(cap);
  }
  sys.setgroups(user.groups);
  sys.setresgid(user.gid, user.gid, user.gid);
  sys.setresuid(user.uid, user.uid, user.uid);
  if (user.uid === 0) sys.capset(keep, keep, 0n);
  sys.capAmbientClearAll();
  if (proc.noNewPrivileges) sys.setNoNewPrivs();

  const path = lookPath(root, proc.args[0] ?? "", env, proc.cwd);
  // With it, as late as possible: little but the execve runs under the filter.
  if (filter && proc.noNewPrivileges) loadFilter(filter, sys);
  return { path, argv: proc.args, env };
}

function loadFilter(filter: NonNullable<SetupOptions["seccomp"]>, sys: Sys) {
  withStartError(125, () => sys.seccompLoad(filter.program, filter.flags), "loading the seccomp filter");
}

function joinCgroup(joinFiles: string[], sys: Sys, joined = false) {
  if (joinFiles.length === 0) return;
  if (!joined) for (const f of joinFiles) writeFileSync(f, "0");
  sys.unshare(CLONE.NEWCGROUP);
}

// ---------------------------------------------------------------- mounts

const FLAG_OPTIONS: Record<string, [set: boolean, flag: number]> = {
  ro: [true, MS.RDONLY], rw: [false, MS.RDONLY],
  nosuid: [true, MS.NOSUID], suid: [false, MS.NOSUID],
  nodev: [true, MS.NODEV], dev: [false, MS.NODEV],
  noexec: [true, MS.NOEXEC], exec: [false, MS.NOEXEC],
  noatime: [true, MS.NOATIME], atime: [false, MS.NOATIME],
  nodiratime: [true, MS.NODIRATIME], diratime: [false, MS.NODIRATIME],
  relatime: [true, MS.RELATIME], norelatime: [false, MS.RELATIME],
  strictatime: [true, MS.STRICTATIME], nostrictatime: [false, MS.STRICTATIME],
  bind: [true, MS.BIND], rbind: [true, MS.BIND | MS.REC],
};
const PROPAGATION_OPTIONS: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC,
  shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
};

export interface ParsedOptions {
  flags: number;
  propagation: number;
  data: string;
}

/** Split mount(8)-style options into mount(2) flags, propagation and the data string. */
export function parseMountOptions(options: string[]): ParsedOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  for (const o of options) {
    const f = FLAG_OPTIONS[o];
    if (f) flags = f[0] ? flags | f[1] : flags & ~f[1];
    else if (PROPAGATION_OPTIONS[o] !== undefined) propagation = PROPAGATION_OPTIONS[o]!;
    else data.push(o);
  }
  return { flags, propagation, data: data.join(",") };
}

/** Bind the rootfs onto itself (pivot_root needs a mount point), then mount everything into it. */
function buildMountTree(spec: SandboxSpec, sys: Sys) {
  const root = spec.rootfs;
  sys.mount(root, root, null, MS.BIND | MS.REC);
  const readOnly: { dest: string; keep: number }[] = [];
  for (const m of spec.mounts) {
    const dest = mountOne(root, m, sys, !!spec.userns);
    const { flags } = parseMountOptions(m.options);
    if (flags & MS.RDONLY) readOnly.push({ dest, keep: flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC) });
    if (m.destination === "/dev") createDevices(dest, sys, !!spec.userns);
  }
  for (const d of spec.devices ?? []) makeDevice(root, d, sys);
  // Read-only last, deepest first, so mount points under them could be made.
  for (const { dest, keep } of readOnly.reverse()) {
    sys.mount(null, dest, null, MS.BIND | MS.REMOUNT | MS.RDONLY | keep);
  }
}

function mountOne(root: string, m: MountSpec, sys: Sys, userns = false): string {
  const dest = resolveInRoot(root, m.destination);
  const { flags, propagation, data } = parseMountOptions(m.options);
  const writable = flags & ~MS.RDONLY;
  try {
    if (m.type === "bind") {
      const sourceIsDir = statSync(m.source).isDirectory();
      ensureMountPoint(dest, sourceIsDir);
      sys.mount(m.source, dest, null, MS.BIND | (writable & MS.REC));
      const extra = writable & ~(MS.BIND | MS.REC);
      if (extra) sys.mount(null, dest, null, MS.BIND | MS.REMOUNT | extra);
    } else {
      ensureMountPoint(dest, true);
      try {
        sys.mount(m.source, dest, m.type, writable, data || null);
      } catch (err) {
        // In a user namespace that does not own the network namespace (the host's, another
        // container's) the kernel refuses a new sysfs: bind the host's, as runc does.
        if (!(userns && m.type === "sysfs" && err instanceof SysError && err.code === "EPERM")) throw err;
        sys.mount("/sys", dest, null, MS.BIND | MS.REC);
      }
    }
    if (propagation) sys.mount(null, dest, null, propagation);
  } catch (err) {
    throw new StartError(`error mounting "${m.source}" to rootfs at "${m.destination}": ${describe(err)}`, 125);
  }
  return dest;
}

function ensureMountPoint(path: string, directory: boolean) {
  if (existsSync(path)) return;
  if (directory) {
    mkdirSync(path, { recursive: true, mode: 0o755 });
  } else {
    mkdirSync(path.slice(0, path.lastIndexOf("/")) || "/", { recursive: true, mode: 0o755 });
    writeFileSync(path, "", { mode: 0o644 });
  }
}

/** The device nodes every container gets, as in Docker. */
const DEVICES: [name: string, major: number, minor: number][] = [
  ["null", 1, 3], ["zero", 1, 5], ["full", 1, 7], ["random", 1, 8], ["urandom", 1, 9], ["tty", 5, 0],
];
const DEV_LINKS: [name: string, target: string][] = [
  ["fd", "/proc/self/fd"], ["stdin", "/proc/self/fd/0"], ["stdout", "/proc/self/fd/1"],
  ["stderr", "/proc/self/fd/2"], ["ptmx", "pts/ptmx"], ["core", "/proc/kcore"],
];

function createDevices(dev: string, sys: Sys, userns = false) {
  for (const [name, major, minor] of DEVICES) {
    const path = `${dev}/${name}`;
    if (existsSync(path)) continue;
    if (userns) {
      // No mknod in a user namespace: bind the host's node, as runc does.
      writeFileSync(path, "", { mode: 0o666 });
      sys.mount(`/dev/${name}`, path, null, MS.BIND);
      continue;
    }
    sys.mknod(path, S_IFCHR | 0o666, makedev(major, minor));
    chmodIfReal(path, 0o666);
  }
  for (const [name, target] of DEV_LINKS) {
    if (name === "core" && !existsSync("/proc/kcore")) continue;
    try {
      symlinkSync(target, `${dev}/${name}`);
    } catch (err) {
      if (errnoCode(err) !== "EEXIST") throw err;
    }
  }
}

/**
 * Open a pseudo-terminal in the container's own devpts (so it is
 * /dev/pts/N inside, as with Docker), make its slave this process's
 * stdin, stdout, stderr and controlling terminal, and hand the master to
 * the monitor. Returns the slave's host path.
 */
function openTerminal(devpts: string, size: [number, number] | undefined, sys: Sys): string {
  const master = openSync(`${devpts}/ptmx`, constants.O_RDWR | constants.O_NOCTTY);
  const n = sys.ptyUnlock(master);
  if (size && size[0] > 0 && size[1] > 0) sys.setWindowSize(master, size[0], size[1]);
  const path = `${devpts}/${n}`;
  const slave = openSync(path, constants.O_RDWR);
  for (const fd of [0, 1, 2]) sys.dup2(slave, fd);
  closeSync(slave);
  sys.setControllingTerminal(0);
  sys.sendFd(CONSOLE_FD, master);
  closeSync(master);
  closeSync(CONSOLE_FD);
  return path;
}

/** An extra device node (--device, --privileged), with the host node's owner and mode; one already there stays. */
function makeDevice(root: string, d: DeviceNode, sys: Sys) {
  const path = resolveInRoot(root, d.path);
  if (existsSync(path)) return;
  mkdirSync(path.slice(0, path.lastIndexOf("/")) || "/", { recursive: true, mode: 0o755 });
  try {
    sys.mknod(path, (d.type === "b" ? S_IFBLK : S_IFCHR) | d.mode, devNumber(d.major, d.minor));
  } catch (err) {
    if (!(err instanceof SysError && err.code === "EPERM" && d.hostPath)) {
      throw new StartError(`error creating device node ${d.path} (${d.type} ${d.major}:${d.minor}): ${describe(err)}`, 125);
    }
    // No mknod here (a user namespace): the host's node, bound onto an empty file.
    writeFileSync(path, "", { mode: 0o644 });
    sys.mount(d.hostPath, path, null, MS.BIND);
    return;
  }
  chmodIfReal(path, d.mode);
  try {
    chownSync(path, d.uid, d.gid);
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") throw err;
  }
}

/** glibc's makedev: a dev_t for any major and minor. */
function devNumber(major: number, minor: number): number {
  const M = BigInt(major);
  const m = BigInt(minor);
  return Number(((M & 0xfffn) << 8n) | ((M & ~0xfffn) << 32n) | (m & 0xffn) | ((m & ~0xffn) << 12n));
}

/** mknod honours the umask; under the fake there is no node to chmod. */
function chmodIfReal(path: string, mode: number) {
  try {
    chmodSync(path, mode);
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") throw err;
  }
}

/** pivot_root(".", ".") then detach the old root stacked on top: no put_old directory needed. */
function pivotInto(rootfs: string, sys: Sys) {
  sys.chdir(rootfs);
  sys.pivotRoot(".", ".");
  sys.mount(null, ".", null, MS.SLAVE | MS.REC);
  sys.umount(".", MNT_DETACH);
  sys.chdir("/");
}

/** Hide a path: /dev/null over a file, an empty read-only tmpfs over a directory. */
function maskPath(root: string, path: string, sys: Sys) {
  const host = root === "/" ? path : `${root}${path}`;
  let isDir: boolean;
  try {
    isDir = statSync(host).isDirectory();
  } catch {
    return; // nothing to hide
  }
  if (isDir) sys.mount("tmpfs", host, "tmpfs", MS.RDONLY, null);
  else sys.mount(root === "/" ? "/dev/null" : `${root}/dev/null`, host, null, MS.BIND);
}

function readonlyPath(root: string, path: string, sys: Sys) {
  const host = root === "/" ? path : `${root}${path}`;
  if (!existsSync(host)) return;
  sys.mount(host, host, null, MS.BIND | MS.REC);
  sys.mount(null, host, null, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
}

// ---------------------------------------------------------------- exec

/**
 * Find the command as execve will, with Docker's exit codes for failures.
 * Paths are container paths; `root` maps them to where they are now.
 */
export function lookPath(root: string, command: string, env: string[], containerCwd: string): string {
  if (command === "") throw new StartError("no command specified", 125);
  const absolute = (p: string) => (p.startsWith("/") ? p : `${containerCwd}/${p}`);
  const host = (p: string) => (root === "/" ? absolute(p) : resolveInRoot(root, absolute(p)));
  if (command.includes("/")) {
    checkExecutable(host(command), command);
    return command;
  }
  const pathVar = env.findLast((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
  for (const dir of pathVar.split(":")) {
    const candidate = `${dir || "."}/${command}`;
    try {
      if (statSync(host(candidate)).isFile()) {
        accessSync(host(candidate), constants.X_OK);
        return candidate;
      }
    } catch {
      // not here: keep looking
    }
  }
  throw new StartError(`exec: "${command}": executable file not found in $PATH`, 127);
}

function checkExecutable(host: string, command: string) {
  let st;
  try {
    st = statSync(host);
  } catch {
    throw new StartError(`exec: "${command}": stat ${command}: no such file or directory`, 127);
  }
  if (st.isDirectory()) throw new StartError(`exec: "${command}": is a directory`, 126);
  try {
    accessSync(host, constants.X_OK);
  } catch {
    throw new StartError(`exec: "${command}": permission denied`, 126);
  }
}

// ---------------------------------------------------------------- helpers

function readOr(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function withStartError<T>(code: number, fn: () => T, context?: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof StartError) throw err;
    throw new StartError(context ? `${context}: ${describe(err)}` : describe(err), code);
  }
}

export function describe(err: unknown): string {
  if (err instanceof BerthError || err instanceof SysError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

export { CAPABILITIES };
