// Escape attempts from a default container: each runs inside `berth run`
// (busybox sh, or a static program from test/escape/*.c bound in at /t)
// and must fail, for the right reason, leaving the host unchanged. Where
// Docker answers at /var/run/docker.sock the same attempt runs there too;
// the table (attempt | berth | docker) is printed at the end and written to
// /tmp/berth-escape-report.json. Docker's outcome is a report, not an
// assertion, except that berth must block everything Docker blocks.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mkdtempSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { REPO, berth, daemonPid, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";
import { SH_PRELUDE, buildEscapeTools, dockerAvailable, fingerprint, hostDocker, hostState, kernelLog, verdictOf, type Verdict } from "./helpers/escape.ts";

const REPORT = "/tmp/berth-escape-report.json";

let t: TestRoot;
let tools: string;
let withDocker = false;
/** Host pids outside the container, per engine: its daemon, another container's process, this test. */
const outside: Record<"berth" | "docker", number[]> = { berth: [], docker: [] };
const dockerOthers: string[] = [];
const rows: { attempt: string; berth: string; docker: string; berthBlocked: boolean; dockerBlocked: boolean | null }[] = [];

const rootDisk = () => {
  const st = statSync("/");
  // st.dev is the kernel's encoding: major in bits 8-19 (and above 32), minor in 0-7 and 20-31.
  return { major: (st.dev >> 8) & 0xfff, minor: (st.dev & 0xff) | ((st.dev >> 12) & 0xfff00) };
};

beforeAll(async () => {
  tools = buildEscapeTools();
  t = makeRoot();
  await importBusybox(t);
  const other = await berth(t, ["run", "-d", "--name", "bystander", "bb", "sleep", "3600"]);
  expect(other.code, other.stderr).toBe(0);
  const otherPid = Number((await berth(t, ["inspect", "-f", "{{.State.Pid}}", "bystander"])).stdout.trim());
  outside.berth = [daemonPid(t)!, otherPid, process.pid];
  withDocker = dockerAvailable();
  if (withDocker) {
    const d = await hostDocker(["run", "-d", "--rm", "bb:local", "sleep", "3600"]);
    if (d.code === 0) {
      dockerOthers.push(d.stdout.trim());
      const pid = Number((await hostDocker(["inspect", "-f", "{{.State.Pid}}", d.stdout.trim()])).stdout.trim());
      const dockerd = Number(Bun.spawnSync(["pidof", "-s", "dockerd"]).stdout.toString().trim());
      outside.docker = [dockerd, pid, process.pid];
    }
  }
}, 120_000);

afterAll(async () => {
  for (const id of dockerOthers) await hostDocker(["rm", "-f", id]);
  if (t) {
    await removeRoot(t);
    expect(leaks(t)).toEqual([]);
  }
  const w = Math.max(...rows.map((r) => r.attempt.length), 7);
  const lines = [`${"attempt".padEnd(w)} | berth | docker`, `${"-".repeat(w)}-|-------|-------`];
  for (const r of rows) lines.push(`${r.attempt.padEnd(w)} | ${r.berthBlocked ? "blocked" : "ESCAPED"} | ${r.dockerBlocked === null ? "n/a" : r.dockerBlocked ? "blocked" : "ESCAPED"}`);
  console.log(`escape attempts (details in ${REPORT}):\n${lines.join("\n")}`);
  writeFileSync(REPORT, JSON.stringify({ docker: withDocker, rows }, null, 2));
});

interface Ctx {
  engine: "berth" | "docker";
  /** Host pids the container must not reach. */
  outside: number[];
  marker: string;
}

interface Attempt {
  name: string;
  /** The container's command: a shell script (SH_PRELUDE's try/finish are defined) or a /t program. */
  script: (c: Ctx) => string;
  /** errno names a blocked step may fail with (the right reasons). */
  reasons: string[];
}

const sameValue = (path: string) => `try "write ${path} (its own value)" 'v=$(cat ${path}) && echo "$v" > ${path}'`;

const ATTEMPTS: Attempt[] = [
  {
    name: "mount a tmpfs, bind-mount /, remount /proc/sys rw, unmount a masked path",
    script: () => `${SH_PRELUDE}
mkdir -p /tmp/m
try "mount -t tmpfs" 'mount -t tmpfs none /tmp/m'
try "mount --bind / /tmp/m" 'mount --bind / /tmp/m'
try "remount /proc/sys read-write" 'mount -o remount,rw /proc/sys'
try "umount /proc/keys" 'umount /proc/keys'
try "umount /sys (read-only)" 'umount /sys'
finish`,
    reasons: ["EPERM"],
  },
  { name: "unshare(CLONE_NEWUSER) to regain capabilities, then mount", script: () => "/t/userns", reasons: ["EPERM"] },
  {
    name: "write /proc/sysrq-trigger",
    // Absent on a kernel without CONFIG_MAGIC_SYSRQ, then nothing can create it.
    script: () => `${SH_PRELUDE}\ntry "echo h > /proc/sysrq-trigger" 'echo h > /proc/sysrq-trigger'\nfinish`,
    reasons: ["EROFS", "ENOENT"],
  },
  {
    name: "write /proc/sys/kernel/core_pattern, kernel/panic, vm/overcommit_memory",
    script: () => [SH_PRELUDE, ...["/proc/sys/kernel/core_pattern", "/proc/sys/kernel/panic", "/proc/sys/vm/overcommit_memory"].map(sameValue), "finish"].join("\n"),
    reasons: ["EROFS"],
  },
  {
    name: "write /sys (kernel/mm/ksm/run, cgroup release_agent, block queue settings)",
    script: () =>
      [
        SH_PRELUDE,
        ...["/sys/kernel/mm/ksm/run", "/sys/fs/cgroup/memory/release_agent", "/sys/fs/cgroup/memory/notify_on_release"].map(sameValue),
        `b=$(ls /sys/block | head -n1); [ -n "$b" ] && ${sameValue("/sys/block/$b/queue/read_ahead_kb")}`,
        "finish",
      ].join("\n"),
    // ENOENT: a container's cgroup is its hierarchy's root only in name; release_agent exists in the real root alone.
    reasons: ["EROFS", "ENOENT"],
  },
  {
    name: "write /dev/kmsg (as is, and through mknod c 1 11)",
    script: (c) => `${SH_PRELUDE}
try "write /dev/kmsg" 'ls /dev/kmsg >&2 && [ -c /dev/kmsg ] && echo ${c.marker} > /dev/kmsg'
try "mknod c 1 11, write it" 'mknod /tmp/kmsg c 1 11 && echo ${c.marker} > /tmp/kmsg'
finish`,
    reasons: ["ENOENT", "EPERM"],
  },
  {
    name: "read the kernel log (dmesg, /proc/kmsg)",
    script: () => `${SH_PRELUDE}
try "dmesg" 'dmesg > /dev/null'
try "open /proc/kmsg" 'dd if=/proc/kmsg of=/dev/null bs=1 count=0'
finish`,
    reasons: ["EPERM"],
  },
  {
    name: "mknod and open raw devices (the host's disk, a loop device, /dev/mem)",
    script: () => {
      const d = rootDisk();
      return `${SH_PRELUDE}
try "mknod b ${d.major} ${d.minor}, read it" 'mknod /tmp/disk b ${d.major} ${d.minor} && head -c 512 /tmp/disk > /dev/null'
try "mknod b 7 0 (loop0), open it" 'mknod /tmp/loop b 7 0 && head -c 1 /tmp/loop > /dev/null'
try "mknod c 1 1 (/dev/mem), read it" 'mknod /tmp/mem c 1 1 && head -c 1 /tmp/mem > /dev/null'
finish`;
    },
    reasons: ["EPERM"],
  },
  { name: "load a kernel module (finit_module, init_module)", script: () => "/t/module", reasons: ["EPERM", "ENOSYS"] },
  { name: "reboot(2)", script: () => "/t/reboot", reasons: ["EPERM"] },
  { name: "set the clock (clock_settime, settimeofday)", script: () => "/t/clock", reasons: ["EPERM"] },
  { name: "keyctl(2) / add_key(2) on the kernel keyring", script: () => "/t/keyctl", reasons: ["EPERM", "ENOSYS"] },
  { name: "open_by_handle_at (shocker) on a host bind mount", script: () => "/t/shocker /etc/hostname", reasons: ["EPERM"] },
  { name: "ptrace the daemon, another container's process, the host", script: (c) => `/t/ptrace ${c.outside.join(" ")}`, reasons: ["ESRCH", "EPERM"] },
  {
    name: "see host processes (ps, /proc/PID of the daemon)",
    // Every process a fresh container sees is its own: this script and its subshells.
    script: (c) => `${SH_PRELUDE}
for p in /proc/[0-9]*; do
  c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)
  case "$c" in "sh -c"*|"tr "*|"") ;; *) echo "step see ${"$"}{p#/proc/} ($c): ok"; esc="$esc${"$"}{p#/proc/}: $c; " ;; esac
done
for pid in ${c.outside.join(" ")}; do try "read /proc/$pid/cmdline" "grep -q -e berthd -e dockerd -e vitest -e sleep /proc/$pid/cmdline"; done
finish`,
    reasons: ["ENOENT"],
  },
  // ENOENT: a cgroup v1 hierarchy mounted in a new cgroup namespace has the container's cgroup as its root, without release_agent.
  { name: "mount cgroup v1 and write release_agent (CVE-2022-0492)", script: () => "/t/release-agent", reasons: ["EPERM", "ENOENT"] },
];

async function runIn(engine: "berth" | "docker", script: string): Promise<Verdict> {
  const args = ["run", "--rm", "-v", `${tools}:/t:ro`];
  const r = engine === "berth" ? await berth(t, [...args, "bb", "sh", "-c", script]) : await hostDocker([...args, "bb:local", "sh", "-c", script]);
  const v = verdictOf(r.stdout);
  if (v.outcome === "error") v.detail += ` (exit ${r.code}, stderr: ${r.stderr.trim().slice(-300)})`;
  return v;
}

const show = (v: Verdict) => `${v.outcome}${v.errnos.length ? ` ${v.errnos.join(",")}` : ""}: ${v.detail}`;

function record(attempt: string, b: Verdict, d: Verdict | null) {
  rows.push({ attempt, berth: show(b), docker: d ? show(d) : "n/a", berthBlocked: b.outcome === "blocked", dockerBlocked: d ? d.outcome === "blocked" : null });
}

describe("escape attempts from a default container", () => {
  for (const a of ATTEMPTS) {
    test(a.name, async () => {
      const marker = `berth-escape-${Math.random().toString(36).slice(2, 10)}`;
      const before = hostState();
      const b = await runIn("berth", a.script({ engine: "berth", outside: outside.berth, marker }));
      const afterBerth = hostState();
      const berthLogged = kernelLog().includes(marker);
      const d = withDocker ? await runIn("docker", a.script({ engine: "docker", outside: outside.docker, marker })) : null;
      record(a.name, b, d);
      expect(afterBerth, "host state after the berth attempt").toEqual(before);
      expect(berthLogged, "the berth attempt wrote to the kernel log").toBe(false);
      expect(b.outcome, show(b)).toBe("blocked");
      for (const e of b.errnos) expect(a.reasons, `${a.name}: ${show(b)}`).toContain(e);
    });
  }

  test("overwrite the runtime through /proc/PID/exe while an exec happens (CVE-2019-5736)", async () => {
    // The host binaries a container must never reach: berth's Bun, monitor and init; Docker's runc, shim, daemons.
    const bun = realpathSync(`${REPO}/node_modules/.bin/bun`);
    const berthBins = [bun, realpathSync(process.execPath), `${REPO}/.build/berth-monitor`, `${REPO}/.build/berth-init`];
    const dockerBins = ["/usr/sbin/runc", "/usr/bin/runc", "/usr/bin/containerd-shim-runc-v2", "/usr/bin/containerd", "/usr/sbin/dockerd", "/usr/bin/dockerd", "/usr/bin/docker-init"];
    const before = fingerprint([...berthBins, ...dockerBins]);
    const markerDir = mkdtempSync("/tmp/berth-escape-marker-");
    try {
      const b = await exeRace("berth", before, markerDir);
      const d = withDocker ? await exeRace("docker", before, markerDir) : null;
      record("overwrite the runtime via /proc/PID/exe during exec (CVE-2019-5736)", b, d);
      expect(fingerprint([...berthBins, ...dockerBins]), "host runtime binaries (sha256)").toEqual(before);
      expect(b.outcome, show(b)).toBe("blocked");
    } finally {
      rmSync(markerDir, { recursive: true, force: true });
    }
  }, 120_000);

  test("berth blocks every attempt Docker blocks", () => {
    if (!withDocker) console.log("Docker does not answer at /var/run/docker.sock: no side-by-side comparison");
    const weaker = rows.filter((r) => r.dockerBlocked === true && !r.berthBlocked).map((r) => `${r.attempt}: berth ${r.berth}; docker ${r.docker}`);
    expect(weaker).toEqual([]);
  });
});

/**
 * A container runs exe-watch while the engine execs into it: `true` many
 * times, and /evil, a script whose interpreter is /proc/self/exe (so the
 * kernel runs whatever binary the runtime's process is at that moment).
 * Escaped if the container reached a host runtime binary, opened anything
 * for writing, or saw the host's root through a thread of the runtime.
 */
async function exeRace(engine: "berth" | "docker", hostBins: ReturnType<typeof fingerprint>, markerDir: string): Promise<Verdict> {
  const run = (args: string[]) => (engine === "berth" ? berth(t, args) : hostDocker(args));
  const name = `exe-race-${engine}-${Math.random().toString(36).slice(2, 8)}`;
  // Bun runs the script as JavaScript and lingers; runc prints its usage and exits.
  const evil = "printf '#!/proc/self/exe\\nsetTimeout(() => {}, 1500)\\n' > /evil && chmod +x /evil";
  const image = engine === "berth" ? "bb" : "bb:local";
  const started = await run(["run", "-d", "--name", name, "-v", `${tools}:/t:ro`, image, "sh", "-c", `${evil} && exec /t/exe-watch 12 ${markerDir}`]);
  if (started.code !== 0) return { outcome: "error", errnos: [], detail: `run: ${started.stderr}` };
  try {
    for (let i = 0; i < 50 && !(await run(["logs", name])).stdout.includes("ready"); i++) await Bun.sleep(100);
    // A failed exec keeps the runtime's process in the container longest (it reports the error, then exits).
    for (let i = 0; i < 3; i++) await run(["exec", name, "/evil"]);
    for (let i = 0; i < 10; i++) await run(["exec", name, "/no-such-command"]);
    for (let i = 0; i < 15; i++) await run(["exec", name, "true"]);
    await run(["wait", name]);
    const out = (await run(["logs", name])).stdout;
    if (!out.includes("done")) return { outcome: "error", errnos: [], detail: `exe-watch did not finish: ${out.slice(-300)}` };
    const byIno = new Map(Object.entries(hostBins).map(([path, f]) => [`${f.dev}:${f.ino}`, path]));
    const found: string[] = [];
    for (const line of out.split("\n")) {
      const [kind, pid, a, b, c, d] = line.split(" ");
      if (kind === "exe") {
        // exe PID DEV INO write:RESULT LINK
        const host = byIno.get(`${a}:${b}`);
        if (host) found.push(`pid ${pid}: opened the host's ${host} through /proc/${pid}/exe (reopen for writing: ${c!.slice(6)})`);
        else if (c === "write:OPENED") found.push(`pid ${pid}: reopened ${d} for writing through /proc/${pid}/exe`);
      } else if (kind === "root") {
        // root PID TID DEV INO marker:yes|no
        found.push(`pid ${pid} thread ${a}: its root is not the container's (${b}:${c})${d === "marker:yes" ? ", and the host's files are there" : ""}`);
      }
    }
    return found.length ? { outcome: "escaped", errnos: [], detail: found.join("; ") } : { outcome: "blocked", errnos: [], detail: "no host runtime binary, writable executable or foreign root reached" };
  } finally {
    await run(["rm", "-f", name]);
  }
}
