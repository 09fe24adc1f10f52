// Shared helpers for the benchmarks: time whole commands, summarise, and
// compare berth with its peers in the same run.

export interface Summary {
  name: string;
  runs: number;
  min: number;
  median: number;
  max: number;
}

/** Run `argv` `runs` times (after `warmup` runs) and time each in ms. Throws on a failed run. */
export function timeCommand(name: string, argv: string[], runs: number, warmup = 3): Summary {
  const times: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    const t0 = performance.now();
    const p = Bun.spawnSync(argv, { stdout: "ignore", stderr: "pipe" });
    const dt = performance.now() - t0;
    if (p.exitCode !== 0) throw new Error(`${name}: ${argv.join(" ")} failed (${p.exitCode}): ${p.stderr.toString().trim()}`);
    if (i >= warmup) times.push(dt);
  }
  times.sort((a, b) => a - b);
  return { name, runs, min: times[0]!, median: times[Math.floor(times.length / 2)]!, max: times[times.length - 1]! };
}

/** Is this peer installed and working? */
export function peerWorks(argv: string[]): boolean {
  try {
    return Bun.spawnSync(argv, { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
  } catch {
    return false;
  }
}

/** A markdown table: times in ms, and each peer's median as a multiple of berth's. */
export function report(title: string, rows: Summary[]): string {
  const base = rows[0]!.median;
  const fmt = (n: number) => n.toFixed(1);
  const lines = [
    `### ${title}`,
    "",
    "| engine | runs | min ms | median ms | max ms | median vs berth |",
    "|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.name} | ${r.runs} | ${fmt(r.min)} | ${fmt(r.median)} | ${fmt(r.max)} | ${r === rows[0] ? "1.00x" : `${(r.median / base).toFixed(2)}x slower`} |`),
  ];
  return lines.join("\n");
}

/** Run `argv` to completion; its stdout, or an error with its stderr. */
export function run(argv: string[]): string {
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${p.exitCode}): ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}
