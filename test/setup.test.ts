// The container init's sequence, checked against the recording fake of
// the syscall layer (no kernel needed): what is mounted, in which order,
// which capabilities survive, which user it becomes.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync } from "node:fs";
import { DEFAULT_CAPABILITIES } from "../core/caps.ts";
import type { SandboxSpec } from "../core/contracts/isolation.ts";
import { StartError } from "../core/errors.ts";
import { FakeSys } from "../core/sys/fake.ts";
import { CLONE, MS } from "../core/sys/index.ts";
import { lookPath, parseMountOptions, setupContainer } from "../plugins/isolation/namespaces/setup.ts";

let rootfs: string;
beforeAll(() => {
  rootfs = mkdtempSync("/tmp/berth-setup-");
  for (const d of ["bin", "etc", "proc", "dev", "sys", "tmp"]) mkdirSync(`${rootfs}/${d}`);
  writeFileSync(`${rootfs}/bin/busybox`, "#!/bin/sh\n");
  chmodSync(`${rootfs}/bin/busybox`, 0o755);
  symlinkSync("busybox", `${rootfs}/bin/sh`);
  writeFileSync(`${rootfs}/etc/passwd`, "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
  writeFileSync(`${rootfs}/etc/group`, "root:x:0:\nwheel:x:10:app\napp:x:1000:\n");
  symlinkSync("/etc", `${rootfs}/evil`);
});
afterAll(() => rmSync(rootfs, { recursive: true, force: true }));

const spec = (over: Partial<SandboxSpec> = {}, proc: Partial<SandboxSpec["process"]> = {}): SandboxSpec => ({
  id: "c1",
  rootfs,
  hostname: "box",
  readonlyRootfs: false,
  mounts: [
    { type: "proc", source: "proc", destination: "/proc", options: ["nosuid", "noexec", "nodev"] },
    { type: "sysfs", source: "sysfs", destination: "/sys", options: ["nosuid", "ro"] },
  ],
  maskedPaths: [],
  readonlyPaths: [],
  cgroupJoin: [],
  ...over,
  process: { args: ["sh", "-c", "true"], env: ["PATH=/bin"], cwd: "/", user: "", capabilities: DEFAULT_CAPABILITIES, noNewPrivileges: false, rlimits: [], terminal: false, ...proc },
});

const opts = { newRoot: "", capLastCap: 40 };
const run = (s: SandboxSpec) => {
  const sys = new FakeSys();
  const target = setupContainer(s, sys, { ...opts, newRoot: rootfs });
  return { sys, target };
};

describe("container setup sequence", () => {
  test("new session first, rootfs bound onto itself, then mounts, then pivot_root", () => {
    const { sys } = run(spec());
    const names = sys.calls.map((c) => c.call);
    expect(names[0]).toBe("setsid");
    expect(sys.calls[1]).toEqual({ call: "mount", args: [rootfs, rootfs, null, MS.BIND | MS.REC] });
    const pivot = names.indexOf("pivotRoot");
    const proc = sys.calls.findIndex((c) => c.call === "mount" && c.args[2] === "proc");
    expect(proc).toBeGreaterThan(1);
    expect(proc).toBeLessThan(pivot);
    expect(sys.named("pivotRoot")).toEqual([[".", "."]]);
    expect(sys.named("umount")[0]).toEqual([".", 2]);
    expect(sys.named("sethostname")).toEqual([["box"]]);
  });

  test("read-only mounts are mounted writable, then remounted read-only at the end", () => {
    const { sys } = run(spec());
    const mounts = sys.named("mount");
    expect(mounts).toContainEqual(["sysfs", `${rootfs}/sys`, "sysfs", MS.NOSUID, null]);
    expect(mounts).toContainEqual([null, `${rootfs}/sys`, null, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID]);
  });

  test("mount destinations resolve symlinks inside the root", () => {
    const { sys } = run(spec({ mounts: [{ type: "tmpfs", source: "tmpfs", destination: "/evil/x", options: [] }] }));
    expect(sys.named("mount")).toContainEqual(["tmpfs", `${rootfs}/etc/x`, "tmpfs", 0, null]);
  });

  test("joining a cgroup is followed by a private cgroup namespace", () => {
    const procs = `${rootfs}/tmp/cgroup.procs`;
    writeFileSync(procs, "");
    const { sys } = run(spec({ cgroupJoin: [procs] }));
    expect(sys.named("unshare")).toEqual([[CLONE.NEWCGROUP]]);
  });

  test("bounding set keeps exactly the requested capabilities; root keeps them effective", () => {
    const { sys } = run(spec());
    const dropped = sys.named("capbsetDrop").map((a) => a[0]);
    expect(dropped).toHaveLength(41 - DEFAULT_CAPABILITIES.length);
    expect(dropped).not.toContain(0); // CHOWN kept
    expect(dropped).toContain(21); // SYS_ADMIN dropped
    expect(sys.named("capset")).toEqual([[0xa80425fbn, 0xa80425fbn, 0n]]);
  });

  test("a named user gets its ids, supplementary groups and home; no capset", () => {
    const { sys, target } = run(spec({}, { user: "app" }));
    expect(sys.named("setgroups")).toEqual([[[10]]]);
    expect(sys.named("setresgid")).toEqual([[1000, 1000, 1000]]);
    expect(sys.named("setresuid")).toEqual([[1000, 1000, 1000]]);
    expect(sys.named("capset")).toEqual([]);
    expect(target.env).toContain("HOME=/home/app");
  });

  test("the command is found on PATH inside the root", () => {
    expect(run(spec()).target.path).toBe("/bin/sh");
  });

  test("seccomp: without no_new_privs the filter goes in before the capabilities are dropped; with it, last", () => {
    const seccomp = { program: new Uint8Array(8), flags: 1 };
    const sys = new FakeSys();
    setupContainer(spec(), sys, { ...opts, newRoot: rootfs, seccomp });
    const names = sys.calls.map((c) => c.call);
    expect(sys.named("seccompLoad")).toEqual([[seccomp.program, 1]]);
    expect(names.indexOf("seccompLoad")).toBeLessThan(names.indexOf("capbsetDrop"));
    expect(names).not.toContain("setNoNewPrivs");
    const nnp = new FakeSys();
    setupContainer(spec({}, { noNewPrivileges: true }), nnp, { ...opts, newRoot: rootfs, seccomp });
    const after = nnp.calls.map((c) => c.call);
    expect(after.slice(-2)).toEqual(["setNoNewPrivs", "seccompLoad"]);
  });

  test("device nodes are made after the mounts; where mknod is refused, the host's node is bound in", () => {
    const loop = { path: "/dev/x/loop7", type: "b" as const, major: 7, minor: 300, mode: 0o660, uid: 0, gid: 6, hostPath: "/dev/loop7" };
    const { sys } = run(spec({ devices: [loop] }));
    expect(sys.named("mknod")).toContainEqual([`${rootfs}/dev/x/loop7`, 0o060660, (7 << 8) | (300 & 0xff) | ((300 & ~0xff) << 12)]);
    const denied = new FakeSys();
    denied.failOn.push({ call: "mknod", code: "EPERM" });
    setupContainer(spec({ devices: [{ ...loop, path: "/dev/y" }] }), denied, { ...opts, newRoot: rootfs });
    expect(denied.named("mount")).toContainEqual(["/dev/loop7", `${rootfs}/dev/y`, null, MS.BIND]);
    rmSync(`${rootfs}/dev/y`, { force: true });
  });

  test("read-only rootfs is remounted after pivot_root", () => {
    const { sys } = run(spec({ readonlyRootfs: true }));
    const names = sys.calls.map((c) => c.call);
    const ro = sys.calls.findIndex((c) => c.call === "mount" && c.args[1] === "/" && c.args[3] === (MS.BIND | MS.REMOUNT | MS.RDONLY));
    expect(ro).toBeGreaterThan(names.indexOf("pivotRoot"));
  });
});

describe("lookPath", () => {
  test("Docker's exit codes: 127 not found, 126 not executable or a directory", () => {
    const code = (cmd: string) => {
      try {
        lookPath(rootfs, cmd, ["PATH=/bin"], "/");
        return 0;
      } catch (err) {
        return (err as StartError).exitCode;
      }
    };
    expect(code("sh")).toBe(0);
    expect(code("nope")).toBe(127);
    expect(code("/nope")).toBe(127);
    expect(code("/etc/passwd")).toBe(126);
    expect(code("/etc")).toBe(126);
  });
});

describe("mount options", () => {
  test("flags, propagation and data are split", () => {
    expect(parseMountOptions(["ro", "nosuid", "rprivate", "size=64m", "mode=755"])).toEqual({
      flags: MS.RDONLY | MS.NOSUID,
      propagation: MS.PRIVATE | MS.REC,
      data: "size=64m,mode=755",
    });
    expect(parseMountOptions(["ro", "rw"]).flags).toBe(0);
  });
});
