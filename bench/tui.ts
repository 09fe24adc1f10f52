// berth tui's own cost with many containers: start N idle containers
// (8 at a time), run `berth tui` in tmux (120x40) for a window, and read the
// CPU the tui process used over it (utime+stime of /proc/<pid>/stat, its
// children included) as % of one core. Then remove everything.
// Usage: bun bench/tui.ts [containers=500] [seconds=60]
import { existsSync, readFileSync } from "node:fs";
import { BERTH, busyboxTar, makeRoot, removeRoot } from "../test/helpers/berth.ts";
import { run } from "./lib.ts";

const N = Number(process.argv[2] ?? 500);
const SECONDS = Number(process.argv[3] ?? 60);
const CLK_TCK = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

// The image from bin/mkimage-busybox (cached as the tests cache it); the root as the tests make one, and remove it.
const tar = await busyboxTar();
const t = makeRoot();
const berth = [BERTH, ...t.flags];
const tmuxSocket = `berth-tui-bench-${process.pid}`;
const tmux = (...args: string[]) => Bun.spawnSync(["tmux", "-L", tmuxSocket, ...args], { stdout: "pipe", stderr: "pipe" });

async function fill(count: number) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const p = Bun.spawn([...berth, "run", "-d", "--network", "none", "bb", "sleep", "100000"], { stdout: "ignore", stderr: "pipe" });
      if ((await p.exited) !== 0) throw new Error(`run -d failed: ${await new Response(p.stderr).text()}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** The pid of the process running the tui's bundle (or source), under the tmux pane. */
function tuiPid(panePid: number): number | undefined {
  const kids = (pid: number): number[] => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const queue = [panePid];
  while (queue.length) {
    const pid = queue.shift()!;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (cmd.includes("tui") && cmd.some((a) => a.endsWith("main.js") || a.endsWith("main.ts"))) return pid;
    } catch {
      // gone
    }
    queue.push(...kids(pid));
  }
  return undefined;
}

/** utime+stime (and of waited-for children) of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields after the comm: state is [0]; utime [11], stime [12], cutime [13], cstime [14].
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
}

const screen = () => tmux("capture-pane", "-p", "-t", "bench").stdout.toString();

let figure: string | undefined;
try {
  run([...berth, "import", "--change", 'CMD ["sh"]', tar, "bb"]);
  const t0 = performance.now();
  await fill(N);
  console.log(`started ${N} containers in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const cmd = berth.map((a) => `'${a}'`).join(" ") + " tui";
  tmux("new-session", "-d", "-s", "bench", "-x", "120", "-y", "40", "-e", "TERM=xterm-256color", cmd);
  const panePid = Number(tmux("display-message", "-p", "-t", "bench", "#{pane_pid}").stdout.toString().trim());
  let pid: number | undefined;
  for (let i = 0; i < 200 && !(pid = tuiPid(panePid)); i++) await Bun.sleep(50);
  if (!pid) throw new Error("the tui process did not start");
  // Measure from when the dashboard shows the containers.
  for (let i = 0; i < 300 && !screen().includes(`${N}/${N} running`); i++) await Bun.sleep(100);
  if (!screen().includes(`${N}/${N} running`)) throw new Error(`the dashboard did not show ${N} running containers:\n${screen()}`);
  const c0 = cpuSeconds(pid);
  const w0 = performance.now();
  await Bun.sleep(SECONDS * 1000);
  const c1 = cpuSeconds(pid);
  const wall = (performance.now() - w0) / 1000;
  const pct = ((c1 - c0) / wall) * 100;
  figure = `berth tui with ${N} idle containers, ${wall.toFixed(1)} s: ${pct.toFixed(2)}% of one core (${(c1 - c0).toFixed(2)} s CPU)`;
  tmux("send-keys", "-t", "bench", "q");
  for (let i = 0; i < 50 && existsSync(`/proc/${pid}`); i++) await Bun.sleep(100);
} finally {
  tmux("kill-session", "-t", "bench");
  tmux("kill-server");
  await removeRoot(t);
}
if (figure) console.log(figure);
