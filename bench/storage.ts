// The storage drivers side by side: a container's start (`run --rm
// --network none <busybox> true`) and a copy-up of 10,000 files (a
// container appending to every file of a 10,000-file image layer), under
// overlay, fuse-overlay and vfs, each on its own berth root.
// Usage: bun bench/storage.ts [runs=10]
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { timeCommand, type Summary } from "./lib.ts";

const RUNS = Number(process.argv[2] ?? 10);
const repo = new URL("..", import.meta.url).pathname;
const work = "/var/tmp/berth-bench";
const tar = `${work}/busybox.tar`;
mkdirSync(work, { recursive: true });
if (!existsSync(tar)) Bun.spawnSync([`${repo}bin/mkimage-busybox`, tar], { stdout: "inherit", stderr: "inherit" });

function run(argv: string[]): string {
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${p.exitCode}): ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}

// An image with 10,000 small files in one layer, built from busybox.
const ctx = mkdtempSync(`${work}/storage-ctx-`);
writeFileSync(`${ctx}/Dockerfile`, ["FROM bb:local", "RUN mkdir /data && cd /data && i=0; while [ $i -lt 10000 ]; do echo $i > f$i; i=$((i+1)); done", ""].join("\n"));
const COPY_UP = "cd /data && for f in *; do echo x >> $f; done";

interface Row {
  driver: string;
  start: Summary;
  copyUp: Summary;
}

const rows: Row[] = [];
try {
  for (const driver of ["overlay", "fuse-overlay", "vfs"]) {
    const root = mkdtempSync(`${work}/storage-root-`);
    const berth = [`${repo}bin/berth`, "--root", root, "--cgroup-parent", `berth-bench-${root.slice(-6)}`, "--storage-driver", driver];
    try {
      run([...berth, "import", "--change", 'CMD ["sh"]', tar, "bb:local"]);
      run([...berth, "build", "-q", "-t", "files:10k", ctx]);
      const start = timeCommand(driver, [...berth, "run", "--rm", "--network", "none", "bb:local", "true"], RUNS);
      const copyUp = timeCommand(driver, [...berth, "run", "--rm", "--network", "none", "files:10k", "sh", "-c", COPY_UP], Math.max(3, Math.floor(RUNS / 2)), 1);
      rows.push({ driver, start, copyUp });
    } finally {
      Bun.spawnSync(["sh", "-c", `kill $(cat ${root}/berthd.pid) 2>/dev/null; sleep 1`]);
      rmSync(root, { recursive: true, force: true });
    }
  }
} finally {
  rmSync(ctx, { recursive: true, force: true });
}

const fmt = (s: Summary) => `${s.median.toFixed(1)} (${s.min.toFixed(1)}-${s.max.toFixed(1)})`;
console.log(`# storage drivers: start and a 10,000-file copy-up (${RUNS} starts each)\n`);
console.log("| driver | run --rm true, median ms (min-max) | copy-up of 10,000 files, median ms (min-max) | start vs overlay | copy-up vs overlay |");
console.log("|---|---|---|---|---|");
const base = rows[0]!;
for (const r of rows) console.log(`| ${r.driver} | ${fmt(r.start)} | ${fmt(r.copyUp)} | ${(r.start.median / base.start.median).toFixed(2)}x | ${(r.copyUp.median / base.copyUp.median).toFixed(2)}x |`);
