// Isolation: turn a sandbox description into a running, isolated process.
// The `namespaces` plugin implements it with Linux namespaces and pivot_root.

export interface MountSpec {
  /** "bind" (source is a host path) or a filesystem type such as "tmpfs" or "cgroup". */
  type: string;
  source: string;
  /** Absolute path inside the container. */
  destination: string;
  /** mount(8)-style options: "ro", "nosuid", "size=64m", "rbind", ... */
  options: string[];
}

export interface Rlimit {
  /** Lower-case name without the RLIMIT_ prefix: "nofile", "nproc", ... */
  type: string;
  soft: number;
  hard: number;
}

/** One comparison of a syscall argument (Docker's and the OCI spec's seccomp args). */
export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  /** SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT or _MASKED_EQ (value is the mask, valueTwo the value). */
  op: string;
}

/**
 * A seccomp filter as the OCI runtime spec has it: a Docker profile with its
 * includes/excludes already resolved for the process's capabilities, this
 * architecture and kernel. Rules apply in order of specificity, as libseccomp
 * orders them; a syscall name the kernel does not know is skipped.
 */
export interface SeccompConfig {
  /** SCMP_ACT_ALLOW, _ERRNO, _KILL, _KILL_PROCESS, _KILL_THREAD, _TRAP, _TRACE or _LOG. */
  defaultAction: string;
  /** The errno of SCMP_ACT_ERRNO/_TRACE as the default action (EPERM when absent). */
  defaultErrnoRet?: number;
  /** SCMP_ARCH_* the filter accepts (the native one always); others are killed. */
  architectures: string[];
  /** SECCOMP_FILTER_FLAG_LOG and _SPEC_ALLOW (TSYNC is always used). */
  flags: string[];
  syscalls: { names: string[]; action: string; errnoRet?: number; args?: SeccompArg[] }[];
}

export interface ProcessSpec {
  args: string[];
  env: string[];
  /** Working directory inside the container; created when missing, as Docker does. */
  cwd: string;
  /** "name", "uid", "name:group" or "uid:gid", resolved in the container's /etc/passwd and /etc/group. */
  user: string;
  /** Capability names without CAP_ ("CHOWN", "NET_RAW", ...). */
  capabilities: string[];
  /** prctl(PR_SET_NO_NEW_PRIVS): execve cannot grant privileges (setuid bits, file capabilities). */
  noNewPrivileges: boolean;
  /**
   * The seccomp filter, loaded last before execve (before the capabilities
   * are dropped unless noNewPrivileges, as runc does); absent: none.
   */
  seccomp?: SeccompConfig;
  rlimits: Rlimit[];
  /** stdin is a terminal: the process becomes its session leader and controlling process. */
  terminal: boolean;
  /** The terminal's size before the process starts (Docker's ConsoleSize: rows, columns). */
  consoleSize?: [number, number];
}

/** A device node made in the container's /dev (--device, --privileged's host devices). */
export interface DeviceNode {
  /** Absolute path inside the container, under /dev. */
  path: string;
  type: "c" | "b";
  major: number;
  minor: number;
  /** Permission bits. */
  mode: number;
  uid: number;
  gid: number;
  /** The host's node: bound in where mknod is not allowed (in a user namespace), as runc does. */
  hostPath?: string;
}

export interface SandboxSpec {
  id: string;
  /** Host path of the prepared root filesystem. */
  rootfs: string;
  hostname: string;
  readonlyRootfs: boolean;
  /**
   * Mounted in order, after the root filesystem is bound onto itself.
   * Mounts with "ro" are made read-only once all are in place, so that
   * mount points can still be created under them.
   */
  mounts: MountSpec[];
  maskedPaths: string[];
  readonlyPaths: string[];
  /** Device nodes made once /dev is mounted, besides the standard ones (null, zero, tty...). */
  devices?: DeviceNode[];
  /** Network namespace to join (a bind-mounted nsfs file); absent shares the host's. */
  netnsPath?: string;
  /**
   * cgroup files the process writes "0" to, to join its cgroup before
   * anything else; it then enters a private cgroup namespace.
   */
  cgroupJoin: string[];
  /**
   * A file pinning the user namespace to run in (--userns-remap): the
   * container's other namespaces are made inside it, the network namespace
   * and the cgroup are joined before it is entered.
   */
  userns?: string;
  process: ProcessSpec;
}

export interface ExitStatus {
  /** Docker's convention: the exit code, or 128 + signal number when killed by a signal. */
  code: number;
  signal?: string;
  /** Why the command could not run, when that became known only after it was started. */
  error?: string;
  finishedAt?: string;
}

/** Where a supervised process keeps its runtime state, and how its stdio works. */
export interface IoSpec {
  /** A short directory (unix socket paths are limited) for the monitor's sockets and exit record. */
  stateDir: string;
  /** A pseudo-terminal as stdin, stdout and stderr. */
  tty: boolean;
  /** Keep a stdin open for attach clients (else /dev/null, unless tty). */
  stdin: boolean;
  /** Close stdin when the first attach client that wrote to it leaves (Docker's StdinOnce). */
  stdinOnce: boolean;
  /** Log the output here in Docker's json-file format, rotated. */
  log?: { path: string; maxSize: number; maxFiles: number };
}

export interface AttachStreams {
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
}

/** The byte stream of an attach: output framed as Docker's stdcopy (raw with a tty); input goes to stdin. */
export type AttachStream = import("node:net").Socket;

/** A process run by a monitor that outlives the engine. */
export interface Supervised {
  /** Host PID of the process (a container's PID 1, or an exec'd process). */
  pid: number;
  monitorPid: number;
  exited: Promise<ExitStatus>;
  attach(streams: AttachStreams): Promise<AttachStream>;
  resize(rows: number, cols: number): void;
  closeStdin(): void;
  /** Kill the process and its monitor at once (a start cut short); resolves once the monitor is gone. */
  abort(): Promise<void>;
}

/** A process to run inside a running container (docker exec). */
export interface ExecTarget {
  /** Host PID of the container's PID 1, whose namespaces the process enters. */
  pid: number;
  /** cgroup files to join, as for the container. */
  cgroupJoin: string[];
}

export interface Isolation {
  /**
   * Start the sandbox's first process under a monitor. `beforeRun` runs
   * once the monitor is up and before the process starts, so attach clients
   * miss nothing. Resolves once the process has been exec'd; rejects with a
   * StartError (carrying Docker's exit code: 125 engine error, 126 cannot
   * execute, 127 not found) when it could not be.
   */
  start(spec: SandboxSpec, io: IoSpec, beforeRun?: (attach: Supervised["attach"]) => Promise<void>): Promise<Supervised>;
  /** Start a process in a running container's namespaces and cgroup (`beforeRun` as for start). */
  exec(target: ExecTarget, process: ProcessSpec, io: IoSpec, beforeRun?: (attach: Supervised["attach"]) => Promise<void>): Promise<Supervised>;
  /**
   * Reconnect to a process started before the engine restarted: its handle
   * if its monitor still runs, its exit status if it has ended, or undefined
   * when nothing is left to tell.
   */
  adopt(stateDir: string, pid: number): Supervised | ExitStatus | undefined;
  /** The daemon stops: release what the plugin holds for its lifetime (containers keep running). */
  release?(): void;
}
