// Helpers for tests that drive the real `berth` CLI against a real kernel,
// each with its own --root and cgroup parent, and check nothing leaked.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { parseMountinfo, probeHost } from "../../core/host.ts";

export const REPO = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
export const BERTH = `${REPO}/bin/berth`;
/** Where the busybox tarball is cached; CI points the cgroup v2 VM at a prebuilt one. */
const CACHE = process.env.BERTH_TEST_CACHE ?? "/tmp/berth-test-cache";

export interface TestRoot {
  root: string;
  cgroupParent: string;
  /** Global flags that point berth at this root. */
  flags: string[];
}

export function makeRoot(extraFlags: string[] = []): TestRoot {
  mkdirSync("/tmp/berth-tests", { recursive: true });
  const root = mkdtempSync("/tmp/berth-tests/root-");
  const cgroupParent = `berth-test-${randomBytes(4).toString("hex")}`;
  return { root, cgroupParent, flags: ["--root", root, "--cgroup-parent", cgroupParent, ...extraFlags] };
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `berth <global flags> <args>` and collect its output. */
export async function berth(t: TestRoot, args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<Result> {
  const proc = Bun.spawn([BERTH, ...t.flags, ...args], {
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...opts.env },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
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

/** Import busybox as `bb` (with `CMD ["sh"]`) into this root. */
export async function importBusybox(t: TestRoot, name = "bb"): Promise<string> {
  const r = await berth(t, ["import", "--change", 'CMD ["sh"]', await busyboxTar(), name]);
  if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** What this root left behind on the host: mounts, cgroups, netns files. */
export function leaks(t: TestRoot): string[] {
  const found: string[] = [];
  for (const m of parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8"))) {
    if (m.mountpoint.startsWith(t.root)) found.push(`mount ${m.mountpoint}`);
  }
  for (const dir of cgroupDirs(t)) {
    if (!existsSync(dir)) continue;
    for (const child of readdirSync(dir, { withFileTypes: true })) if (child.isDirectory()) found.push(`cgroup ${dir}/${child.name}`);
  }
  if (existsSync(`${t.root}/netns`)) for (const f of readdirSync(`${t.root}/netns`)) found.push(`netns ${t.root}/netns/${f}`);
  return found;
}

function cgroupDirs(t: TestRoot): string[] {
  const host = probeHost();
  const mounts = new Set([...host.cgroupV1.values()].map((h) => h.mountpoint));
  if (host.cgroupV2) mounts.add(host.cgroupV2.mountpoint);
  return [...mounts].map((m) => `${m}/${t.cgroupParent}`);
}

/** Remove the root and the (by now empty) cgroup parent. */
export function removeRoot(t: TestRoot) {
  for (const m of parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8")).reverse()) {
    if (m.mountpoint.startsWith(t.root)) Bun.spawnSync(["umount", "-l", m.mountpoint]);
  }
  rmSync(t.root, { recursive: true, force: true });
  for (const dir of cgroupDirs(t)) {
    try {
      rmdirSync(dir);
    } catch {
      // absent, or a leak that leaks() already reported
    }
  }
}
