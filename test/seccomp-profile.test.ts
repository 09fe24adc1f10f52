// Docker seccomp profiles: parsing and checking, resolving includes/excludes
// for capabilities, architectures and kernels, --security-opt parsing, and
// compiling with libseccomp (the program is checked by running it in the
// kernel's own BPF interpreter in test/security-hardening.test.ts).
import { describe, expect, test } from "vitest";
import { DEFAULT_CAPABILITIES } from "../core/caps.ts";
import { compareKernel, DEFAULT_PROFILE, parseProfile, resolveProfile, type Target } from "../core/seccomp/profile.ts";
import { parseSecurityOpts, processSecurity } from "../core/engine/security.ts";
import { securityOpts } from "../core/cli/commands/create.ts";
import { actionValue, compileSeccomp, filterFlags } from "../plugins/isolation/namespaces/seccomp.ts";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { REPO } from "./helpers/berth.ts";

const amd64 = (caps: string[] = DEFAULT_CAPABILITIES, kernel = "6.1.0"): Target => ({ capabilities: caps, arch: "amd64", scmpArch: "SCMP_ARCH_X86_64", kernel });
const names = (p: ReturnType<typeof resolveProfile>) => p.syscalls.flatMap((r) => r.names.map((n) => `${n}:${r.action}${r.errnoRet !== undefined ? `(${r.errnoRet})` : ""}${r.args ? JSON.stringify(r.args.map((a) => [a.index, a.op, a.value])) : ""}`));

describe("the default profile", () => {
  test("default capabilities: namespaces, mounts, ptrace, modules, clock and reboot are not allowed; clone only without namespace flags", () => {
    const p = resolveProfile(DEFAULT_PROFILE, amd64());
    expect(p.defaultAction).toBe("SCMP_ACT_ERRNO");
    expect(p.defaultErrnoRet).toBe(1);
    expect(p.architectures).toEqual(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    const all = names(p);
    for (const denied of ["mount", "umount2", "unshare", "setns", "init_module", "settimeofday", "reboot", "kcmp", "bpf", "open_by_handle_at", "iopl"]) {
      expect(all.filter((n) => n.startsWith(`${denied}:`))).toEqual([]);
    }
    expect(all).toContain("read:SCMP_ACT_ALLOW");
    expect(all).toContain("arch_prctl:SCMP_ACT_ALLOW");
    expect(all).toContain("chroot:SCMP_ACT_ALLOW"); // SYS_CHROOT is in Docker's default set
    expect(all).toContain(`clone:SCMP_ACT_ALLOW${JSON.stringify([[0, "SCMP_CMP_MASKED_EQ", 0x7e020000]])}`);
    expect(all).toContain("clone3:SCMP_ACT_ERRNO(38)");
    expect(all).toContain(`socket:SCMP_ACT_ALLOW${JSON.stringify([[0, "SCMP_CMP_NE", 40]])}`);
    expect(all.filter((n) => n.startsWith("ptrace:"))).toEqual(["ptrace:SCMP_ACT_ALLOW"]); // kernel >= 4.8
    expect(all.some((n) => n.startsWith("riscv_flush_icache") || n.startsWith("s390_") || n.startsWith("set_tls"))).toBe(false);
  });

  test("each capability unlocks its syscalls, as in Docker", () => {
    const with_ = (cap: string) => names(resolveProfile(DEFAULT_PROFILE, amd64([...DEFAULT_CAPABILITIES, cap])));
    const admin = with_("SYS_ADMIN");
    for (const n of ["mount", "unshare", "setns", "clone", "clone3", "umount2", "sethostname"]) expect(admin).toContain(`${n}:SCMP_ACT_ALLOW`);
    expect(admin.filter((n) => n.startsWith("clone"))).toEqual(["clone:SCMP_ACT_ALLOW", "clone3:SCMP_ACT_ALLOW"]); // no flag filter, no ENOSYS
    expect(with_("SYS_PTRACE")).toContain("kcmp:SCMP_ACT_ALLOW");
    expect(with_("SYS_MODULE")).toContain("finit_module:SCMP_ACT_ALLOW");
    expect(with_("SYS_TIME")).toContain("clock_settime:SCMP_ACT_ALLOW");
    expect(with_("SYS_BOOT")).toContain("reboot:SCMP_ACT_ALLOW");
    expect(with_("DAC_READ_SEARCH")).toContain("open_by_handle_at:SCMP_ACT_ALLOW");
    expect(with_("SYS_NICE")).toContain("mbind:SCMP_ACT_ALLOW");
    const noChroot = names(resolveProfile(DEFAULT_PROFILE, amd64(DEFAULT_CAPABILITIES.filter((c) => c !== "SYS_CHROOT"))));
    expect(noChroot).not.toContain("chroot:SCMP_ACT_ALLOW");
  });

  test("architecture and kernel conditions", () => {
    const arm = resolveProfile(DEFAULT_PROFILE, { ...amd64(), arch: "arm64", scmpArch: "SCMP_ARCH_AARCH64" });
    expect(arm.architectures).toEqual(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    expect(names(arm)).toContain("set_tls:SCMP_ACT_ALLOW");
    expect(names(arm)).not.toContain("arch_prctl:SCMP_ACT_ALLOW");
    const s390 = names(resolveProfile(DEFAULT_PROFILE, { ...amd64(), arch: "s390x", scmpArch: "SCMP_ARCH_S390X" }));
    expect(s390).toContain(`clone:SCMP_ACT_ALLOW${JSON.stringify([[1, "SCMP_CMP_MASKED_EQ", 0x7e020000]])}`);
    const old = names(resolveProfile(DEFAULT_PROFILE, amd64(DEFAULT_CAPABILITIES, "4.4.0-210-generic")));
    expect(old.filter((n) => n.startsWith("ptrace:"))).toEqual([]);
    expect(compareKernel("4.10.0", "4.8")).toBeGreaterThan(0);
    expect(compareKernel("4.8.1", "4.8")).toBe(0);
  });
});

describe("custom profiles", () => {
  test("the legacy architectures list, name instead of names, and flags", () => {
    const p = resolveProfile(parseProfile(JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], flags: ["SECCOMP_FILTER_FLAG_LOG"], syscalls: [{ name: "mkdir", action: "SCMP_ACT_ERRNO", errnoRet: 13 }] })), amd64());
    expect(p).toEqual({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], flags: ["SECCOMP_FILTER_FLAG_LOG"], syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 13 }] });
    expect(filterFlags(p)).toBe(1 | 2);
  });

  test.each([
    ["not JSON", "{oops", /^Decoding seccomp profile failed: /],
    ["no default action", "{}", /defaultAction is missing/],
    ["a bad action", '{"defaultAction":"SCMP_ACT_FOO"}', /defaultAction: "SCMP_ACT_FOO" is not a valid action/],
    ["a bad rule action", '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"ALLOW"}]}', /syscalls\[0\]\.action: "ALLOW" is not a valid action/],
    ["a bad operator", '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_XX"}]}]}', /syscalls\[0\]\.args\[0\]\.op: "SCMP_CMP_XX" is not a valid operator/],
    ["an argument index out of range", '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}', /args\[0\]\.index must be 0 to 5/],
    ["both name and names", '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ERRNO"}]}', /both 'name' and 'names'/],
    ["both architectures and archMap", '{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":null}]}', /both 'architectures' and 'archMap'/],
    ["an unknown architecture", '{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_VAX"]}', /unknown architecture "SCMP_ARCH_VAX"/],
    ["an unknown flag", '{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_X"]}', /unknown flag "SECCOMP_FILTER_FLAG_X"/],
    ["a bad minKernel", '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_LOG","includes":{"minKernel":"four"}}]}', /includes\.minKernel: invalid kernel version "four"/],
    ["a bad errnoRet", '{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":-1}', /defaultErrnoRet must be an errno number/],
  ])("%s is refused, naming the problem", (_what, text, message) => {
    expect(() => parseProfile(text)).toThrow(message);
    try {
      parseProfile(text);
    } catch (err) {
      expect((err as { kind: string }).kind).toBe("InvalidArgument");
    }
  });

  test("SCMP_ACT_NOTIFY is refused as not supported", () => {
    expect(() => parseProfile('{"defaultAction":"SCMP_ACT_NOTIFY"}')).toThrow(/SCMP_ACT_NOTIFY is not supported/);
  });
});

describe("--security-opt", () => {
  test("the daemon's reading of the options", () => {
    expect(parseSecurityOpts([])).toEqual({ seccomp: "builtin", noNewPrivileges: false });
    expect(parseSecurityOpts(["no-new-privileges"]).noNewPrivileges).toBe(true);
    expect(parseSecurityOpts(["no-new-privileges=true", "no-new-privileges=false"]).noNewPrivileges).toBe(false);
    expect(parseSecurityOpts(["no-new-privileges:true"]).noNewPrivileges).toBe(true);
    expect(parseSecurityOpts(["seccomp=unconfined"]).seccomp).toBe("unconfined");
    expect(parseSecurityOpts(["seccomp=builtin", "label=disable", "apparmor=unconfined"]).seccomp).toBe("builtin");
    expect(parseSecurityOpts(['seccomp={"defaultAction":"SCMP_ACT_LOG"}']).seccomp).toEqual({ defaultAction: "SCMP_ACT_LOG" });
    expect(() => parseSecurityOpts(["foo=bar"])).toThrow('invalid --security-opt 2: "foo=bar"');
    expect(() => parseSecurityOpts(["no-new-privileges=maybe"])).toThrow('invalid --security-opt 2: "no-new-privileges=maybe"');
    expect(() => parseSecurityOpts(["bogus"])).toThrow('invalid --security-opt 1: "bogus"');
    expect(() => parseSecurityOpts(["seccomp=/some/file.json"])).toThrow(/seccomp takes unconfined, builtin or a profile's JSON/);
    expect(() => parseSecurityOpts(["apparmor=docker-default"])).toThrow(/no AppArmor support/);
  });

  test("a process's security: privileged has every capability and no filter; exec --privileged keeps the container's filter", () => {
    const plain = processSecurity({});
    expect(plain.capabilities).toEqual(expect.arrayContaining(DEFAULT_CAPABILITIES));
    expect(plain.seccomp?.defaultAction).toBe("SCMP_ACT_ERRNO");
    expect(plain.noNewPrivileges).toBe(false);
    const priv = processSecurity({ Privileged: true });
    expect(priv.seccomp).toBeUndefined();
    expect(priv.capabilities).toContain("SYS_ADMIN");
    const exec = processSecurity({}, true);
    expect(exec.capabilities).toContain("SYS_ADMIN");
    expect(names(exec.seccomp!)).not.toContain("mount:SCMP_ACT_ALLOW");
    const loose = processSecurity({ SecurityOpt: ["seccomp=unconfined", "no-new-privileges"] });
    expect([loose.noNewPrivileges, loose.seccomp]).toEqual([true, undefined]);
  });

  test("the CLI reads a profile file and sends it compacted, as the docker CLI does", () => {
    const dir = mkdtempSync("/tmp/berth-seccomp-");
    try {
      writeFileSync(`${dir}/p.json`, '{\n  "defaultAction": "SCMP_ACT_ALLOW",\n  "syscalls": [ { "names": ["a b"], "action": "SCMP_ACT_LOG", "args": [{"index": 0, "value": 18446744073709551615, "op": "SCMP_CMP_EQ"}] } ]\n}\n');
      expect(securityOpts([`seccomp=${dir}/p.json`, "no-new-privileges", "seccomp=unconfined"])).toEqual([
        'seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a b"],"action":"SCMP_ACT_LOG","args":[{"index":0,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}]}]}',
        "no-new-privileges",
        "seccomp=unconfined",
      ]);
      writeFileSync(`${dir}/bad.json`, "garbage");
      expect(() => securityOpts([`seccomp=${dir}/bad.json`])).toThrow(`compacting json for seccomp profile (${dir}/bad.json) failed`);
      expect(() => securityOpts([`seccomp=${dir}/missing.json`])).toThrow(`opening seccomp profile (${dir}/missing.json) failed: no such file or directory`);
      expect(() => securityOpts(["nonsense"])).toThrow('Invalid --security-opt: "nonsense"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("compiling with libseccomp", () => {
  test("actions have libseccomp's values", () => {
    expect(actionValue("SCMP_ACT_ALLOW", undefined)).toBe(0x7fff0000);
    expect(actionValue("SCMP_ACT_ERRNO", undefined)).toBe(0x00050001);
    expect(actionValue("SCMP_ACT_ERRNO", 38)).toBe(0x00050026);
    expect(actionValue("SCMP_ACT_KILL_PROCESS", undefined)).toBe(0x80000000);
  });

  test("the default profile compiles to a BPF program that checks the architecture first; a second compile is cached", () => {
    const cfg = resolveProfile(DEFAULT_PROFILE, amd64());
    const bpf = compileSeccomp(cfg);
    expect(bpf.length % 8).toBe(0);
    expect(bpf.length / 8).toBeGreaterThan(100);
    expect(bpf.length / 8).toBeLessThan(4096); // BPF_MAXINSNS
    // First instruction: BPF_LD|BPF_W|BPF_ABS of seccomp_data.arch (offset 4).
    const v = new DataView(bpf.buffer, bpf.byteOffset);
    expect([v.getUint16(0, true), v.getUint32(4, true)]).toEqual([0x20, 4]);
    expect(compileSeccomp(resolveProfile(DEFAULT_PROFILE, amd64()))).toBe(bpf);
    // Another capability set is another program.
    expect(compileSeccomp(resolveProfile(DEFAULT_PROFILE, amd64([...DEFAULT_CAPABILITIES, "SYS_ADMIN"])))).not.toEqual(bpf);
  });

  test("unknown syscall names are skipped, as Docker does", () => {
    const cfg = resolveProfile(parseProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["no_such_call","mkdir"],"action":"SCMP_ACT_ERRNO"}]}'), amd64());
    expect(compileSeccomp(cfg).length).toBeGreaterThan(0);
  });
});

describe("the compiled default filter in the kernel", () => {
  // A child process installs the filter (as the container init does) and makes raw syscalls; it prints their errnos.
  async function underFilter(cfg: ReturnType<typeof resolveProfile>, calls: Record<string, number[]>): Promise<Record<string, number>> {
    const dir = mkdtempSync("/tmp/berth-seccomp-");
    try {
      writeFileSync(`${dir}/child.ts`, `
        import { dlopen, FFIType, read } from "bun:ffi";
        import { libcSys } from "${REPO}/core/sys/libc.ts";
        const { i64, ptr } = FFIType;
        const c = dlopen("libc.so.6", { syscall: { args: [i64, i64, i64, i64, i64, i64], returns: i64 }, __errno_location: { args: [], returns: ptr } }).symbols;
        const calls = JSON.parse(process.argv[3]);
        libcSys.setNoNewPrivs();
        libcSys.seccompLoad(new Uint8Array(Buffer.from(process.argv[2], "base64")), ${filterFlags(cfg)});
        const out = {};
        for (const [name, [nr, ...args]] of Object.entries(calls)) {
          const a = [...args, 0, 0, 0, 0, 0].slice(0, 5);
          out[name] = Number(c.syscall(nr, ...a)) < 0 ? read.i32(c.__errno_location(), 0) : 0;
        }
        console.log(JSON.stringify(out));
      `);
      const p = Bun.spawn([process.execPath, `${dir}/child.ts`, Buffer.from(compileSeccomp(cfg)).toString("base64"), JSON.stringify(calls)], { stdout: "pipe", stderr: "pipe" });
      const [out, err] = [await new Response(p.stdout).text(), await new Response(p.stderr).text()];
      if ((await p.exited) !== 0) throw new Error(`the child failed: ${err}`);
      return JSON.parse(out);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const nul = 0;
  const calls = {
    getpid: [39],
    mount: [165, nul, nul, nul, 0, nul], // EFAULT without a filter; EPERM from it
    unshareUser: [272, 0x10000000],
    clone3: [435, nul, 0], // ENOSYS: libc falls back to clone, whose flags the filter checks
    personalityQuery: [135, 0xffffffff],
    personalityOther: [135, 0x0400000], // READ_IMPLIES_EXEC: refused
    vsock: [41, 40, 1, 0], // socket(AF_VSOCK)
    unix: [41, 1, 1 | 0o2000000, 0], // socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC): allowed (the fd leaks into an exiting child)
    newer: [1000], // newer than any syscall the profile names: ENOSYS, as runc's patched filters answer
  };

  test("default capabilities: EPERM for what the profile refuses, ENOSYS for clone3 and unknown newer syscalls", async () => {
    const r = await underFilter(resolveProfile(DEFAULT_PROFILE, amd64()), calls);
    expect(r).toEqual({ getpid: 0, mount: 1, unshareUser: 1, clone3: 38, personalityQuery: 0, personalityOther: 1, vsock: 1, unix: 0, newer: 38 });
  });

  test("with CAP_SYS_ADMIN mount and unshare get through to the kernel", async () => {
    const r = await underFilter(resolveProfile(DEFAULT_PROFILE, amd64([...DEFAULT_CAPABILITIES, "SYS_ADMIN"])), { mount: calls.mount, clone3: calls.clone3 });
    expect(r.mount).toBe(14); // EFAULT: the kernel itself looked at the arguments
    expect(r.clone3).not.toBe(38);
  });
});
