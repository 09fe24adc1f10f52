// `run --rm --network none <busybox> true`: berth next to Docker and
// Podman (when installed: ../shared/tools/peers-setup.sh), same image,
// same run. Usage: bun bench/run.ts [runs]
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

const rows: Summary[] = [timeCommand("berth", [berth, "--root", root, "run", "--rm", "--network", "none", "bb:local", "true"], runs)];

if (peerWorks(["docker", "info"])) {
  Bun.spawnSync(["docker", "import", tar, "bb:local"], { stdout: "ignore" });
  rows.push(timeCommand("docker", ["docker", "run", "--rm", "--network", "none", "bb:local", "true"], runs));
}
if (peerWorks(["podman", "--version"])) {
  Bun.spawnSync(["podman", "import", tar, "localhost/bb:local"], { stdout: "ignore", stderr: "ignore" });
  // crun and podman's default rlimits fail on this hybrid-cgroup, CAP_SYS_RESOURCE-less host (see PEERS.md).
  rows.push(
    timeCommand("podman (runc)", ["podman", "--runtime", "runc", "run", "--rm", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network", "none", "localhost/bb:local", "true"], runs),
  );
}

console.log(report(`run --rm --network none busybox true (${runs} runs, ${new Date().toISOString().slice(0, 10)})`, rows));
console.log(`\nmachine: ${navigator.hardwareConcurrency} CPUs, kernel ${Bun.spawnSync(["uname", "-r"]).stdout.toString().trim()}; command: bun bench/run.ts ${runs}`);
