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

export interface ProcessSpec {
  args: string[];
  env: string[];
  /** Working directory inside the container; created when missing, as Docker does. */
  cwd: string;
  /** "name", "uid", "name:group" or "uid:gid", resolved in the container's /etc/passwd and /etc/group. */
  user: string;
  /** Capability names without CAP_ ("CHOWN", "NET_RAW", ...). */
  capabilities: string[];
  noNewPrivileges: boolean;
  rlimits: Rlimit[];
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
  /** Network namespace to join (a bind-mounted nsfs file); absent shares the host's. */
  netnsPath?: string;
  /**
   * cgroup files the process writes "0" to, to join its cgroup before
   * anything else; it then enters a private cgroup namespace.
   */
  cgroupJoin: string[];
  process: ProcessSpec;
}

export interface ExitStatus {
  /** Docker's convention: the exit code, or 128 + signal number when killed by a signal. */
  code: number;
  signal?: string;
  /** Why the command could not run, when that became known only after it was started. */
  error?: string;
}

export type StdioSpec = "inherit" | "ignore" | number;

export interface ContainerProcess {
  /** Host PID of the container's PID 1. */
  pid: number;
  exited: Promise<ExitStatus>;
}

export interface Isolation {
  /**
   * Start the sandbox's first process. Resolves once the process has been
   * exec'd; rejects with a StartError (carrying Docker's exit code: 125
   * engine error, 126 cannot execute, 127 not found) when it could not be.
   */
  start(spec: SandboxSpec, stdio: [StdioSpec, StdioSpec, StdioSpec]): Promise<ContainerProcess>;
}
