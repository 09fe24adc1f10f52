// Helpers for tests that drive berth (and the docker CLI) against a real
// kernel: each test root has its own berthd, cgroup parent and runtime
// directory; removeRoot stops everything and leaks() says what was left.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync } from "node:fs";
import { parseMountinfo, probeHost } from "../../core/host.ts";
import { defaultExecRoot, defaultSocket } from "../../core/location.ts";
import { Database } from "bun:sqlite";
import { rootNames } from "../../plugins/network/bridge/names.ts";

export const REPO = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
export const BERTH = `${REPO}/bin/berth`;
/** Where the busybox tarball is cached; CI points the cgroup v2 VM at a prebuilt one. */
const CACHE = process.env.BERTH_TEST_CACHE ?? "/tmp/berth-test-cache";

export interface TestRoot {
  root: string;
  execRoot: string;
  socket: string;
  cgroupParent: string;
  /** Global flags that point berth at this root (and configure its daemon). */
  flags: string[];
  /** DOCKER_HOST for the docker CLI. */
  dockerHost: string;
}

export function makeRoot(extraFlags: string[] = []): TestRoot {
  mkdirSync("/tmp/berth-tests", { recursive: true });
  const root = mkdtempSync("/tmp/berth-tests/root-");
  const cgroupParent = `berth-test-${root.slice(-6)}`;
  return {
    root,
    execRoot: defaultExecRoot(root),
    socket: defaultSocket(root),
    cgroupParent,
    flags: ["--root", root, "--cgroup-parent", cgroupParent, ...extraFlags],
    dockerHost: `unix://${defaultSocket(root)}`,
  };
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function collect(proc: Bun.Subprocess<"ignore" | Uint8Array | "pipe", "pipe", "pipe">): Promise<Result> {
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** Run `berth <global flags> <args>` and collect its output. */
export function berth(t: TestRoot, args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<Result> {
  return collect(
    Bun.spawn([BERTH, ...t.flags, ...args], {
      stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, ...opts.env },
    }),
  );
}

/** Run the stock docker CLI against this root's berthd. */
export function docker(t: TestRoot, args: string[], opts: { stdin?: string } = {}): Promise<Result> {
  return collect(
    Bun.spawn(["docker", ...args], {
      stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, DOCKER_HOST: t.dockerHost, DOCKER_CLI_HINTS: "false" },
    }),
  );
}

/** The busybox rootfs tarball, built once per machine from Debian's busybox-static. */
export async function busyboxTar(): Promise<string> {
  const tar = `${CACHE}/busybox.tar`;
  if (!existsSync(tar)) {
    mkdirSync(CACHE, { recursive: true });
    const tmp = `${tar}.${process.pid}`;
    const p = Bun.spawn([`${REPO}/bin/mkimage-busybox`, tmp], { stderr: "pipe" });
    if ((await p.exited) !== 0) throw new Error(`mkimage-busybox failed: ${await new Response(p.stderr).text()}`);
    renameSync(tmp, tar);
  }
  return tar;
}

/** Import busybox as `bb` (with `CMD ["sh"]`) into this root (starting its daemon). */
export async function importBusybox(t: TestRoot, name = "bb"): Promise<string> {
  const r = await berth(t, ["import", "--change", 'CMD ["sh"]', await busyboxTar(), name]);
  if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
  return r.stdout.trim();
}

export function daemonPid(t: TestRoot): number | undefined {
  try {
    return Number(readFileSync(`${t.root}/berthd.pid`, "utf8").trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** Processes (host pids) whose command line mentions `needle`. */
export function processesMatching(needle: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, "utf8").includes(needle)) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

interface IpLink {
  ifname: string;
  ifindex: number;
  master?: string;
  linkinfo?: { info_kind?: string };
}

/** This root's bridges (its default one and the user networks') and the veths on them. */
export function rootLinks(t: TestRoot): { bridges: string[]; veths: string[] } {
  const links = JSON.parse(Bun.spawnSync(["ip", "-d", "-j", "link"]).stdout.toString() || "[]") as IpLink[];
  const { defaultBridge } = rootNames(t.root);
  const userBridges = new Set(netIds(t).map((id) => `br-${id.slice(0, 12)}`));
  const bridges = links.filter((l) => l.ifname === defaultBridge || userBridges.has(l.ifname)).map((l) => l.ifname);
  const veths = links.filter((l) => l.master && bridges.includes(l.master)).map((l) => l.ifname);
  return { bridges, veths };
}

/** IDs of this root's networks, from its state database (read-only). */
function netIds(t: TestRoot): string[] {
  if (!existsSync(`${t.root}/state.db`)) return [];
  const db = new Database(`${t.root}/state.db`, { readonly: true });
  try {
    return (db.query("SELECT id FROM networks").all() as { id: string }[]).map((r) => r.id);
  } catch {
    return []; // before the networks table existed
  } finally {
    db.close();
  }
}

/** Elements of this root's nftables maps (published ports). */
export function portRules(t: TestRoot): string[] {
  const r = Bun.spawnSync(["nft", "-j", "list", "table", "ip", rootNames(t.root).table]);
  if (r.exitCode !== 0) return [];
  type Item = { map?: { name: string; elem?: unknown[] } };
  return ((JSON.parse(r.stdout.toString()).nftables ?? []) as Item[]).flatMap((i) => (i.map?.elem ?? []).map((e) => `${i.map!.name} ${JSON.stringify(e)}`));
}

/** What this root left behind on the host: mounts, cgroups, netns files, monitors, veths, user bridges, port rules. */
export function leaks(t: TestRoot): string[] {
  const found: string[] = [];
  // A container's veth pair goes with its namespace, which the kernel frees a few ms after the container ends.
  let { bridges, veths } = rootLinks(t);
  for (let i = 0; i < 200 && veths.length; i++) {
    Bun.sleepSync(10);
    ({ bridges, veths } = rootLinks(t));
  }
  for (const v of veths) found.push(`veth ${v}`);
  for (const b of bridges) if (b !== rootNames(t.root).defaultBridge) found.push(`bridge ${b} (a network left behind)`);
  for (const p of portRules(t)) found.push(`port rule ${p}`);
  for (const m of parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8"))) {
    // The daemon's read-only view of its runtime (plugins/isolation/namespaces/runtime.ts) lives as long as the root.
    if (m.mountpoint === `${t.root}/runtime/bun`) continue;
    if (m.mountpoint.startsWith(t.root) || m.mountpoint.startsWith(`${t.execRoot}/`)) found.push(`mount ${m.mountpoint}`);
  }
  for (const dir of cgroupDirs(t)) {
    if (!existsSync(dir)) continue;
    for (const child of readdirSync(dir, { withFileTypes: true })) if (child.isDirectory()) found.push(`cgroup ${dir}/${child.name}`);
  }
  if (existsSync(`${t.root}/netns`)) for (const f of readdirSync(`${t.root}/netns`)) found.push(`netns ${t.root}/netns/${f}`);
  for (const pid of processesMatching(`${t.execRoot}/`)) found.push(`process ${pid}: ${readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim()}`);
  for (const sub of ["c", "e"]) {
    if (existsSync(`${t.execRoot}/${sub}`)) for (const f of readdirSync(`${t.execRoot}/${sub}`)) found.push(`monitor dir ${t.execRoot}/${sub}/${f}`);
  }
  // A build's looks into images and its unpacked contexts.
  for (const driver of ["overlay", "fuse-overlay", "vfs"]) {
    const rw = `${t.root}/layers/${driver}/rw`;
    if (existsSync(rw)) for (const f of readdirSync(rw)) if (f.startsWith("build-")) found.push(`build layer ${rw}/${f}`);
  }
  if (existsSync(`${t.root}/tmp`)) for (const f of readdirSync(`${t.root}/tmp`)) found.push(`scratch ${t.root}/tmp/${f}`);
  // The none cgroup driver's record of a container's PID namespace.
  if (existsSync(`${t.root}/limits-none`)) for (const f of readdirSync(`${t.root}/limits-none`)) found.push(`limits-none record ${f}`);
  return found;
}

function cgroupDirs(t: TestRoot): string[] {
  const host = probeHost();
  const mounts = new Set([...host.cgroupV1.values()].map((h) => h.mountpoint));
  if (host.cgroupV2) mounts.add(host.cgroupV2.mountpoint);
  return [...mounts].map((m) => `${m}/${t.cgroupParent}`);
}

/** Stop the root's daemon (SIGTERM; containers keep running) and wait for it to exit. */
export async function stopDaemon(t: TestRoot, signal: "SIGTERM" | "SIGKILL" = "SIGTERM") {
  const pid = daemonPid(t);
  if (!pid) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  for (let i = 0; i < 500 && existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z "); i++) await Bun.sleep(10);
}

/**
 * Remove every container, volume and network, stop the daemon, and delete
 * the root, its cgroup parent, its default bridge and its nftables table
 * (which a daemon keeps when it stops, as Docker keeps docker0).
 */
export async function removeRoot(t: TestRoot) {
  if (daemonPid(t)) {
    const ids = (await berth(t, ["ps", "-aq"])).stdout.trim().split("\n").filter(Boolean);
    if (ids.length) await berth(t, ["rm", "-fv", ...ids]);
    const vols = (await berth(t, ["volume", "ls", "-q"])).stdout.trim().split("\n").filter(Boolean);
    if (vols.length) await berth(t, ["volume", "rm", "-f", ...vols]);
    await berth(t, ["network", "prune", "-f"]);
    await stopDaemon(t);
  }
  const { table, defaultBridge } = rootNames(t.root);
  for (const b of rootLinks(t).bridges) Bun.spawnSync(["ip", "link", "del", b]);
  if (Bun.spawnSync(["ip", "link", "show", defaultBridge], { stderr: "ignore" }).exitCode === 0) Bun.spawnSync(["ip", "link", "del", defaultBridge]);
  Bun.spawnSync(["nft", "delete", "table", "ip", table], { stderr: "ignore" });
  const dockerUser = Bun.spawnSync(["nft", "-a", "list", "chain", "ip", "filter", "DOCKER-USER"], { stderr: "ignore" }).stdout.toString();
  for (const m of dockerUser.matchAll(new RegExp(`comment "berth:${table}" # handle (\\d+)`, "g"))) Bun.spawnSync(["nft", "delete", "rule", "ip", "filter", "DOCKER-USER", "handle", m[1]!]);
  for (const m of parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8")).reverse()) {
    if (m.mountpoint.startsWith(t.root) || m.mountpoint.startsWith(`${t.execRoot}/`)) Bun.spawnSync(["umount", "-l", m.mountpoint]);
  }
  rmSync(t.root, { recursive: true, force: true });
  rmSync(t.execRoot, { recursive: true, force: true });
  for (const dir of cgroupDirs(t)) {
    try {
      rmdirSync(dir);
    } catch {
      // absent, or a leak that leaks() already reported
    }
  }
}
