// A cold build and a fully cached rebuild of the same Dockerfile (a busybox
// base, an app of 200 files copied in, three RUN steps, the usual config),
// berth next to Docker's classic builder, Docker's BuildKit and Podman
// (buildah) in the same run. Each engine gets the same base image (saved by
// berth, loaded by the others). Cold builds use --no-cache: the base is
// there, no step is reused.
// Usage: bun bench/build.ts [runs=10]
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { peerWorks, report, timeCommand, type Summary } from "./lib.ts";

const runs = Number(process.argv[2] ?? 10);
const repo = new URL("..", import.meta.url).pathname;
const work = "/var/tmp/berth-bench/build";
const tar = "/var/tmp/berth-bench/busybox.tar";
mkdirSync(work, { recursive: true });
if (!existsSync(tar)) Bun.spawnSync([`${repo}bin/mkimage-busybox`, tar], { stdout: "inherit", stderr: "inherit" });

function run(argv: string[], env: Record<string, string> = {}): string {
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${p.exitCode}): ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}

// The context: 200 small source files in 10 directories, and the Dockerfile.
const ctx = mkdtempSync(`${work}/ctx-`);
for (let d = 0; d < 10; d++) {
  mkdirSync(`${ctx}/src/mod${d}`, { recursive: true });
  for (let f = 0; f < 20; f++) writeFileSync(`${ctx}/src/mod${d}/file${f}.js`, `export const value${f} = ${d * 100 + f};\n`.repeat(20));
}
writeFileSync(`${ctx}/package.json`, `{"name": "bench-app", "version": "1.0.0"}\n`);
const BASE = "berth-bench-base:1";
writeFileSync(
  `${ctx}/Dockerfile`,
  [
    `FROM ${BASE}`,
    "ENV APP_HOME=/app NODE_ENV=production",
    "WORKDIR /app",
    "COPY package.json ./",
    "RUN mkdir -p /app/data && echo installed > /app/data/deps.txt",
    "COPY src ./src",
    "RUN find /app/src -type f | wc -l > /app/data/count.txt",
    "RUN echo 'app:x:1000:1000::/app:/bin/sh' >> /etc/passwd && chown -R app /app/data",
    "USER app",
    "EXPOSE 8080",
    'CMD ["sh", "-c", "cat /app/data/count.txt"]',
  ].join("\n"),
);

const berthRoot = mkdtempSync(`${work}/root-`);
const berth = [`${repo}bin/berth`, "--root", berthRoot, "--cgroup-parent", `berth-bench-${berthRoot.slice(-6)}`];
run([...berth, "import", "--change", 'CMD ["sh"]', tar, BASE]);
const baseArchive = `${work}/base.tar`;
run([...berth, "save", "-o", baseArchive, BASE]);

const rows: { cold: Summary; cached: Summary }[] = [];
const notes: string[] = [];
function measure(name: string, build: (extra: string[]) => string[], env: Record<string, string> = {}) {
  const argv = (extra: string[]) => ["env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...build(extra)];
  try {
    const cold = timeCommand(name, argv(["--no-cache"]), runs, 1);
    const cached = timeCommand(name, argv([]), runs, 1);
    rows.push({ cold, cached });
  } catch (err) {
    if (name === "berth") throw err;
    notes.push(`${name} failed on this host: ${(err as Error).message.split("\n")[0]!.slice(0, 300)}`);
  }
}

try {
  measure("berth", (extra) => [...berth, "build", ...extra, "-t", "bench-app:1", ctx]);
  if (peerWorks(["docker", "info"])) {
    run(["docker", "load", "-i", baseArchive]);
    measure("docker (classic builder)", (extra) => ["docker", "build", ...extra, "-t", "bench-app:1", ctx], { DOCKER_BUILDKIT: "0" });
    if (peerWorks(["docker", "buildx", "version"])) measure("docker (BuildKit)", (extra) => ["docker", "build", ...extra, "-t", "bench-app:1", ctx], { DOCKER_BUILDKIT: "1" });
    run(["docker", "rmi", "-f", "bench-app:1", BASE]);
    Bun.spawnSync(["docker", "builder", "prune", "-af"], { stdout: "ignore", stderr: "ignore" });
    Bun.spawnSync(["docker", "image", "prune", "-f"], { stdout: "ignore", stderr: "ignore" });
  }
  if (peerWorks(["podman", "info"])) {
    run(["podman", "load", "-i", baseArchive]);
    measure("podman (buildah)", (extra) => ["podman", "build", ...extra, "--layers", "-t", "bench-app:1", ctx]);
    // Podman's netavark cannot make its bridge on some hosts ("Chain already exists"): then without a network (less work for it).
    if (notes.some((n) => n.startsWith("podman"))) measure("podman (buildah), --network none", (extra) => ["podman", "build", ...extra, "--network", "none", "--layers", "-t", "bench-app:1", ctx]);
    run(["podman", "rmi", "-f", "bench-app:1", BASE]);
    Bun.spawnSync(["podman", "image", "prune", "-f"], { stdout: "ignore", stderr: "ignore" });
  }
} finally {
  Bun.spawnSync([...berth, "system", "prune", "-af"], { stdout: "ignore", stderr: "ignore" });
  const pid = Bun.spawnSync(["cat", `${berthRoot}/berthd.pid`]).stdout.toString().trim();
  if (pid) Bun.spawnSync(["kill", pid]);
  Bun.sleepSync(300);
  rmSync(berthRoot, { recursive: true, force: true });
  rmSync(ctx, { recursive: true, force: true });
}

const date = new Date().toISOString().slice(0, 10);
console.log(report(`cold build (--no-cache; base image present), ${runs} runs (${date})`, rows.map((r) => r.cold)));
console.log();
console.log(report(`fully cached rebuild, ${runs} runs (${date})`, rows.map((r) => r.cached)));
for (const n of notes) console.log(`\n${n}`);
console.log(`\nmachine: ${navigator.hardwareConcurrency} CPUs, kernel ${run(["uname", "-r"]).trim()}; command: bun bench/build.ts ${runs}`);
