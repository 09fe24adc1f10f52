// The device allowlist of a group (Resources.devices): cgroup v1's
// devices.deny/devices.allow lines, and for cgroup v2 an eBPF program of
// type BPF_PROG_TYPE_CGROUP_DEVICE attached to the group with bpf(2).
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { closeSync, constants, openSync } from "node:fs";
import type { DeviceRule } from "../../core/contracts/limits.ts";
import { invalidArgument, SysError } from "../../core/errors.ts";
import { ERRNO_NAMES } from "../../core/sys/index.ts";

export function checkDeviceRules(rules: DeviceRule[]) {
  for (const r of rules) {
    const ok = ["a", "c", "b"].includes(r.type) && /^[rwm]{1,3}$/.test(r.access) && [r.major, r.minor].every((n) => n === "*" || (Number.isInteger(n) && n >= 0));
    if (!ok) throw invalidArgument(`invalid device rule ${JSON.stringify(r)}: type a, c or b; major and minor a number or "*"; access of r, w and m`);
  }
}

/** A rule as devices.allow takes it: "c 1:3 rwm", "a *:* rwm". */
export function v1Line(r: DeviceRule): string {
  return `${r.type} ${r.major}:${r.minor} ${r.access}`;
}

// ---------------------------------------------------------------- eBPF

// struct bpf_cgroup_dev_ctx { u32 access_type (type | access << 16); u32 major; u32 minor; }
const DEV = { b: 1, c: 2 } as const; // BPF_DEVCG_DEV_BLOCK, _CHAR
const ACC: Record<string, number> = { m: 1, r: 2, w: 4 }; // BPF_DEVCG_ACC_MKNOD, _READ, _WRITE

/** One eBPF instruction: opcode, dst and src registers, offset, immediate. */
function insn(code: number, dst: number, src: number, off: number, imm: number): number[] {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint8(0, code);
  v.setUint8(1, (src << 4) | dst);
  v.setInt16(2, off, true);
  v.setInt32(4, imm, true);
  return [...b];
}
const LDX_W = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const MOV32_X = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const AND32_K = 0x54;
const RSH32_K = 0x74;
const JNE_K = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const MOV64_K = 0xb7;
const EXIT = 0x95;

/**
 * The program: r2 = device type, r3 = access, r4 = major, r5 = minor; each
 * rule a block that returns 1 (allow) when everything matches, else falls
 * through to the next; at the end, 0 (deny).
 */
export function deviceProgram(rules: DeviceRule[]): Uint8Array {
  const out: number[][] = [
    insn(LDX_W, 2, 1, 0, 0),
    insn(MOV32_X, 3, 2, 0, 0),
    insn(RSH32_K, 3, 0, 0, 16),
    insn(AND32_K, 2, 0, 0, 0xffff),
    insn(LDX_W, 4, 1, 4, 0),
    insn(LDX_W, 5, 1, 8, 0),
  ];
  for (const r of rules) {
    const allowed = [...r.access].reduce((m, c) => m | (ACC[c] ?? 0), 0);
    // Allow-all: the verifier refuses code after it (unreachable), so it ends the program.
    if (r.type === "a" && allowed === 7) return new Uint8Array([...out, insn(MOV64_K, 0, 0, 0, 1), insn(EXIT, 0, 0, 0, 0)].flat());
    // Jumps are filled with the distance to the block's end once its length is known.
    const block: ((end: number, at: number) => number[])[] = [];
    const skipUnless = (code: number, dst: number, imm: number) => block.push((end, at) => insn(code, dst, 0, end - at - 1, imm));
    if (r.type !== "a") skipUnless(JNE_K, 2, DEV[r.type]);
    if (r.type !== "a" || allowed !== 7) {
      block.push(() => insn(MOV32_X, 1, 3, 0, 0));
      block.push(() => insn(AND32_K, 1, 0, 0, ~allowed & 7));
      skipUnless(JNE_K, 1, 0);
    }
    if (r.type !== "a" && r.major !== "*") skipUnless(JNE_K, 4, r.major);
    if (r.type !== "a" && r.minor !== "*") skipUnless(JNE_K, 5, r.minor);
    block.push(() => insn(MOV64_K, 0, 0, 0, 1));
    block.push(() => insn(EXIT, 0, 0, 0, 0));
    block.forEach((make, at) => out.push(make(block.length, at)));
  }
  out.push(insn(MOV64_K, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0));
  return new Uint8Array(out.flat());
}

const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;
const BPF_F_ALLOW_MULTI = 2;
const SYS_bpf: Record<string, number> = { x64: 321, arm64: 280 };

let lib: { syscall: (nr: number, cmd: number, attr: Uint8Array, size: number) => number | bigint; __errno_location: () => number | null } | undefined;
const libc = () =>
  (lib ??= dlopen("libc.so.6", {
    syscall: { args: [FFIType.i64, FFIType.i64, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
    __errno_location: { args: [], returns: FFIType.ptr },
  }).symbols as unknown as NonNullable<typeof lib>);

function bpf(cmd: number, attr: Uint8Array, what: string): number {
  const nr = SYS_bpf[process.arch];
  if (nr === undefined) throw new SysError("bpf", 38, "ENOSYS", `${what}: no bpf syscall number for ${process.arch}`);
  const rc = Number(libc().syscall(nr, cmd, attr, attr.length));
  if (rc < 0) {
    const errno = read.i32(libc().__errno_location()!, 0);
    throw new SysError("bpf", errno, ERRNO_NAMES[errno] ?? `errno ${errno}`, what);
  }
  return rc;
}

/** Load the rules' program and attach it to the cgroup v2 directory (alongside any others: BPF_F_ALLOW_MULTI). */
export function attachDeviceProgram(cgroupDir: string, rules: DeviceRule[]): void {
  const insns = deviceProgram(rules);
  const license = Buffer.from("Apache\0");
  const log = new Uint8Array(65536);
  const load = new Uint8Array(128);
  const l = new DataView(load.buffer);
  l.setUint32(0, BPF_PROG_TYPE_CGROUP_DEVICE, true);
  l.setUint32(4, insns.length / 8, true);
  l.setBigUint64(8, BigInt(ptr(insns)), true);
  l.setBigUint64(16, BigInt(ptr(license)), true);
  l.setUint32(24, 1, true); // log_level: the verifier says why, should it refuse
  l.setUint32(28, log.length, true);
  l.setBigUint64(32, BigInt(ptr(log)), true);
  load.set(Buffer.from("berth_devices"), 48); // prog_name
  l.setUint32(68, BPF_CGROUP_DEVICE, true); // expected_attach_type
  let prog: number;
  try {
    prog = bpf(BPF_PROG_LOAD, load, `loading the device program for ${cgroupDir}`);
  } catch (err) {
    const text = new TextDecoder().decode(log.subarray(0, log.indexOf(0))).trim();
    if (err instanceof SysError && text) throw new SysError("bpf", err.errno, err.code, `${err.subject}; the verifier says: ${text.split("\n").slice(-3).join(" / ")}`);
    throw err;
  }
  const dir = openSync(cgroupDir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    const attach = new Uint8Array(32);
    const a = new DataView(attach.buffer);
    a.setUint32(0, dir, true); // target_fd
    a.setUint32(4, prog, true); // attach_bpf_fd
    a.setUint32(8, BPF_CGROUP_DEVICE, true);
    a.setUint32(12, BPF_F_ALLOW_MULTI, true);
    bpf(BPF_PROG_ATTACH, attach, `attaching the device program to ${cgroupDir}`);
  } finally {
    closeSync(dir);
    closeSync(prog); // the attachment holds the program
  }
}
