// Helpers for tests of berthd's own options (-G, -H tcp://, TLS, owners):
// a daemon started with flags the CLI's auto-start does not pass, throwaway
// users and groups, and requests made as one of them.
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { REPO, type TestRoot } from "./berth.ts";

export interface Daemon {
  proc: Bun.Subprocess;
  /** berthd's output so far. */
  log(): string;
  /** The tcp://127.0.0.1:PORT it listens on, when it does. */
  tcp?: string;
}

/** Start berthd on the test root with extra flags; resolves once it answers (or fails with its log). */
export async function startBerthd(t: TestRoot, extra: string[] = [], env: Record<string, string> = {}): Promise<Daemon> {
  const logPath = `${t.root}/berthd.log`;
  const fd = openSync(logPath, "a");
  const proc = Bun.spawn([`${REPO}/bin/berthd`, "--root", t.root, "--cgroup-parent", t.cgroupParent, "-H", `unix://${t.socket}`, ...extra], {
    stdio: ["ignore", fd, fd],
    env: { ...process.env, ...env },
  });
  const log = () => readFileSync(logPath, "utf8");
  let exited = false;
  void proc.exited.then(() => (exited = true));
  for (let i = 0; i < 1000 && !exited; i++) {
    if (log().includes("serving the Docker Engine API")) {
      const tcp = /tcp:\/\/127\.0\.0\.1:\d+/.exec(log())?.[0];
      return { proc, log, tcp };
    }
    await Bun.sleep(10);
  }
  throw new Error(`berthd did not start (exit ${proc.exitCode}):\n${log()}`);
}

/** berthd run to its exit (for flags it must refuse): exit code and output. */
export async function berthdFails(t: TestRoot, extra: string[]): Promise<{ code: number; stderr: string }> {
  const proc = Bun.spawn([`${REPO}/bin/berthd`, "--root", t.root, "--cgroup-parent", t.cgroupParent, ...extra], { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill(), 20_000);
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stderr };
}

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

function run(cmd: string[]) {
  const r = Bun.spawnSync(cmd, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
}

const suffix = () => Math.random().toString(36).slice(2, 8);

/** A throwaway group; remove it with removeGroup. */
export function makeGroup(): { name: string; gid: number } {
  const name = `bt${suffix()}`;
  run(["groupadd", name]);
  const gid = Number(/^[^:]+:[^:]*:(\d+):/m.exec(readFileSync("/etc/group", "utf8").split("\n").find((l) => l.startsWith(`${name}:`))!)?.[1]);
  return { name, gid };
}

/** A throwaway user (no home, no login shell) whose primary group is `gid`. */
export function makeUser(gid: number): TestUser {
  const name = `bt${suffix()}`;
  run(["useradd", "-M", "-N", "-g", String(gid), "-s", "/usr/sbin/nologin", name]);
  const uid = Number(readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith(`${name}:`))!.split(":")[2]);
  return { name, uid, gid };
}

export function removeUser(u: TestUser) {
  Bun.spawnSync(["userdel", u.name], { stderr: "ignore" });
}

export function removeGroup(name: string) {
  Bun.spawnSync(["groupdel", name], { stderr: "ignore" });
}

/** Run a command as uid:gid (no supplementary groups), with its own HOME. */
export async function asUser(u: { uid: number; gid: number }, cmd: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const home = mkdtempSync("/tmp/berth-tests/home-");
  Bun.spawnSync(["chown", `${u.uid}:${u.gid}`, home]);
  try {
    const proc = Bun.spawn(["setpriv", `--reuid=${u.uid}`, `--regid=${u.gid}`, "--clear-groups", ...cmd], {
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, DOCKER_CLI_HINTS: "false", ...env },
    });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** curl over the root's unix socket as a user: [HTTP status (0 when refused), body]. */
export async function curlAs(u: { uid: number; gid: number }, socket: string, method: string, path: string, body?: string): Promise<[number, string]> {
  const args = ["curl", "-s", "-X", method, "--unix-socket", socket, "-w", "\n%{http_code}", `http://berth${path}`];
  if (body !== undefined) args.push("-H", "Content-Type: application/json", "--data-binary", body);
  const r = await asUser(u, args);
  const i = r.stdout.lastIndexOf("\n");
  return [Number(r.stdout.slice(i + 1)) || 0, r.stdout.slice(0, Math.max(i, 0))];
}
