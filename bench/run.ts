// `run --rm --network none <busybox> true` and `run --rm <busybox> true`
// (each engine's default bridge network): berth next to Docker and Podman
// (when installed: ../shared/tools/peers-setup.sh), same image, same run.
// Usage: bun bench/run.ts [runs]
import { existsSync, mkdirSync } from "node:fs";
import { peerWorks, report, timeCommand, type Summary } from "./lib.ts";

const runs = Number(process.argv[2] ?? 30);
const repo = new URL("..", import.meta.url).pathname;
const berth = `${repo}bin/berth`;
const root = "/var/tmp/berth-bench/root";
const tar = "/var/tmp/berth-bench/busybox.tar";

mkdirSync("/var/tmp/berth-bench", { recursive: true });
if (!existsSync(tar)) Bun.spawnSync([`${repo}bin/mkimage-busybox`, tar], { stdout: "inherit", stderr: "inherit" });
const imported = Bun.spawnSync([berth, "--root", root, "import", tar, "bb:local"], { stderr: "inherit" });
if (imported.exitCode !== 0) process.exit(1);

const docker = peerWorks(["docker", "info"]);
const podman = peerWorks(["podman", "--version"]);
if (docker) Bun.spawnSync(["docker", "import", tar, "bb:local"], { stdout: "ignore" });
if (podman) Bun.spawnSync(["podman", "import", tar, "localhost/bb:local"], { stdout: "ignore", stderr: "ignore" });

/** Each engine on the same work: `network` is none, or [] for each engine's default bridge. */
function compare(title: string, network: string[]) {
  const rows: Summary[] = [timeCommand("berth", [berth, "--root", root, "run", "--rm", ...network, "bb:local", "true"], runs)];
  const notes: string[] = [];
  const peer = (name: string, argv: string[]) => {
    try {
      rows.push(timeCommand(name, argv, runs));
    } catch (err) {
      notes.push(`${name} failed here: ${(err as Error).message.split("\n")[0]}`);
    }
  };
  if (docker) peer("docker", ["docker", "run", "--rm", ...network, "bb:local", "true"]);
  // crun and podman's default rlimits fail on this hybrid-cgroup, CAP_SYS_RESOURCE-less host (see PEERS.md).
  if (podman) peer("podman (runc)", ["podman", "--runtime", "runc", "run", "--rm", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", ...network, "localhost/bb:local", "true"]);
  console.log(`${report(`${title} (${runs} runs, ${new Date().toISOString().slice(0, 10)})`, rows)}\n${notes.map((n) => `${n}\n`).join("")}`);
}

compare("run --rm --network none busybox true", ["--network", "none"]);
compare("run --rm busybox true (the default bridge network)", []);

console.log(`\nmachine: ${navigator.hardwareConcurrency} CPUs, kernel ${Bun.spawnSync(["uname", "-r"]).stdout.toString().trim()}; command: bun bench/run.ts ${runs}`);
