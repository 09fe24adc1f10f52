// A recording fake of the syscall layer, for unit tests of logic only.
// Every call is appended to `calls`; `failOn` makes chosen calls throw.
import { SysError } from "../errors.ts";
import type { Sys } from "./index.ts";

export interface RecordedCall {
  call: keyof Sys;
  args: unknown[];
}

export class FakeSys implements Sys {
  readonly calls: RecordedCall[] = [];
  /** Make a call fail with an errno code when `match` returns true. */
  failOn: { call: keyof Sys; code: string; match?: (args: unknown[]) => boolean }[] = [];
  xattrs = new Map<string, Uint8Array>();

  private record(call: keyof Sys, args: unknown[]) {
    this.calls.push({ call, args });
    for (const f of this.failOn) {
      if (f.call === call && (!f.match || f.match(args))) throw new SysError(call, 0, f.code, String(args[0] ?? ""));
    }
  }
  /** The calls of one name, for assertions. */
  named(call: keyof Sys): unknown[][] {
    return this.calls.filter((c) => c.call === call).map((c) => c.args);
  }

  mount(...a: Parameters<Sys["mount"]>) { this.record("mount", a); }
  umount(...a: Parameters<Sys["umount"]>) { this.record("umount", a); }
  pivotRoot(...a: Parameters<Sys["pivotRoot"]>) { this.record("pivotRoot", a); }
  sethostname(...a: Parameters<Sys["sethostname"]>) { this.record("sethostname", a); }
  setsid() { this.record("setsid", []); }
  setns(...a: Parameters<Sys["setns"]>) { this.record("setns", a); }
  unshare(...a: Parameters<Sys["unshare"]>) { this.record("unshare", a); }
  capset(...a: Parameters<Sys["capset"]>) { this.record("capset", a); }
  capbsetDrop(...a: Parameters<Sys["capbsetDrop"]>) { this.record("capbsetDrop", a); }
  capAmbientClearAll() { this.record("capAmbientClearAll", []); }
  setKeepCaps(...a: Parameters<Sys["setKeepCaps"]>) { this.record("setKeepCaps", a); }
  setNoNewPrivs() { this.record("setNoNewPrivs", []); }
  setDumpable(...a: Parameters<Sys["setDumpable"]>) { this.record("setDumpable", a); }
  defaultSignal(...a: Parameters<Sys["defaultSignal"]>) { this.record("defaultSignal", a); }
  seccompLoad(...a: Parameters<Sys["seccompLoad"]>) { this.record("seccompLoad", a); }
  setrlimit(...a: Parameters<Sys["setrlimit"]>) { this.record("setrlimit", a); }
  setresuid(...a: Parameters<Sys["setresuid"]>) { this.record("setresuid", a); }
  setresgid(...a: Parameters<Sys["setresgid"]>) { this.record("setresgid", a); }
  setgroups(...a: Parameters<Sys["setgroups"]>) { this.record("setgroups", a); }
  chdir(...a: Parameters<Sys["chdir"]>) { this.record("chdir", a); }
  mknod(...a: Parameters<Sys["mknod"]>) { this.record("mknod", a); }
  lsetxattr(path: string, name: string, value: Uint8Array) {
    this.record("lsetxattr", [path, name, value]);
    this.xattrs.set(`${path}\0${name}`, value);
  }
  lgetxattr(path: string, name: string) {
    this.record("lgetxattr", [path, name]);
    return this.xattrs.get(`${path}\0${name}`) ?? null;
  }
  llistxattr(path: string) {
    this.record("llistxattr", [path]);
    return [...this.xattrs.keys()].filter((k) => k.startsWith(`${path}\0`)).map((k) => k.slice(path.length + 1));
  }
  lremovexattr(path: string, name: string) {
    this.record("lremovexattr", [path, name]);
    this.xattrs.delete(`${path}\0${name}`);
  }
  setControllingTerminal(...a: Parameters<Sys["setControllingTerminal"]>) { this.record("setControllingTerminal", a); }
  dup2(...a: Parameters<Sys["dup2"]>) { this.record("dup2", a); }
  setWindowSize(...a: Parameters<Sys["setWindowSize"]>) { this.record("setWindowSize", a); }
  ptyUnlock(...a: Parameters<Sys["ptyUnlock"]>) {
    this.record("ptyUnlock", a);
    return 0;
  }
  sendFd(...a: Parameters<Sys["sendFd"]>) { this.record("sendFd", a); }
  socketpair(): [number, number] {
    this.record("socketpair", []);
    return [100, 101];
  }
  tryLock(fd: number) {
    this.record("tryLock", [fd]);
    return true;
  }
  setCloexec(...a: Parameters<Sys["setCloexec"]>) { this.record("setCloexec", a); }
  linkUp(...a: Parameters<Sys["linkUp"]>) { this.record("linkUp", a); }
  openat2(...a: Parameters<Sys["openat2"]>) {
    this.record("openat2", a);
    return 100;
  }
  execve(path: string, argv: string[], envp: string[]): never {
    this.record("execve", [path, argv, envp]);
    throw new FakeExec(path, argv, envp);
  }
}

/** Thrown by FakeSys.execve so the code under test stops where a real exec would. */
export class FakeExec extends Error {
  constructor(readonly path: string, readonly argv: string[], readonly envp: string[]) {
    super(`exec ${path}`);
  }
}
