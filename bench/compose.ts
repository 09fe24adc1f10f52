// A 10-service stack (one service with a volume that the nine others depend
// on, each with environment, labels and init), brought up, brought up again
// with nothing changed, and taken down: `berth compose` on berthd next to
// docker-compose (1.29, Debian's) on Docker Engine, in the same run.
// Usage: bun bench/compose.ts [runs=5] [noop-runs=20]
// Peers come from ../shared/tools/peers-setup.sh (Docker with bb:local); absent ones are skipped.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { peerWorks, report, type Summary } from "./lib.ts";

const RUNS = Number(process.argv[2] ?? 5);
const NOOP_RUNS = Number(process.argv[3] ?? 20);
const repo = new URL("..", import.meta.url).pathname;
const work = "/var/tmp/berth-bench";
const tar = `${work}/busybox.tar`;
mkdirSync(work, { recursive: true });
if (!existsSync(tar)) Bun.spawnSync([`${repo}bin/mkimage-busybox`, tar], { stdout: "inherit", stderr: "inherit" });

const dir = mkdtempSync(`${work}/compose-`);
const services = Array.from({ length: 10 }, (_, i) =>
  [
    `  svc${i}:`,
    "    image: bb:local",
    `    command: ["sleep", "100000"]`,
    "    init: true",
    `    environment: {ROLE: svc${i}, INDEX: "${i}"}`,
    `    labels: {bench.index: "${i}"}`,
    ...(i === 0 ? ['    volumes: ["data:/data"]'] : ["    depends_on: [svc0]"]),
  ].join("\n"),
);
writeFileSync(`${dir}/compose.yaml`, ["services:", ...services, "volumes:", "  data: {}", ""].join("\n"));

function run(argv: string[], env: Record<string, string> = {}): void {
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${p.exitCode}): ${p.stderr.toString().trim()}`);
}

function timed(argv: string[], env?: Record<string, string>): number {
  const t0 = performance.now();
  run(argv, env);
  return performance.now() - t0;
}

const summary = (name: string, times: number[]): Summary => {
  const s = [...times].sort((a, b) => a - b);
  return { name, runs: s.length, min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
};

interface Row {
  up: Summary;
  noop: Summary;
  down: Summary;
}

/** RUNS cycles of up, NOOP_RUNS no-op ups (in the first cycle), down. */
function measure(name: string, compose: string[], env: Record<string, string> = {}): Row {
  const up: number[] = [];
  const noop: number[] = [];
  const down: number[] = [];
  run([...compose, "down", "-v"], env); // nothing left from an earlier run
  for (let i = 0; i < RUNS; i++) {
    up.push(timed([...compose, "up", "-d"], env));
    if (i === 0) for (let j = 0; j < NOOP_RUNS; j++) noop.push(timed([...compose, "up", "-d"], env));
    down.push(timed([...compose, "down", "-v"], env));
  }
  return { up: summary(name, up), noop: summary(name, noop), down: summary(name, down) };
}

const rows: Row[] = [];
const root = mkdtempSync(`${work}/compose-root-`);
const berth = [`${repo}bin/berth`, "--root", root, "--cgroup-parent", `berth-bench-${root.slice(-6)}`];
try {
  run([...berth, "import", tar, "bb:local"]);
  rows.push(measure("berth compose", [...berth, "compose", "-p", "bench10", "-f", `${dir}/compose.yaml`]));
  if (peerWorks(["docker", "image", "inspect", "bb:local"]) && peerWorks(["docker-compose", "version"])) {
    rows.push(measure("docker-compose 1.29 + Docker", ["docker-compose", "-p", "bench10", "-f", `${dir}/compose.yaml`], { COMPOSE_INTERACTIVE_NO_CLI: "1" }));
  } else console.error("docker or docker-compose not available: skipped (run ../shared/tools/peers-setup.sh)");
} finally {
  Bun.spawnSync([...berth, "compose", "-p", "bench10", "-f", `${dir}/compose.yaml`, "down", "-v"], { stdout: "ignore", stderr: "ignore" });
  Bun.spawnSync(["sh", "-c", `kill $(cat ${root}/berthd.pid) 2>/dev/null; sleep 1`]);
  rmSync(root, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
}

console.log(`# berth compose vs docker-compose: a 10-service stack (${RUNS} cycles, ${NOOP_RUNS} no-op ups)\n`);
console.log(report("up -d (create and start 10 containers, a network, a volume)", rows.map((r) => r.up)));
console.log();
console.log(report("up -d again, nothing changed", rows.map((r) => r.noop)));
console.log();
console.log(report("down -v", rows.map((r) => r.down)));
