// The real syscall layer: bun:ffi into glibc. Loaded lazily, on first use,
// so commands that never touch the kernel this way do not pay for dlopen.
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { SysError } from "../errors.ts";
import { ERRNO_NAMES, type Sys } from "./index.ts";

const { i32, i64, u32, u64 } = FFIType;
const P = FFIType.ptr;

function load() {
  return dlopen("libc.so.6", {
    __errno_location: { args: [], returns: P },
    mount: { args: [P, P, P, u64, P], returns: i32 },
    umount2: { args: [P, i32], returns: i32 },
    syscall: { args: [i64, P, P], returns: i64 },
    sethostname: { args: [P, u64], returns: i32 },
    setsid: { args: [], returns: i32 },
    setns: { args: [i32, i32], returns: i32 },
    unshare: { args: [i32], returns: i32 },
    capset: { args: [P, P], returns: i32 },
    prctl: { args: [i32, u64, u64, u64, u64], returns: i32 },
    signal: { args: [i32, u64], returns: i64 },
    setrlimit: { args: [i32, P], returns: i32 },
    setresuid: { args: [u32, u32, u32], returns: i32 },
    setresgid: { args: [u32, u32, u32], returns: i32 },
    setgroups: { args: [u64, P], returns: i32 },
    chdir: { args: [P], returns: i32 },
    mknod: { args: [P, u32, u64], returns: i32 },
    lsetxattr: { args: [P, P, P, u64, i32], returns: i32 },
    lgetxattr: { args: [P, P, P, u64], returns: i64 },
    llistxattr: { args: [P, P, u64], returns: i64 },
    lremovexattr: { args: [P, P], returns: i32 },
    fcntl: { args: [i32, i32, i32], returns: i32 },
    flock: { args: [i32, i32], returns: i32 },
    socket: { args: [i32, i32, i32], returns: i32 },
    socketpair: { args: [i32, i32, i32, P], returns: i32 },
    dup2: { args: [i32, i32], returns: i32 },
    sendmsg: { args: [i32, P, i32], returns: i64 },
    ioctl: { args: [i32, u64, P], returns: i32 },
    close: { args: [i32], returns: i32 },
    execve: { args: [P, P, P], returns: i32 },
  }).symbols;
}

let lib: ReturnType<typeof load> | undefined;
const libc = () => (lib ??= load());

// syscall(2) with four arguments, for openat2 (the one above takes two).
let lib4: { syscall: (nr: number, a: number, b: Buffer, c: BigUint64Array, d: number) => number | bigint } | undefined;
const libc4 = () =>
  (lib4 ??= dlopen("libc.so.6", { syscall: { args: [i64, i64, P, P, u64], returns: i64 } }).symbols as unknown as NonNullable<typeof lib4>);
const SYS_openat2 = 437;
// syscall(2) as seccomp(2) takes it: op, flags, a pointer.
let libSeccomp: { syscall: (nr: number, op: number, flags: number, prog: Uint8Array) => number | bigint } | undefined;
const libcSeccomp = () =>
  (libSeccomp ??= dlopen("libc.so.6", { syscall: { args: [i64, i64, i64, P], returns: i64 } }).symbols as unknown as NonNullable<typeof libSeccomp>);
const SYS_seccomp = 317;
const SECCOMP_SET_MODE_FILTER = 1;
/** struct open_how { u64 flags, mode, resolve }, reused: calls are synchronous. */
const openHow = new BigUint64Array(3);

/** A NUL-terminated copy of a string, for passing as `char *`. */
const cstr = (s: string) => Buffer.from(`${s}\0`);
const cstrOrNull = (s: string | null | undefined) => (s == null ? null : cstr(s));

function fail(call: string, subject?: string): never {
  const errno = read.i32(libc().__errno_location()!, 0);
  throw new SysError(call, errno, ERRNO_NAMES[errno] ?? `errno ${errno}`, subject);
}

function check(rc: number | bigint, call: string, subject?: string) {
  if (Number(rc) < 0) fail(call, subject);
}

const SYS_pivot_root = 155;
const PR_SET_KEEPCAPS = 8;
const PR_CAPBSET_DROP = 24;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_SET_DUMPABLE = 4;
const SIG_DFL = 0;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;
const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const TIOCSCTTY = 0x540e;
const TIOCGPTN = 0x80045430;
const TIOCSPTLCK = 0x40045431;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const IFF_UP = 0x1;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const _LINUX_CAPABILITY_VERSION_3 = 0x20080522;

/** One buffer for xattr reads: allocating 64 KiB per call halves archiving speed on small files. */
const xattrBuffer = new Uint8Array(65536);

export const libcSys: Sys = {
  mount(source, target, fstype, flags, data) {
    const rc = libc().mount(cstrOrNull(source), cstr(target), cstrOrNull(fstype), flags, cstrOrNull(data));
    check(rc, "mount", `${source ?? "none"} on ${target}${fstype ? ` (${fstype})` : ""}`);
  },
  umount(target, flags = 0) {
    check(libc().umount2(cstr(target), flags), "umount", target);
  },
  pivotRoot(newRoot, putOld) {
    check(libc().syscall(SYS_pivot_root, cstr(newRoot), cstr(putOld)), "pivot_root", newRoot);
  },
  sethostname(name) {
    const b = Buffer.from(name);
    check(libc().sethostname(b, b.length), "sethostname", name);
  },
  setsid() {
    check(libc().setsid(), "setsid");
  },
  setns(fd, nstype) {
    check(libc().setns(fd, nstype), "setns");
  },
  unshare(flags) {
    check(libc().unshare(flags), "unshare");
  },
  capset(effective, permitted, inheritable) {
    const header = new Uint32Array([_LINUX_CAPABILITY_VERSION_3, 0]);
    const lo = (m: bigint) => Number(m & 0xffffffffn);
    const hi = (m: bigint) => Number((m >> 32n) & 0xffffffffn);
    // Two __user_cap_data_struct {effective, permitted, inheritable}: low then high 32 bits.
    const data = new Uint32Array([
      lo(effective), lo(permitted), lo(inheritable),
      hi(effective), hi(permitted), hi(inheritable),
    ]);
    check(libc().capset(header, data), "capset");
  },
  capbsetDrop(cap) {
    check(libc().prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "prctl(PR_CAPBSET_DROP)", String(cap));
  },
  capAmbientClearAll() {
    check(libc().prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "prctl(PR_CAP_AMBIENT)");
  },
  setKeepCaps(on) {
    check(libc().prctl(PR_SET_KEEPCAPS, on ? 1 : 0, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)");
  },
  setNoNewPrivs() {
    check(libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
  },
  setDumpable(on) {
    check(libc().prctl(PR_SET_DUMPABLE, on ? 1 : 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)");
  },
  defaultSignal(signal) {
    // SIG_ERR is -1.
    if (Number(libc().signal(signal, SIG_DFL)) === -1) fail("signal", String(signal));
  },
  seccompLoad(program, flags) {
    // struct sock_fprog { unsigned short len; struct sock_filter *filter; }: the filter stays referenced until the call returns.
    const fprog = new Uint8Array(16);
    const v = new DataView(fprog.buffer);
    v.setUint16(0, program.length / 8, true);
    v.setBigUint64(8, BigInt(ptr(program)), true);
    check(libcSeccomp().syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, fprog), "seccomp(SECCOMP_SET_MODE_FILTER)");
  },
  setrlimit(resource, soft, hard) {
    check(libc().setrlimit(resource, new BigUint64Array([soft, hard])), "setrlimit", String(resource));
  },
  setresuid(r, e, s) {
    check(libc().setresuid(r, e, s), "setresuid", String(e));
  },
  setresgid(r, e, s) {
    check(libc().setresgid(r, e, s), "setresgid", String(e));
  },
  setgroups(gids) {
    const list = new Uint32Array(gids.length > 0 ? gids : [0]);
    check(libc().setgroups(gids.length, list), "setgroups");
  },
  chdir(path) {
    check(libc().chdir(cstr(path)), "chdir", path);
  },
  mknod(path, mode, dev) {
    check(libc().mknod(cstr(path), mode, dev), "mknod", path);
  },
  lsetxattr(path, name, value) {
    const v = value.length > 0 ? value : new Uint8Array(1);
    check(libc().lsetxattr(cstr(path), cstr(name), v, value.length, 0), "lsetxattr", `${name} on ${path}`);
  },
  lgetxattr(path, name) {
    const buf = xattrBuffer;
    const n = Number(libc().lgetxattr(cstr(path), cstr(name), buf, buf.length));
    if (n < 0) {
      const errno = read.i32(libc().__errno_location()!, 0);
      if (ERRNO_NAMES[errno] === "ENODATA") return null;
      fail("lgetxattr", `${name} on ${path}`);
    }
    return buf.slice(0, n);
  },
  llistxattr(path) {
    const buf = xattrBuffer;
    const n = Number(libc().llistxattr(cstr(path), buf, buf.length));
    if (n < 0) {
      const errno = read.i32(libc().__errno_location()!, 0);
      if (ERRNO_NAMES[errno] === "EOPNOTSUPP") return [];
      fail("llistxattr", path);
    }
    return new TextDecoder().decode(buf.subarray(0, n)).split("\0").filter(Boolean);
  },
  lremovexattr(path, name) {
    if (libc().lremovexattr(cstr(path), cstr(name)) < 0) {
      const errno = read.i32(libc().__errno_location()!, 0);
      if (ERRNO_NAMES[errno] === "ENODATA") return;
      fail("lremovexattr", `${name} on ${path}`);
    }
  },
  setControllingTerminal(fd) {
    check(libc().ioctl(fd, TIOCSCTTY, null), "ioctl(TIOCSCTTY)", `fd ${fd}`);
  },
  dup2(fd, target) {
    check(libc().dup2(fd, target), "dup2", `${fd} -> ${target}`);
  },
  setWindowSize(fd, rows, cols) {
    const TIOCSWINSZ = 0x5414;
    const ws = new Uint16Array([rows, cols, 0, 0]); // struct winsize: row, col, xpixel, ypixel
    check(libc().ioctl(fd, TIOCSWINSZ, ws), "ioctl(TIOCSWINSZ)", `fd ${fd}`);
  },
  ptyUnlock(master) {
    const arg = new Int32Array(1);
    check(libc().ioctl(master, TIOCSPTLCK, arg), "ioctl(TIOCSPTLCK)", `fd ${master}`);
    check(libc().ioctl(master, TIOCGPTN, arg), "ioctl(TIOCGPTN)", `fd ${master}`);
    return arg[0]!;
  },
  sendFd(socket, fd) {
    const SOL_SOCKET = 1;
    const SCM_RIGHTS = 1;
    const data = new Uint8Array([0]); // a stream socket needs at least one byte
    const iov = new BigUint64Array([BigInt(ptr(data)), 1n]);
    const control = new Uint8Array(24); // CMSG_SPACE(sizeof(int))
    const cv = new DataView(control.buffer);
    cv.setBigUint64(0, 20n, true); // cmsg_len = CMSG_LEN(sizeof(int))
    cv.setInt32(8, SOL_SOCKET, true);
    cv.setInt32(12, SCM_RIGHTS, true);
    cv.setInt32(16, fd, true);
    const msg = new Uint8Array(56); // struct msghdr
    const mv = new DataView(msg.buffer);
    mv.setBigUint64(16, BigInt(ptr(iov)), true);
    mv.setBigUint64(24, 1n, true);
    mv.setBigUint64(32, BigInt(ptr(control)), true);
    mv.setBigUint64(40, BigInt(control.length), true);
    check(libc().sendmsg(socket, msg, 0), "sendmsg(SCM_RIGHTS)", `fd ${fd} over ${socket}`);
  },
  socketpair() {
    const AF_UNIX = 1;
    const SOCK_STREAM = 1;
    const fds = new Int32Array(2);
    check(libc().socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), "socketpair");
    return [fds[0]!, fds[1]!];
  },
  tryLock(fd) {
    const LOCK_EX = 2;
    const LOCK_NB = 4;
    if (libc().flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
    const errno = read.i32(libc().__errno_location()!, 0);
    if (ERRNO_NAMES[errno] === "EAGAIN") return false;
    fail("flock", `fd ${fd}`);
  },
  setCloexec(fd, on) {
    const flags = libc().fcntl(fd, F_GETFD, 0);
    check(flags, "fcntl(F_GETFD)", `fd ${fd}`);
    check(libc().fcntl(fd, F_SETFD, on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC), "fcntl(F_SETFD)", `fd ${fd}`);
  },
  linkUp(ifname) {
    const fd = libc().socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    check(fd, "socket");
    try {
      const ifreq = new Uint8Array(40); // struct ifreq: char name[16]; short flags; ...
      ifreq.set(Buffer.from(ifname).subarray(0, 15));
      check(libc().ioctl(fd, SIOCGIFFLAGS, ifreq), "ioctl(SIOCGIFFLAGS)", ifname);
      const view = new DataView(ifreq.buffer);
      view.setInt16(16, view.getInt16(16, true) | IFF_UP, true);
      check(libc().ioctl(fd, SIOCSIFFLAGS, ifreq), "ioctl(SIOCSIFFLAGS)", ifname);
    } finally {
      libc().close(fd);
    }
  },
  openat2(dirfd, path, flags, mode, resolve) {
    openHow[0] = BigInt(flags);
    openHow[1] = BigInt(mode);
    openHow[2] = BigInt(resolve);
    const fd = Number(libc4().syscall(SYS_openat2, dirfd, cstr(path), openHow, 24));
    if (fd < 0) fail("openat2", path);
    return fd;
  },
  execve(path, argv, envp) {
    // Keep every buffer referenced until the call returns.
    const strings = [...argv, ...envp].map(cstr);
    const table = (items: Buffer[]) => {
      const t = new BigUint64Array(items.length + 1);
      items.forEach((b, i) => (t[i] = BigInt(ptr(b))));
      return t;
    };
    const argvTable = table(strings.slice(0, argv.length));
    const envTable = table(strings.slice(argv.length));
    libc().execve(cstr(path), argvTable, envTable);
    fail("exec", path);
  },
};
