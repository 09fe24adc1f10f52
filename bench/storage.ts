// The storage drivers side by side, with the peers on the same drivers: a
// container's start (`run --rm --network none <busybox> true`) and a copy-up
// of 10,000 files (a container appending to every file of a 10,000-file
// image layer), for berth on overlay, fuse-overlay and vfs, Podman on the
// same three (its own --root each), and Docker on its overlay2.
// Usage: bun bench/storage.ts [runs=10]
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { peerWorks, timeCommand, type Summary, run } from "./lib.ts";

const RUNS = Number(process.argv[2] ?? 10);
const COPY_UP_RUNS = Math.max(3, Math.floor(RUNS / 2));
const repo = new URL("..", import.meta.url).pathname;
const work = "/var/tmp/berth-bench";
const tar = `${work}/busybox.tar`;
mkdirSync(work, { recursive: true });
if (!existsSync(tar)) Bun.spawnSync([`${repo}bin/mkimage-busybox`, tar], { stdout: "inherit", stderr: "inherit" });

/**
 * Without a journal (this machine's root filesystem) ext4 skips the inodes
 * freed in the last 30 s when it allocates, which makes every file creation
 * several times slower: the copy-ups start 31 s after the last deletion, and
 * their containers are removed only once all are timed.
 */
const settle = () => {
  Bun.spawnSync(["sync"]);
  Bun.sleepSync(31_000);
};

// An image with 10,000 small files in one layer, built from busybox.
const ctx = mkdtempSync(`${work}/storage-ctx-`);
writeFileSync(`${ctx}/Dockerfile`, ["FROM bb:local", "RUN mkdir /data && cd /data && i=0; while [ $i -lt 10000 ]; do echo $i > f$i; i=$((i+1)); done", ""].join("\n"));
const COPY_UP = "cd /data && for f in *; do echo x >> $f; done";

interface Engine {
  name: string;
  driver: string;
  /** The command line up to the subcommand. */
  cli: string[];
  /** Extra `run` flags (Podman's rlimits on this host, see bench/run.ts). */
  runFlags: string[];
  /** Podman's own bridge fails on this host ("iptables: Chain already exists"): its RUN steps go without a network. */
  buildFlags: string[];
  image: string;
  cleanup(): void;
}

function berthEngine(driver: string): Engine {
  const root = mkdtempSync(`${work}/storage-root-`);
  const cli = [`${repo}bin/berth`, "--root", root, "--cgroup-parent", `berth-bench-${root.slice(-6)}`, "--storage-driver", driver];
  run([...cli, "import", "--change", 'CMD ["sh"]', tar, "bb:local"]);
  return {
    name: "berth", driver, cli, runFlags: [], buildFlags: [], image: "bb:local",
    cleanup() {
      Bun.spawnSync(["sh", "-c", `kill $(cat ${root}/berthd.pid) 2>/dev/null; sleep 1`]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function podmanEngine(driver: string): Engine {
  const root = mkdtempSync(`${work}/podman-root-`);
  const storage = driver === "vfs" ? ["--storage-driver", "vfs"]
    : driver === "fuse-overlay" ? ["--storage-driver", "overlay", "--storage-opt", "overlay.mount_program=/usr/bin/fuse-overlayfs"]
    : ["--storage-driver", "overlay"];
  const cli = ["podman", "--root", `${root}/storage`, "--runroot", `${root}/run`, ...storage, "--runtime", "runc"];
  run([...cli, "import", tar, "localhost/bb:local"]);
  return {
    name: "podman (runc)", driver, cli, image: "localhost/bb:local", buildFlags: ["--network", "none"],
    runFlags: ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"],
    cleanup() {
      Bun.spawnSync([...cli, "rm", "-af"], { stdout: "ignore", stderr: "ignore" });
      Bun.spawnSync([...cli, "system", "reset", "-f"], { stdout: "ignore", stderr: "ignore" });
      Bun.spawnSync(["sh", "-c", `umount -R ${root}/storage/overlay 2>/dev/null; umount ${root}/storage/overlay 2>/dev/null`]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function dockerEngine(): Engine {
  run(["docker", "import", tar, "bb:local"]);
  return {
    name: "docker", driver: "overlay2", cli: ["docker"], runFlags: [], buildFlags: [], image: "bb:local",
    cleanup() {
      Bun.spawnSync(["docker", "rmi", "-f", "berth-bench-files:10k"], { stdout: "ignore", stderr: "ignore" });
    },
  };
}

interface Row {
  engine: string;
  driver: string;
  start: Summary;
  copyUp: Summary;
}

const makers: (() => Engine)[] = [];
const podman = peerWorks(["podman", "--version"]);
const docker = peerWorks(["docker", "info"]);
for (const driver of ["overlay", "fuse-overlay", "vfs"]) {
  makers.push(() => berthEngine(driver));
  if (podman) makers.push(() => podmanEngine(driver));
  if (docker && driver === "overlay") makers.push(dockerEngine);
}

const rows: Row[] = [];
try {
  for (const make of makers) {
    const e = make();
    try {
      const label = `${e.name} ${e.driver}`;
      run([...e.cli, "build", "-q", ...e.buildFlags, "-t", "berth-bench-files:10k", ctx]);
      settle();
      const copyUp = timeCommand(label, ["sh", "-c", `exec "$@" --name bench-copyup-$(date +%s%N) berth-bench-files:10k sh -c '${COPY_UP}'`, "sh", ...e.cli, "run", "--network", "none", ...e.runFlags], COPY_UP_RUNS, 1);
      const start = timeCommand(label, [...e.cli, "run", "--rm", "--network", "none", ...e.runFlags, e.image, "true"], RUNS);
      rows.push({ engine: e.name, driver: e.driver, start, copyUp });
      const ids = run([...e.cli, "ps", "-aq", "--filter", "name=bench-copyup-"]).trim().split("\n").filter(Boolean);
      if (ids.length) run([...e.cli, "rm", "-f", ...ids]);
    } finally {
      e.cleanup();
    }
  }
} finally {
  rmSync(ctx, { recursive: true, force: true });
}

const fmt = (s: Summary) => `${s.median.toFixed(1)} (${s.min.toFixed(1)}-${s.max.toFixed(1)})`;
console.log(`# storage drivers: start (${RUNS} runs) and a 10,000-file copy-up (${COPY_UP_RUNS} runs)\n`);
console.log("| engine | driver | run --rm true, median ms (min-max) | vs berth | copy-up of 10,000 files, median ms (min-max) | vs berth |");
console.log("|---|---|---|---|---|---|");
for (const r of rows) {
  const base = rows.find((b) => b.engine === "berth" && (b.driver === r.driver || (r.driver === "overlay2" && b.driver === "overlay")))!;
  const ratio = (a: number, b: number) => (a === b ? "1.00x" : `${(a / b).toFixed(2)}x`);
  console.log(`| ${r.engine} | ${r.driver} | ${fmt(r.start)} | ${ratio(r.start.median, base.start.median)} | ${fmt(r.copyUp)} | ${ratio(r.copyUp.median, base.copyUp.median)} |`);
}
