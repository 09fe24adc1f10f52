// Pull a 200 MB image of 2,000 files (4 gzip layers of 500 random files)
// from a local registry, berth next to Docker and Podman in the same run, each pull
// into an empty store. The image is made offline (busybox and /dev/urandom),
// saved by berth and pushed with gzip layers by skopeo, as registries
// usually hold them.
// Usage: bun bench/pull.ts [runs=5]   (needs docker-registry and skopeo; Docker and Podman optional)
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { peerWorks, report, type Summary, run } from "./lib.ts";
import { startRegistry } from "../test/helpers/docker-registry.ts";

const runs = Number(process.argv[2] ?? 5);
const repo = new URL("..", import.meta.url).pathname;
const work = "/var/tmp/berth-bench/pull";
const tar = "/var/tmp/berth-bench/busybox.tar";
mkdirSync(work, { recursive: true });
if (!existsSync(tar)) Bun.spawnSync([`${repo}bin/mkimage-busybox`, tar], { stdout: "inherit", stderr: "inherit" });

/** `run` for what talks to the registry: the event loop must keep reading its log, or the registry stops once the pipe is full. */
async function runAsync(argv: string[]): Promise<void> {
  const p = Bun.spawn(argv, { stdout: "ignore", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${argv.join(" ")} failed (${code}): ${stderr.trim()}`);
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
await runAsync(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-compress", "--dest-compress-format", "gzip", `docker-archive:${archive}`, `docker://${ref}`]);

/**
 * Every timed pull starts at least 31 s after the bench last deleted files,
 * after a sync. Without a journal (as on this machine's root filesystem)
 * ext4 skips the inodes freed in the last 30 s (dirty_expire_centisecs)
 * when it allocates new ones, and the search makes every file creation
 * several times slower: a pull right after an `rmi` measures the deletion.
 */
let lastDeletion = 0;
const deleted = () => (lastDeletion = performance.now());
const settle = () => {
  Bun.spawnSync(["sync"]);
  const wait = lastDeletion + 31_000 - performance.now();
  if (wait > 0) Bun.sleepSync(wait);
};

async function timed(name: string, before: () => void, argv: () => string[]): Promise<Summary> {
  const times: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    before();
    settle();
    const t0 = performance.now();
    await runAsync(argv());
    const dt = performance.now() - t0;
    if (i > 0) times.push(dt); // the first run warms the registry's disk cache
  }
  times.sort((a, b) => a - b);
  return { name, runs, min: times[0]!, median: times[Math.floor(times.length / 2)]!, max: times[times.length - 1]! };
}

const rows: Summary[] = [];
// berth pulls into a new root each time; the roots are deleted at the end, so nothing is deleted in between.
const roots: string[] = [];
deleted(); // what the set-up above removed
rows.push(
  await timed(
    "berth",
    () => {
      roots.push(mkdtempSync(`${work}/root-`));
      run([...berthIn(roots.at(-1)!), "version"]); // the daemon is up before the clock starts
    },
    () => [...berthIn(roots.at(-1)!), "pull", "-q", ref],
  ),
);
for (const root of roots) stop(root);
deleted();
if (peerWorks(["docker", "info"])) {
  // Remove the image by its ID, under whatever names it has, so every pull downloads it all.
  const dockerRmi = () => {
    const id = Bun.spawnSync(["docker", "image", "inspect", "-f", "{{.Id}}", ref], { stderr: "ignore" }).stdout.toString().trim();
    if (id) {
      run(["docker", "rmi", "-f", id]);
      deleted();
    }
  };
  rows.push(await timed("docker", dockerRmi, () => ["docker", "pull", "-q", ref]));
  dockerRmi();
}
if (peerWorks(["podman", "info"])) {
  const podmanRmi = () => {
    if (Bun.spawnSync(["podman", "image", "exists", ref]).exitCode !== 0) return;
    run(["podman", "rmi", "-f", ref]);
    deleted();
  };
  rows.push(await timed("podman", podmanRmi, () => ["podman", "pull", "-q", "--tls-verify=false", ref]));
  podmanRmi();
}
await reg.stop();
console.log(report(`pull a 200 MB image of 2,000 files (4 gzip layers) from a local registry (${runs} runs, ${new Date().toISOString().slice(0, 10)})`, rows));
console.log(`\nmachine: ${navigator.hardwareConcurrency} CPUs, kernel ${run(["uname", "-r"]).trim()}; command: bun bench/pull.ts ${runs}`);
