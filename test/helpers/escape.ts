// Helpers for the escape tests: build the attempts in test/escape/*.c
// (static, cached by the hash of their sources), read their verdicts, run
// them under berth and under the host's Docker, and snapshot what on the
// host an attempt must not change.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { REPO } from "./berth.ts";

const SRC = `${REPO}/test/escape`;
const CACHE = process.env.BERTH_TEST_CACHE ?? "/tmp/berth-test-cache";

/** Compile every test/escape/*.c with gcc -static into a directory (reused while the sources are unchanged). */
export function buildEscapeTools(): string {
  const files = readdirSync(SRC).filter((f) => /\.[ch]$/.test(f)).sort();
  const hash = new Bun.CryptoHasher("sha256");
  for (const f of files) hash.update(f).update(readFileSync(`${SRC}/${f}`));
  const dir = `${CACHE}/escape-${hash.digest("hex").slice(0, 16)}`;
  if (existsSync(`${dir}/.done`)) return dir;
  const tmp = `${dir}.${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  for (const f of files.filter((f) => f.endsWith(".c"))) {
    const out = `${tmp}/${f.slice(0, -2)}`;
    const cc = Bun.spawnSync(["gcc", "-static", "-O1", "-Wall", "-o", out, `${SRC}/${f}`], { stderr: "pipe" });
    if (cc.exitCode !== 0) throw new Error(`gcc ${f}: ${cc.stderr}`);
    chmodSync(out, 0o755);
  }
  Bun.write(`${tmp}/.done`, "");
  try {
    renameSync(tmp, dir);
  } catch {
    // another test file built it first
  }
  return dir;
}

/** What an attempt came to: escaped (with what), or blocked with the errno names of the steps that failed. */
export interface Verdict {
  outcome: "blocked" | "escaped" | "error";
  errnos: string[];
  detail: string;
}

const MESSAGES: [RegExp, string][] = [
  [/Operation not permitted|permission denied \(are you root\?\)/i, "EPERM"],
  [/Permission denied/, "EACCES"],
  [/Read-only file system/, "EROFS"],
  [/No such file or directory|can't open|can't create/, "ENOENT"],
  [/Function not implemented/, "ENOSYS"],
  [/Invalid argument/, "EINVAL"],
  [/No such process/, "ESRCH"],
  [/Text file busy/, "ETXTBSY"],
  [/No such device/, "ENODEV"],
];

function errnoOf(message: string): string {
  // Busybox says "can't create X: Read-only file system": the cause is after the last colon.
  const cause = message.split(":").slice(-1)[0] ?? message;
  for (const [re, name] of MESSAGES) if (re.test(cause)) return name;
  for (const [re, name] of MESSAGES) if (re.test(message)) return name;
  return `E?(${message.trim().slice(0, 80)})`;
}

/**
 * The verdict in an attempt's output. C programs print one
 * "RESULT blocked ERRNO what" / "RESULT escaped what" line; shell attempts
 * print "step WHAT: ok ..." or "step WHAT: failed: MESSAGE" per step and a
 * final "RESULT blocked -" / "RESULT escaped ...".
 */
export function verdictOf(out: string): Verdict {
  const result = out.split("\n").find((l) => l.startsWith("RESULT "));
  if (!result) return { outcome: "error", errnos: [], detail: `no RESULT line in: ${out.slice(-400)}` };
  const [, outcome, errno, ...rest] = result.split(" ");
  if (outcome === "escaped") return { outcome, errnos: [], detail: result.slice("RESULT escaped ".length) };
  if (errno !== "-") return { outcome: "blocked", errnos: [errno!], detail: rest.join(" ") };
  const failed = out
    .split("\n")
    .filter((l) => l.startsWith("step ") && l.includes(": failed: "))
    .map((l) => ({ step: l.slice(5, l.indexOf(": failed: ")), errno: errnoOf(l.slice(l.indexOf(": failed: ") + 10)) }));
  return { outcome: "blocked", errnos: [...new Set(failed.map((f) => f.errno))], detail: failed.map((f) => `${f.step}: ${f.errno}`).join("; ") };
}

/**
 * The shell side of an attempt: `try WHAT CMD` runs CMD (eval'd) and
 * records a step; `finish` prints the verdict.
 */
export const SH_PRELUDE = [
  'esc=""',
  'try() { what=$1; shift; if out=$(eval "$*" 2>&1); then echo "step $what: ok $out"; esc="$esc$what; "; else echo "step $what: failed: $(echo "$out" | tail -n1)"; fi; }',
  'finish() { if [ -n "$esc" ]; then echo "RESULT escaped $esc"; else echo "RESULT blocked -"; fi; }',
].join("\n");

/** The Docker on this host, if it answers at /var/run/docker.sock. */
export function dockerAvailable(): boolean {
  const r = Bun.spawnSync(["docker", "info", "--format", "{{.ServerVersion}}"], { env: hostDockerEnv(), stdout: "pipe", stderr: "ignore" });
  return r.exitCode === 0 && Bun.spawnSync(["docker", "image", "inspect", "bb:local"], { env: hostDockerEnv(), stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

export function hostDockerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "DOCKER_HOST" && k !== "DOCKER_CONTEXT") env[k] = v;
  return { ...env, DOCKER_CLI_HINTS: "false" };
}

/** Run the host's docker CLI (against /var/run/docker.sock). */
export async function hostDocker(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn(["docker", ...args], { env: hostDockerEnv(), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

const readOr = (path: string) => {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    return `(${(err as NodeJS.ErrnoException).code})`;
  }
};

/** Host state the attempts aim at: kernel settings, every cgroup v1 release_agent, the kernel log's tail. */
export function hostState(): Record<string, string> {
  const s: Record<string, string> = {};
  for (const p of ["/proc/sys/kernel/core_pattern", "/proc/sys/kernel/panic", "/proc/sys/vm/overcommit_memory", "/sys/kernel/mm/ksm/run", "/proc/sys/kernel/hostname"]) s[p] = readOr(p);
  for (const m of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = m.split(" ");
    if (f[f.indexOf("-") + 1] === "cgroup") {
      s[`${f[4]}/release_agent`] = readOr(`${f[4]}/release_agent`);
      s[`${f[4]}/notify_on_release`] = readOr(`${f[4]}/notify_on_release`);
    }
  }
  return s;
}

/** The kernel log (the host may read it; containers must not write to it). */
export function kernelLog(): string {
  return Bun.spawnSync(["dmesg"], { stdout: "pipe", stderr: "ignore" }).stdout.toString();
}

/** sha256 and device/inode of each file. */
export function fingerprint(paths: string[]): Record<string, { sha256: string; dev: number; ino: number }> {
  const out: Record<string, { sha256: string; dev: number; ino: number }> = {};
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const st = statSync(p);
    out[p] = { sha256: new Bun.CryptoHasher("sha256").update(readFileSync(p)).digest("hex"), dev: st.dev, ino: st.ino };
  }
  return out;
}
