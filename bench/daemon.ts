// The daemon's figures, berth next to Docker (and Podman) in the same run:
//   - 50 sequential `run -d --network none <busybox> sleep 1000`, total time
//   - engine-side memory per idle container (PSS of host-namespace
//     processes: daemon growth plus monitors/shims, ../shared/tools/engine_pss.py)
//   - `ps` with those 50 running, and berth's `ps` with 1,000
// Usage: bun bench/daemon.ts [containers=50] [ps-runs=20] [big=1000]
// Peers come from ../shared/tools/peers-setup.sh; absent ones are skipped.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { peerWorks, timeCommand, type Summary } from "./lib.ts";

const N = Number(process.argv[2] ?? 50);
const PS_RUNS = Number(process.argv[3] ?? 20);
const BIG = Number(process.argv[4] ?? 1000);
const repo = new URL("..", import.meta.url).pathname;
const work = "/var/tmp/berth-bench";
const tar = `${work}/busybox.tar`;
const pssTool = [`${repo}../shared/tools/engine_pss.py`, "/work/shared/tools/engine_pss.py"].find(existsSync);

mkdirSync(work, { recursive: true });
if (!existsSync(tar)) Bun.spawnSync([`${repo}bin/mkimage-busybox`, tar], { stdout: "inherit", stderr: "inherit" });
const root = mkdtempSync(`${work}/daemon-root-`);
const berth = [`${repo}bin/berth`, "--root", root, "--cgroup-parent", `berth-bench-${root.slice(-6)}`];

function run(argv: string[], input?: Blob): string {
  const p = Bun.spawnSync(argv, { stdin: input ?? "ignore", stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${p.exitCode}): ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}

interface EngineRow {
  name: string;
  starts: Summary;
  totalMs: number;
  pssKiB?: number;
  ps: Summary;
}

/** Start N idle containers one after another, measuring each start and the memory they cost. */
function measure(name: string, cli: string[], image: string, extraRun: string[] = []): EngineRow {
  const snap = `${work}/pss-${name.replace(/\W/g, "")}.json`;
  if (pssTool) run(["python3", pssTool, "snapshot", snap]);
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const s = performance.now();
    run([...cli, "run", "-d", ...extraRun, "--network", "none", image, "sleep", "1000"]);
    times.push(performance.now() - s);
  }
  const totalMs = performance.now() - t0;
  Bun.sleepSync(2000); // let the engine settle before its memory is read
  const pssKiB = pssTool ? Number(run(["python3", pssTool, "diff", snap, String(N)]).trim()) : undefined;
  const ps = timeCommand(`${name} ps (${N})`, [...cli, "ps"], PS_RUNS);
  times.sort((a, b) => a - b);
  const starts = { name, runs: N, min: times[0]!, median: times[Math.floor(N / 2)]!, max: times[N - 1]! };
  return { name, starts, totalMs, pssKiB, ps };
}

function removeAll(cli: string[]) {
  const ids = run([...cli, "ps", "-aq"]).split("\n").filter(Boolean);
  for (let i = 0; i < ids.length; i += 100) run([...cli, "rm", "-f", ...ids.slice(i, i + 100)]);
}

/** Run `count` more idle berth containers, 8 at a time. */
async function fill(count: number) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const p = Bun.spawn([...berth, "run", "-d", "--network", "none", "bb:local", "sleep", "1000"], { stdout: "ignore", stderr: "pipe" });
      if ((await p.exited) !== 0) throw new Error(`run -d failed: ${await new Response(p.stderr).text()}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

const rows: EngineRow[] = [];
let big: Summary | undefined;
try {
  run([...berth, "import", tar, "bb:local"]);
  rows.push(measure("berth", berth, "bb:local"));
  await fill(BIG - N);
  big = timeCommand(`berth ps (${BIG})`, [...berth, "ps"], PS_RUNS);
  const count = run([...berth, "ps", "-q"]).split("\n").filter(Boolean).length;
  if (count !== BIG) throw new Error(`expected ${BIG} running containers, ps shows ${count}`);
  removeAll(berth);

  if (peerWorks(["docker", "info"])) {
    run(["docker", "import", tar, "bb:local"]);
    rows.push(measure("docker", ["docker"], "bb:local"));
    removeAll(["docker"]);
  }
  if (peerWorks(["podman", "--version"])) {
    run(["podman", "import", tar, "localhost/bb:local"]);
    // crun and podman's default rlimits fail on this hybrid-cgroup host (see PEERS.md).
    const podman = ["podman", "--runtime", "runc"];
    rows.push(measure("podman (runc)", podman, "localhost/bb:local", ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]));
    removeAll(podman);
  }
} finally {
  Bun.spawnSync([...berth, "system", "prune", "-af"], { stdout: "ignore", stderr: "ignore" });
  const pid = Bun.spawnSync(["cat", `${root}/berthd.pid`]).stdout.toString().trim();
  if (pid) Bun.spawnSync(["kill", pid]);
  Bun.sleepSync(500);
  rmSync(root, { recursive: true, force: true });
}

const base = rows[0]!;
const ratio = (v: number, b: number) => (v === b ? "1.00x" : `${(v / b).toFixed(2)}x`);
const f = (n: number) => n.toFixed(1);
console.log(`### berthd: ${N} sequential run -d, memory per idle container, ps (${new Date().toISOString().slice(0, 10)})\n`);
console.log(`| engine | ${N} x run -d, total s | run -d median ms (min-max) | engine PSS per idle container | ps median ms | vs berth (starts / memory / ps) |`);
console.log("|---|---|---|---|---|---|");
for (const r of rows) {
  const mem = r.pssKiB === undefined ? "-" : `${r.pssKiB} KiB`;
  const memRatio = r.pssKiB !== undefined && base.pssKiB ? ratio(r.pssKiB, base.pssKiB) : "-";
  console.log(
    `| ${r.name} | ${(r.totalMs / 1000).toFixed(2)} | ${f(r.starts.median)} (${f(r.starts.min)}-${f(r.starts.max)}) | ${mem} | ${f(r.ps.median)} | ${ratio(r.totalMs, base.totalMs)} / ${memRatio} / ${ratio(r.ps.median, base.ps.median)} |`,
  );
}
if (big) console.log(`\nberth ps with ${BIG} running containers: median ${f(big.median)} ms (min ${f(big.min)}, max ${f(big.max)}, ${big.runs} runs)`);
console.log(`\nmachine: ${navigator.hardwareConcurrency} CPUs, kernel ${run(["uname", "-r"]).trim()}; command: bun bench/daemon.ts ${N} ${PS_RUNS} ${BIG}`);
