// The syscall layer: every kernel call that node:fs cannot make goes through
// this one interface. `libc.ts` is the real implementation (bun:ffi into
// libc); `fake.ts` records calls for unit tests of the logic above it.
//
// Credentials, capabilities, namespaces and seccomp are per thread in Linux:
// call these from the JS main thread, and execve from it.

export interface Sys {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data?: string | null): void;
  umount(target: string, flags?: number): void;
  pivotRoot(newRoot: string, putOld: string): void;
  sethostname(name: string): void;
  /** Start a new session (and process group) led by the caller. */
  setsid(): void;
  setns(fd: number, nstype: number): void;
  unshare(flags: number): void;
  /** Set the effective, permitted and inheritable capability sets (64-bit masks). */
  capset(effective: bigint, permitted: bigint, inheritable: bigint): void;
  /** Drop one capability from the bounding set. */
  capbsetDrop(cap: number): void;
  /** Clear the ambient capability set. */
  capAmbientClearAll(): void;
  setKeepCaps(on: boolean): void;
  setNoNewPrivs(): void;
  /** prctl(PR_SET_DUMPABLE): a non-dumpable process's /proc files (exe, mem, fd) are closed to processes without CAP_SYS_PTRACE. */
  setDumpable(on: boolean): void;
  /** Restore a signal's default disposition (an ignored one would survive execve). */
  defaultSignal(signal: number): void;
  /** seccomp(SECCOMP_SET_MODE_FILTER): install a classic BPF program (struct sock_filter[]) with SECCOMP_FILTER_FLAG_* flags. */
  seccompLoad(program: Uint8Array, flags: number): void;
  setrlimit(resource: number, soft: bigint, hard: bigint): void;
  setresuid(ruid: number, euid: number, suid: number): void;
  setresgid(rgid: number, egid: number, sgid: number): void;
  setgroups(gids: number[]): void;
  chdir(path: string): void;
  mknod(path: string, mode: number, dev: number): void;
  lsetxattr(path: string, name: string, value: Uint8Array): void;
  lgetxattr(path: string, name: string): Uint8Array | null;
  /** Names of a path's extended attributes (the link itself, not its target). */
  llistxattr(path: string): string[];
  /** Remove an extended attribute of a path (the link itself); a missing one is not an error. */
  lremovexattr(path: string, name: string): void;
  /** Make the terminal on `fd` the caller's controlling terminal (the caller leads a session). */
  setControllingTerminal(fd: number): void;
  /** Duplicate `fd` onto `target` (dup2). */
  dup2(fd: number, target: number): void;
  /** Set a terminal's window size (TIOCSWINSZ). */
  setWindowSize(fd: number, rows: number, cols: number): void;
  /** Unlock a pseudo-terminal master and return its slave's number (/dev/pts/N). */
  ptyUnlock(master: number): number;
  /** Send an open file descriptor over a unix socket (SCM_RIGHTS). */
  sendFd(socket: number, fd: number): void;
  /** A connected pair of unix stream sockets, both close-on-exec. */
  socketpair(): [number, number];
  /** Take an exclusive lock on an open file without waiting; false if another process holds it. */
  tryLock(fd: number): boolean;
  /** Set or clear FD_CLOEXEC on a descriptor. */
  setCloexec(fd: number, on: boolean): void;
  /** Bring a network interface up in the calling thread's network namespace. */
  linkUp(ifname: string): void;
  /**
   * openat2(2): open `path` relative to `dirfd` with `resolve` (RESOLVE_*)
   * restricting how it is looked up; returns the new descriptor. Throws a
   * SysError (ENOSYS before Linux 5.6).
   */
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  /** Replace the process image. Returns only by throwing a SysError. */
  execve(path: string, argv: string[], envp: string[]): never;
}

/** openat2's `resolve` flags (linux/openat2.h). */
export const RESOLVE = {
  NO_XDEV: 0x01,
  NO_MAGICLINKS: 0x02,
  NO_SYMLINKS: 0x04,
  BENEATH: 0x08,
  IN_ROOT: 0x10,
  CACHED: 0x20,
} as const;

// Linux constants (x86_64), named as in the kernel headers.
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  REMOUNT: 0x20,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  STRICTATIME: 0x1000000,
} as const;

export const MNT_DETACH = 0x2;

export const CLONE = {
  FS: 0x00000200,
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

export const RLIMIT: Record<string, number> = {
  cpu: 0, fsize: 1, data: 2, stack: 3, core: 4, rss: 5, nproc: 6, nofile: 7,
  memlock: 8, as: 9, locks: 10, sigpending: 11, msgqueue: 12, nice: 13, rtprio: 14, rttime: 15,
};
export const RLIM_INFINITY = 0xffffffffffffffffn;

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const makedev = (major: number, minor: number) => (major << 8) | minor;

// errno numbers for x86_64, for turning a failed call into a SysError code.
export const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 7: "E2BIG", 8: "ENOEXEC", 9: "EBADF",
  11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 18: "EXDEV",
  19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 24: "EMFILE", 26: "ETXTBSY", 28: "ENOSPC",
  30: "EROFS", 34: "ERANGE", 36: "ENAMETOOLONG", 38: "ENOSYS", 39: "ENOTEMPTY", 40: "ELOOP", 61: "ENODATA",
  95: "EOPNOTSUPP", 99: "EADDRNOTAVAIL", 101: "ENETUNREACH", 105: "ENOBUFS",
};
