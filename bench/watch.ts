// Watch mode's loop: from a file written on the host to its new content
// readable inside the running container (read through the container's own
// root, /proc/<pid>/root, which is what a process in it sees), over many
// single-file edits (p50, p99), and for a batch of 1,000 new files.
// Docker Compose's watch (v2) is not installed here (Debian ships
// docker-compose 1.29, which has no watch), so this reports berth's figures
// against the goals: p50 <= 50 ms, p99 <= 150 ms.
// Usage: bun bench/watch.ts [edits=100]
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { run } from "./lib.ts";

const EDITS = Number(process.argv[2] ?? 100);
const repo = new URL("..", import.meta.url).pathname;
const work = "/var/tmp/berth-bench";
const tar = `${work}/busybox.tar`;
mkdirSync(work, { recursive: true });
if (!existsSync(tar)) Bun.spawnSync([`${repo}bin/mkimage-busybox`, tar], { stdout: "inherit", stderr: "inherit" });

const root = mkdtempSync(`${work}/watch-root-`);
const dir = mkdtempSync(`${work}/watch-project-`);
const berth = [`${repo}bin/berth`, "--root", root, "--cgroup-parent", `berth-bench-${root.slice(-6)}`];
const compose = [...berth, "compose", "-p", "benchwatch", "-f", `${dir}/compose.yaml`];

/** Poll until `ok` holds (every 0.2 ms); the ms it took since `t0`. */
async function until(ok: () => boolean, t0: number, what: string): Promise<number> {
  for (;;) {
    if (ok()) return performance.now() - t0;
    if (performance.now() - t0 > 10_000) throw new Error(`${what}: not there after 10 s`);
    await Bun.sleep(0.2);
  }
}

const read = (path: string) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
};

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

try {
  mkdirSync(`${dir}/src`, { recursive: true });
  for (let i = 0; i < 10; i++) writeFileSync(`${dir}/src/file${i}.txt`, "start\n");
  writeFileSync(
    `${dir}/compose.yaml`,
    ["services:", "  app:", "    image: bb:local", '    command: ["sleep", "100000"]', "    init: true", "    develop:", "      watch:", "        - {path: ./src, action: sync, target: /app, initial_sync: true}", ""].join("\n"),
  );
  run([...berth, "import", tar, "bb:local"]);
  run([...compose, "watch", "-d"]);
  const pid = Number(run([...berth, "inspect", "-f", "{{.State.Pid}}", "benchwatch-app-1"]).trim());
  const inside = (p: string) => `/proc/${pid}/root/app/${p}`;
  await until(() => read(inside("file9.txt")) === "start\n", performance.now(), "the initial sync");

  // Single edits, one after another, over ten files.
  const times: number[] = [];
  for (let i = 0; i < EDITS; i++) {
    const name = `file${i % 10}.txt`;
    const content = `edit ${i} ${Date.now()}\n`;
    const t0 = performance.now();
    writeFileSync(`${dir}/src/${name}`, content);
    times.push(await until(() => read(inside(name)) === content, t0, `edit ${i}`));
    await Bun.sleep(20); // the next edit is a new one, not part of this batch
  }
  times.sort((a, b) => a - b);

  // A batch: 1,000 new files in 10 new directories, written as fast as the host can.
  const t0 = performance.now();
  for (let d = 0; d < 10; d++) {
    mkdirSync(`${dir}/src/batch/d${d}`, { recursive: true });
    for (let f = 0; f < 100; f++) writeFileSync(`${dir}/src/batch/d${d}/f${f}.txt`, `${d}-${f}\n`);
  }
  const written = performance.now() - t0;
  const count = () => {
    let n = 0;
    for (let d = 0; d < 10; d++) {
      try {
        n += readdirSync(inside(`batch/d${d}`)).filter((f) => !f.startsWith(".")).length;
      } catch {
        // not there yet
      }
    }
    return n;
  };
  const batch = await until(() => count() === 1000 && read(inside("batch/d9/f99.txt")) === "9-99\n", t0, "the batch");

  console.log(`# watch: host write -> readable in the container (${EDITS} edits, then 1,000 files)\n`);
  console.log("| measure | berth | goal |");
  console.log("|---|---|---|");
  console.log(`| single edit p50 | ${pct(times, 50).toFixed(1)} ms | <= 50 ms |`);
  console.log(`| single edit p99 | ${pct(times, 99).toFixed(1)} ms | <= 150 ms |`);
  console.log(`| single edit min / max | ${times[0]!.toFixed(1)} / ${times[times.length - 1]!.toFixed(1)} ms | |`);
  console.log(`| 1,000 new files, first write to all readable | ${batch.toFixed(0)} ms (writing them took ${written.toFixed(0)} ms) | |`);
} finally {
  Bun.spawnSync([...compose, "down", "-v", "-t", "0"], { stdout: "ignore", stderr: "ignore" });
  Bun.spawnSync(["sh", "-c", `kill $(cat ${root}/berthd.pid) 2>/dev/null; sleep 1`]);
  rmSync(root, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
}
