// Compile a seccomp filter (core/contracts/isolation.ts SeccompConfig) to
// classic BPF with libseccomp, through bun:ffi, in the engine's process. The
// container init only hands the program to seccomp(2): no libseccomp there,
// and a filter is compiled once per profile and capability set.
import { dlopen, FFIType } from "bun:ffi";
import { closeSync, fstatSync, readSync } from "node:fs";
import type { SeccompConfig } from "../../../core/contracts/isolation.ts";
import { failedPrecondition, invalidArgument } from "../../../core/errors.ts";

const { i32, u32 } = FFIType;
const P = FFIType.ptr;

function load() {
  try {
    return dlopen("libseccomp.so.2", {
      seccomp_init: { args: [u32], returns: P },
      seccomp_release: { args: [P], returns: FFIType.void },
      seccomp_arch_add: { args: [P, u32], returns: i32 },
      seccomp_arch_resolve_name: { args: [P], returns: u32 },
      seccomp_syscall_resolve_name: { args: [P], returns: i32 },
      seccomp_rule_add_array: { args: [P, u32, i32, u32, P], returns: i32 },
      seccomp_export_bpf: { args: [P, i32], returns: i32 },
      seccomp_arch_native: { args: [], returns: u32 },
    }).symbols;
  } catch (err) {
    throw failedPrecondition(`cannot load libseccomp.so.2: ${(err as Error).message}`, "install Debian's libseccomp2 (bin/setup does)");
  }
}
let lib: ReturnType<typeof load> | undefined;
const seccomp = () => (lib ??= load());

let memfd: ((name: Buffer, flags: number) => number) | undefined;
const memfdCreate = (name: string) => {
  memfd ??= dlopen("libc.so.6", { memfd_create: { args: [P, u32], returns: i32 } }).symbols.memfd_create as unknown as typeof memfd;
  return memfd!(Buffer.from(`${name}\0`), 1 /* MFD_CLOEXEC */);
};

const EEXIST = 17;
const EACCES = 13;
const OPS: Record<string, number> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};
const EPERM = 1;

/** libseccomp's action value (seccomp.h SCMP_ACT_*). */
export function actionValue(action: string, errnoRet: number | undefined): number {
  switch (action) {
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return 0;
    case "SCMP_ACT_KILL_PROCESS":
      return 0x80000000;
    case "SCMP_ACT_TRAP":
      return 0x00030000;
    case "SCMP_ACT_ERRNO":
      return (0x00050000 | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case "SCMP_ACT_TRACE":
      return (0x7ff00000 | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case "SCMP_ACT_LOG":
      return 0x7ffc0000;
    case "SCMP_ACT_ALLOW":
      return 0x7fff0000;
  }
  throw invalidArgument(`seccomp: unknown action ${JSON.stringify(action)}`);
}

/** seccomp(2) flag bits of a filter's flags. */
export function filterFlags(cfg: SeccompConfig): number {
  const bits: Record<string, number> = { SECCOMP_FILTER_FLAG_TSYNC: 1, SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4 };
  return cfg.flags.reduce((f, name) => f | (bits[name] ?? 0), 1);
}

const cache = new Map<string, Uint8Array>();

/** The BPF program (struct sock_filter[]) of a filter, from the cache when it was compiled before. */
export function compileSeccomp(cfg: SeccompConfig): Uint8Array {
  const key = JSON.stringify(cfg);
  const hit = cache.get(key);
  if (hit) return hit;
  const bpf = compile(cfg);
  if (cache.size >= 64) cache.delete(cache.keys().next().value!);
  cache.set(key, bpf);
  return bpf;
}

function compile(cfg: SeccompConfig): Uint8Array {
  const s = seccomp();
  const defaultAction = actionValue(cfg.defaultAction, cfg.defaultErrnoRet);
  const ctx = s.seccomp_init(defaultAction);
  if (!ctx) throw invalidArgument(`seccomp: libseccomp refused the default action ${cfg.defaultAction}`);
  const cstr = (t: string) => Buffer.from(`${t}\0`);
  try {
    for (const arch of cfg.architectures) {
      const token = s.seccomp_arch_resolve_name(cstr(arch.replace(/^SCMP_ARCH_/, "").toLowerCase()));
      if (!token) throw invalidArgument(`seccomp: libseccomp does not know the architecture ${arch}`);
      const rc = s.seccomp_arch_add(ctx, token);
      if (rc < 0 && rc !== -EEXIST) throw invalidArgument(`seccomp: cannot add the architecture ${arch} (errno ${-rc})`);
    }
    let maxNr = -1;
    for (const rule of cfg.syscalls) {
      const action = actionValue(rule.action, rule.errnoRet);
      // libseccomp refuses a rule that does what the default does; runc skips them.
      if (action === defaultAction) continue;
      const args = rule.args ?? [];
      // Comparisons on distinct arguments are ANDed in one rule; several on
      // the same argument become one rule each (ORed), as runc does it.
      const sameIndex = new Set(args.map((a) => a.index)).size !== args.length;
      const groups = sameIndex ? args.map((a) => [a]) : [args];
      for (const name of rule.names) {
        const nr = s.seccomp_syscall_resolve_name(cstr(name));
        if (nr < 0) continue; // a syscall this architecture or libseccomp does not know: skipped, as Docker does
        maxNr = Math.max(maxNr, nr);
        for (const group of groups) {
          const cmp = argArray(group);
          const rc = s.seccomp_rule_add_array(ctx, action, nr, group.length, group.length ? cmp : null);
          if (rc < 0 && rc !== -EACCES) throw invalidArgument(`seccomp: cannot add the rule for ${name} (${rule.action}): errno ${-rc}`);
        }
      }
    }
    const fd = memfdCreate("berth-seccomp");
    if (fd < 0) throw new Error("memfd_create failed");
    try {
      const rc = s.seccomp_export_bpf(ctx, fd);
      if (rc < 0) throw new Error(`seccomp_export_bpf: errno ${-rc}`);
      const out = new Uint8Array(fstatSync(fd).size);
      let off = 0;
      while (off < out.length) {
        const n = readSync(fd, out, off, out.length - off, off);
        if (n <= 0) break;
        off += n;
      }
      return ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG"].includes(cfg.defaultAction) || maxNr < 0 ? out : withEnosysStub(out, s.seccomp_arch_native(), maxNr);
    } finally {
      closeSync(fd);
    }
  } finally {
    s.seccomp_release(ctx);
  }
}

const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;

/**
 * Syscalls newer than any the profile names answer ENOSYS rather than the
 * default errno (runc patches its filters the same way): libc then falls
 * back to the older call it knows (fchmodat2 to fchmodat, ...), where EPERM
 * would be taken for a real refusal. A prefix of classic BPF on the native
 * architecture; the rest goes on to libseccomp's program.
 */
export function withEnosysStub(program: Uint8Array, nativeArch: number, maxNr: number): Uint8Array {
  const ins: [code: number, jt: number, jf: number, k: number][] = [];
  const x86 = nativeArch === AUDIT_ARCH_X86_64;
  const len = x86 ? 6 : 5;
  const toMain = (at: number) => len - at - 1;
  ins.push([0x20, 0, 0, 4]); // ld [arch]
  ins.push([0x15, 0, toMain(1), nativeArch]); // another architecture: straight to the filter
  ins.push([0x20, 0, 0, 0]); // ld [nr]
  if (x86) ins.push([0x45, toMain(3), 0, X32_SYSCALL_BIT]); // x32 calls share the arch value: the filter decides
  ins.push([0x25, 0, toMain(ins.length), maxNr]); // nr > maxNr ?
  ins.push([0x06, 0, 0, 0x00050000 | 38]); // ret ERRNO(ENOSYS)
  const out = new Uint8Array(ins.length * 8 + program.length);
  const v = new DataView(out.buffer);
  ins.forEach(([code, jt, jf, k], i) => {
    v.setUint16(i * 8, code, true);
    v.setUint8(i * 8 + 2, jt);
    v.setUint8(i * 8 + 3, jf);
    v.setUint32(i * 8 + 4, k >>> 0, true);
  });
  out.set(program, ins.length * 8);
  return out;
}

/** struct scmp_arg_cmp[] { u32 arg; u32 op; u64 datum_a; u64 datum_b; }. */
function argArray(args: NonNullable<SeccompConfig["syscalls"][number]["args"]>): Uint8Array {
  const buf = new Uint8Array(Math.max(1, args.length) * 24);
  const v = new DataView(buf.buffer);
  args.forEach((a, i) => {
    const op = OPS[a.op];
    if (!op) throw invalidArgument(`seccomp: ${JSON.stringify(a.op)} is not a valid operator`);
    v.setUint32(i * 24, a.index, true);
    v.setUint32(i * 24 + 4, op, true);
    v.setBigUint64(i * 24 + 8, BigInt(a.value), true);
    v.setBigUint64(i * 24 + 16, BigInt(a.valueTwo ?? 0), true);
  });
  return buf;
}
