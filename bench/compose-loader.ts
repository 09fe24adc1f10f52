// What the compose loader costs a `berth compose` command: a 10-service
// compose file loaded by the loader bundled as bin/build bundles the CLI
// (Bun bytecode), in fresh processes. Prints, per run, the loadProject()
// call alone and the time since the process started (Bun's own start-up,
// loading the modules, then the call), and the medians.
// Usage: bun bench/compose-loader.ts [runs=20]
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";

const runs = Number(process.argv[2] ?? 20);
const repo = new URL("..", import.meta.url).pathname;
const bun = `${repo}node_modules/.bin/bun`;
const work = mkdtempSync("/tmp/berth-bench-compose-");

const services = Array.from({ length: 10 }, (_, i) => [
  `  svc${i}:`,
  i % 2 ? `    build: ./svc${i}` : "    image: nginx:${TAG:-1.27}",
  `    ports: ["${8000 + i}:80", "127.0.0.1:${9000 + i}:9000/udp"]`,
  "    environment: [A=1, B=2, 'C=${C:-3}']",
  `    volumes: ["./data${i}:/data:ro", "vol${i}:/var/lib/x"]`,
  i > 0 ? "    depends_on: {svc0: {condition: service_healthy}}" : "    healthcheck: {test: curl -f localhost, interval: 10s, retries: 3}",
  "    networks: [front, back]",
  "    labels: {com.example.team: web}",
  "    restart: unless-stopped",
  "    mem_limit: 256m",
].join("\n"));
writeFileSync(`${work}/compose.yaml`, [
  "services:", ...services,
  "networks: {front: {}, back: {}}",
  `volumes: {${Array.from({ length: 10 }, (_, i) => `vol${i}: {}`).join(", ")}}`,
  "",
].join("\n"));

writeFileSync(`${work}/entry.ts`, `
import { loadProject } from "${repo}core/compose/loader/index.ts";
const t0 = performance.now();
loadProject({ cwd: ${JSON.stringify(work)} }).then(({ project }) => {
  const t1 = performance.now();
  console.log(JSON.stringify({ call: t1 - t0, sinceStart: t1, services: Object.keys(project.services).length }));
});
`);
mkdirSync(`${work}/out`);
const b = Bun.spawnSync([bun, "build", "--target=bun", "--format=cjs", "--bytecode", "--minify-syntax", "--minify-whitespace", `${work}/entry.ts`, "--outdir", `${work}/out`]);
if (b.exitCode !== 0) throw new Error(b.stderr.toString());

const results: { call: number; sinceStart: number }[] = [];
for (let i = 0; i < runs; i++) {
  const p = Bun.spawnSync([bun, `${work}/out/entry.js`], { cwd: work });
  results.push(JSON.parse(p.stdout.toString()));
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`10-service compose file, ${runs} fresh processes (bytecode bundle):`);
console.log(`  loadProject() call:      median ${median(results.map((r) => r.call)).toFixed(2)} ms`);
console.log(`  process start -> loaded: median ${median(results.map((r) => r.sinceStart)).toFixed(2)} ms`);
