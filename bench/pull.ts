// Pull a 200 MB image of 2,000 files (4 gzip layers of 500 random files)
// from a local registry, berth next to Docker in the same run, each pull
// into an empty store. The image is made offline (busybox and /dev/urandom),
// saved by berth and pushed with gzip layers by skopeo, as registries
// usually hold them.
// Usage: bun bench/pull.ts [runs=5]   (needs docker-registry and skopeo; Docker optional)
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { peerWorks, report, type Summary } from "./lib.ts";
import { startRegistry } from "../test/helpers/docker-registry.ts";

const runs = Number(process.argv[2] ?? 5);
const repo = new URL("..", import.meta.url).pathname;
const work = "/var/tmp/berth-bench/pull";
const tar = "/var/tmp/berth-bench/busybox.tar";
mkdirSync(work, { recursive: true });
if (!existsSync(tar)) Bun.spawnSync([`${repo}bin/mkimage-busybox`, tar], { stdout: "inherit", stderr: "inherit" });

function run(argv: string[]): string {
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${p.exitCode}): ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}

const berthIn = (root: string) => [`${repo}bin/berth`, "--root", root, "--cgroup-parent", `berth-bench-${root.slice(-6)}`];
const stop = (root: string) => {
  Bun.spawnSync([...berthIn(root), "system", "prune", "-af"], { stdout: "ignore", stderr: "ignore" });
  const pid = Bun.spawnSync(["cat", `${root}/berthd.pid`]).stdout.toString().trim();
  if (pid) Bun.spawnSync(["kill", pid]);
  Bun.sleepSync(300);
  rmSync(root, { recursive: true, force: true });
};

// The image: busybox, then four layers of 500 files of 100 kB each.
const archive = `${work}/big.tar`;
if (!existsSync(archive)) {
  const root = mkdtempSync(`${work}/build-`);
  const b = berthIn(root);
  try {
    run([...b, "import", "--change", 'CMD ["sh"]', tar, "bench-big:0"]);
    for (let l = 1; l <= 4; l++) {
      run([...b, "run", "--name", `layer${l}`, `bench-big:${l - 1}`, "sh", "-c", `mkdir -p /data/l${l} && for i in $(seq 500); do head -c 100000 /dev/urandom > /data/l${l}/f$i; done`]);
      run([...b, "commit", `layer${l}`, `bench-big:${l}`]);
      run([...b, "rm", `layer${l}`]);
    }
    run([...b, "save", "-o", archive, "bench-big:4"]);
  } finally {
    stop(root);
  }
}

const reg = await startRegistry();
const ref = `${reg.domain}/bench/big:1`;
run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-compress", "--dest-compress-format", "gzip", `docker-archive:${archive}`, `docker://${ref}`]);

/** Let the disk settle: the previous run's deletions (ext4 with discard here) would slow the next one's writes. */
const settle = () => {
  Bun.spawnSync(["sync"]);
  Bun.sleepSync(2000);
};

function timed(name: string, before: () => void, argv: () => string[]): Summary {
  const times: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    before();
    settle();
    const t0 = performance.now();
    run(argv());
    const dt = performance.now() - t0;
    if (i > 0) times.push(dt); // the first run warms the registry's disk cache
  }
  times.sort((a, b) => a - b);
  return { name, runs, min: times[0]!, median: times[Math.floor(times.length / 2)]!, max: times[times.length - 1]! };
}

const rows: Summary[] = [];
let root = "";
rows.push(
  timed(
    "berth",
    () => {
      if (root) stop(root);
      root = mkdtempSync(`${work}/root-`);
      run([...berthIn(root), "version"]); // the daemon is up before the clock starts
    },
    () => [...berthIn(root), "pull", "-q", ref],
  ),
);
stop(root);
if (peerWorks(["docker", "info"])) {
  // Remove the image by its ID, under whatever names it has, so every pull downloads it all.
  const dockerRmi = () => {
    const id = Bun.spawnSync(["docker", "image", "inspect", "-f", "{{.Id}}", ref], { stderr: "ignore" }).stdout.toString().trim();
    if (id) run(["docker", "rmi", "-f", id]);
  };
  rows.push(timed("docker", dockerRmi, () => ["docker", "pull", "-q", ref]));
  dockerRmi();
}
await reg.stop();
console.log(report(`pull a 200 MB image of 2,000 files (4 gzip layers) from a local registry (${runs} runs, ${new Date().toISOString().slice(0, 10)})`, rows));
console.log(`\nmachine: ${navigator.hardwareConcurrency} CPUs, kernel ${run(["uname", "-r"]).trim()}; command: bun bench/pull.ts ${runs}`);
