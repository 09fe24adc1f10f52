// Docker's seccomp profiles (moby profiles/seccomp format): check one, and
// resolve it for a container (its capabilities, this architecture and
// kernel) into the filter the isolation plugin compiles. Pure logic: the
// compiling is plugins/isolation/namespaces/seccomp.ts.
import { release } from "node:os";
import type { SeccompArg, SeccompConfig } from "../contracts/isolation.ts";
import { invalidArgument, notSupported } from "../errors.ts";
import DEFAULT_PROFILE_JSON from "../../schemas/seccomp-default.json" with { type: "json" };

interface Filter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface ProfileRule {
  name?: string;
  names?: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  comment?: string;
  includes?: Filter;
  excludes?: Filter;
}

export interface Profile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[] | null;
  archMap?: { architecture: string; subArchitectures: string[] | null }[] | null;
  flags?: string[] | null;
  listenerPath?: string;
  syscalls?: ProfileRule[] | null;
}

export const ACTIONS = ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG"];
export const OPERATORS = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];
export const FLAGS = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"];
export const ARCHES = [
  "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
  "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
  "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
];
/** Go's GOARCH names, which profiles use in includes/excludes.arches, and the native SCMP_ARCH of each. */
const GO_ARCH: Record<string, [goArch: string, scmp: string]> = {
  x64: ["amd64", "SCMP_ARCH_X86_64"], arm64: ["arm64", "SCMP_ARCH_AARCH64"], ia32: ["386", "SCMP_ARCH_X86"],
  arm: ["arm", "SCMP_ARCH_ARM"], ppc64: ["ppc64le", "SCMP_ARCH_PPC64LE"], s390x: ["s390x", "SCMP_ARCH_S390X"], riscv64: ["riscv64", "SCMP_ARCH_RISCV64"],
};

export interface Target {
  /** Capability names without CAP_, as in ProcessSpec. */
  capabilities: string[];
  /** GOARCH of the machine: "amd64", "arm64"... */
  arch: string;
  /** SCMP_ARCH_* of the machine. */
  scmpArch: string;
  /** Kernel release, "6.1.0-18-amd64". */
  kernel: string;
}

export function hostTarget(capabilities: string[]): Target {
  const [arch, scmpArch] = GO_ARCH[process.arch] ?? [process.arch, `SCMP_ARCH_${process.arch.toUpperCase()}`];
  return { capabilities, arch, scmpArch, kernel: release() };
}

/** Docker's default profile, as shipped in schemas/seccomp-default.json. */
export const DEFAULT_PROFILE = DEFAULT_PROFILE_JSON as Profile;

/** Parse and check a profile in Docker's format; errors say what is wrong and where. */
export function parseProfile(text: string): Profile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`Decoding seccomp profile failed: ${(err as Error).message}`, "give a JSON file in Docker's seccomp profile format");
  }
  return checkProfile(raw);
}

export function checkProfile(raw: unknown): Profile {
  const bad = (what: string) => invalidArgument(`invalid seccomp profile: ${what}`, "see Docker's seccomp profile format (defaultAction, archMap, syscalls[] with names, action, args)");
  if (!isObject(raw)) throw bad("it must be a JSON object");
  const p = raw as unknown as Profile;
  if (typeof p.defaultAction !== "string" || !p.defaultAction) throw bad("defaultAction is missing");
  checkAction(p.defaultAction, "defaultAction", bad);
  checkErrno(p.defaultErrnoRet, "defaultErrnoRet", bad);
  if (p.listenerPath) throw notSupported("seccomp profile: listenerPath (SCMP_ACT_NOTIFY agents) is not supported by berth", "remove listenerPath and SCMP_ACT_NOTIFY rules from the profile");
  if (p.architectures?.length && p.archMap?.length) throw bad("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'");
  if (p.architectures != null && !Array.isArray(p.architectures)) throw bad("architectures must be a list of SCMP_ARCH_* names");
  for (const a of p.architectures ?? []) if (!ARCHES.includes(a)) throw bad(`unknown architecture "${a}" in architectures (use ${ARCHES.slice(0, 5).join(", ")}, ...)`);
  if (p.archMap != null && !Array.isArray(p.archMap)) throw bad("archMap must be a list");
  (p.archMap ?? []).forEach((m, i) => {
    if (!isObject(m) || !ARCHES.includes(m.architecture)) throw bad(`archMap[${i}].architecture must be an SCMP_ARCH_* name, not ${JSON.stringify(isObject(m) ? m.architecture : m)}`);
    if (m.subArchitectures != null && !Array.isArray(m.subArchitectures)) throw bad(`archMap[${i}].subArchitectures must be a list`);
    for (const s of m.subArchitectures ?? []) if (!ARCHES.includes(s)) throw bad(`unknown architecture "${s}" in archMap[${i}].subArchitectures`);
  });
  if (p.flags != null && !Array.isArray(p.flags)) throw bad("flags must be a list");
  for (const f of p.flags ?? []) if (!FLAGS.includes(f)) throw bad(`unknown flag "${f}" (use ${FLAGS.join(", ")})`);
  if (p.syscalls != null && !Array.isArray(p.syscalls)) throw bad("syscalls must be a list");
  (p.syscalls ?? []).forEach((r, i) => {
    const at = `syscalls[${i}]`;
    if (!isObject(r)) throw bad(`${at} must be an object`);
    if (r.name && r.names?.length) throw bad(`${at}: both 'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'`);
    if (r.names != null && (!Array.isArray(r.names) || r.names.some((n) => typeof n !== "string" || !n))) throw bad(`${at}.names must be a list of syscall names`);
    if (r.name !== undefined && typeof r.name !== "string") throw bad(`${at}.name must be a string`);
    if (typeof r.action !== "string") throw bad(`${at}.action is missing`);
    checkAction(r.action, `${at}.action`, bad);
    checkErrno(r.errnoRet, `${at}.errnoRet`, bad);
    if (r.args != null && !Array.isArray(r.args)) throw bad(`${at}.args must be a list`);
    (r.args ?? []).forEach((a, j) => {
      const where = `${at}.args[${j}]`;
      if (!isObject(a)) throw bad(`${where} must be an object`);
      if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) throw bad(`${where}.index must be 0 to 5, not ${JSON.stringify(a.index)}`);
      for (const k of ["value", "valueTwo"] as const) {
        const v = a[k];
        if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw bad(`${where}.${k} must be a non-negative integer, not ${JSON.stringify(v)}`);
        if (v !== undefined && v > Number.MAX_SAFE_INTEGER) throw bad(`${where}.${k}: ${v} is above 2^53, which berth cannot represent exactly`);
      }
      if (!OPERATORS.includes(a.op)) throw bad(`${where}.op: ${JSON.stringify(a.op)} is not a valid operator (use ${OPERATORS.join(", ")})`);
    });
    for (const k of ["includes", "excludes"] as const) {
      const f = r[k];
      if (f == null) continue;
      if (!isObject(f)) throw bad(`${at}.${k} must be an object`);
      if (f.caps != null && (!Array.isArray(f.caps) || f.caps.some((c) => typeof c !== "string"))) throw bad(`${at}.${k}.caps must be a list of capability names`);
      if (f.arches != null && (!Array.isArray(f.arches) || f.arches.some((c) => typeof c !== "string"))) throw bad(`${at}.${k}.arches must be a list of architectures (amd64, arm64, ...)`);
      if (f.minKernel != null && !parseKernel(f.minKernel)) throw bad(`${at}.${k}.minKernel: invalid kernel version ${JSON.stringify(f.minKernel)} (use MAJOR.MINOR, e.g. 4.8)`);
    }
  });
  return p;
}

/** The filter a process gets from a profile, as Docker resolves it (moby's setupSeccomp). */
export function resolveProfile(p: Profile, t: Target): SeccompConfig {
  const caps = new Set(t.capabilities.map((c) => `CAP_${c}`));
  const kernelAtLeast = (v: string) => compareKernel(t.kernel, v) >= 0;
  let architectures: string[];
  if (p.archMap?.length) {
    const m = p.archMap.find((a) => a.architecture === t.scmpArch);
    architectures = m ? [m.architecture, ...(m.subArchitectures ?? [])] : [];
  } else architectures = [...(p.architectures ?? [])];
  const syscalls: SeccompConfig["syscalls"] = [];
  for (const r of p.syscalls ?? []) {
    const ex = r.excludes;
    if (ex) {
      if (ex.arches?.includes(t.arch)) continue;
      if (ex.caps?.some((c) => caps.has(c))) continue;
      if (ex.minKernel && kernelAtLeast(ex.minKernel)) continue;
    }
    const inc = r.includes;
    if (inc) {
      if (inc.arches?.length && !inc.arches.includes(t.arch)) continue;
      if (inc.caps?.some((c) => !caps.has(c))) continue;
      if (inc.minKernel && !kernelAtLeast(inc.minKernel)) continue;
    }
    const names = r.name ? [r.name] : (r.names ?? []);
    if (!names.length) continue;
    syscalls.push({
      names,
      action: r.action,
      ...(r.errnoRet !== undefined ? { errnoRet: r.errnoRet } : {}),
      ...(r.args?.length ? { args: r.args.map((a) => ({ index: a.index, value: a.value ?? 0, valueTwo: a.valueTwo ?? 0, op: a.op })) } : {}),
    });
  }
  return {
    defaultAction: p.defaultAction,
    ...(p.defaultErrnoRet !== undefined ? { defaultErrnoRet: p.defaultErrnoRet } : {}),
    architectures,
    flags: (p.flags ?? []).filter((f) => f !== "SECCOMP_FILTER_FLAG_TSYNC"),
    syscalls,
  };
}

function checkAction(action: string, where: string, bad: (m: string) => Error) {
  if (action === "SCMP_ACT_NOTIFY") throw notSupported(`seccomp profile: ${where} SCMP_ACT_NOTIFY is not supported by berth (it needs a listener agent)`, "use SCMP_ACT_ERRNO or SCMP_ACT_LOG instead");
  if (!ACTIONS.includes(action)) throw bad(`${where}: ${JSON.stringify(action)} is not a valid action (use ${ACTIONS.join(", ")})`);
}

function checkErrno(v: unknown, where: string, bad: (m: string) => Error) {
  if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 4095)) throw bad(`${where} must be an errno number (0 to 4095), not ${JSON.stringify(v)}`);
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** "4.8", "6.1.0-18-amd64" -> [major, minor]. */
function parseKernel(v: unknown): [number, number] | undefined {
  if (typeof v !== "string") return undefined;
  const m = /^(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export function compareKernel(a: string, b: string): number {
  const x = parseKernel(a) ?? [0, 0];
  const y = parseKernel(b) ?? [0, 0];
  return x[0] - y[0] || x[1] - y[1];
}
