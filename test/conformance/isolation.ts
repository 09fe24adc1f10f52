// The isolation conformance suite: every isolation plugin runs it, on a
// busybox root filesystem in a plain directory, without cgroups.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { DEFAULT_CAPABILITIES } from "../../core/caps.ts";
import type { Isolation, SandboxSpec } from "../../core/contracts/isolation.ts";
import { DEFAULT_MOUNTS, DEFAULT_MOUNTS_AFTER_CGROUP, MASKED_PATHS, READONLY_PATHS } from "../../core/engine/defaults.ts";
import { StartError } from "../../core/errors.ts";
import { createNetns, removeNetns } from "../../core/sys/netns.ts";
import { libcSys } from "../../core/sys/libc.ts";
import { busyboxTar } from "../helpers/berth.ts";

export function isolationConformance(name: string, make: () => Promise<Isolation>) {
  describe(`isolation conformance: ${name}`, () => {
    let iso: Isolation;
    let work: string;
    let rootfs: string;

    beforeAll(async () => {
      iso = await make();
      mkdirSync("/tmp/berth-tests", { recursive: true });
      work = mkdtempSync("/tmp/berth-tests/iso-");
      rootfs = `${work}/rootfs`;
      mkdirSync(rootfs);
      expect(Bun.spawnSync(["tar", "-C", rootfs, "-xf", await busyboxTar()]).exitCode).toBe(0);
    });
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    const spec = (args: string[], over: Partial<SandboxSpec> = {}, proc: Partial<SandboxSpec["process"]> = {}): SandboxSpec => ({
      id: "conformance",
      rootfs,
      hostname: "iso-test",
      readonlyRootfs: false,
      mounts: [...DEFAULT_MOUNTS, ...DEFAULT_MOUNTS_AFTER_CGROUP],
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
      cgroupJoin: [],
      ...over,
      process: { args, env: ["PATH=/bin:/sbin:/usr/bin"], cwd: "/", user: "", capabilities: DEFAULT_CAPABILITIES, noNewPrivileges: false, rlimits: [], ...proc },
    });

    /** Run to completion, capturing stdout through a file in the rootfs' /tmp. */
    async function run(s: SandboxSpec) {
      const out = Bun.file(`${work}/out-${Math.random().toString(36).slice(2)}`);
      const fd = (await import("node:fs")).openSync(out.name!, "w");
      const proc = await iso.start(s, ["ignore", fd, fd]);
      const status = await proc.exited;
      (await import("node:fs")).closeSync(fd);
      return { pid: proc.pid, status, out: await out.text() };
    }

    test("the command runs as PID 1 with only its own processes, and a host pid is reported", async () => {
      const r = await run(spec(["sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'"]));
      expect(r.status.code).toBe(0);
      expect(r.out.trim().split("\n")).toEqual(["1", "3"]); // sh, ls and grep
      expect(r.pid).toBeGreaterThan(1);
    });

    test("hostname, /proc masking and read-only paths are applied", async () => {
      const r = await run(spec(["sh", "-c", "hostname; wc -c < /proc/keys; echo x 2>&1 > /proc/sys/kernel/hostname; touch /sys/x 2>&1"]));
      const lines = r.out.trim().split("\n");
      expect(lines[0]).toBe("iso-test");
      expect(lines[1]!.trim()).toBe("0");
      expect(lines.slice(2)).toHaveLength(2);
      for (const l of lines.slice(2)) expect(l).toMatch(/Read-only file system/);
    });

    test("the exit code of the command, and 128+n for a signal death", async () => {
      expect((await run(spec(["sh", "-c", "exit 7"]))).status.code).toBe(7);
      // PID 1 ignores signals from inside its namespace; from the host, SIGKILL ends it.
      const proc = await iso.start(spec(["sleep", "30"]), ["ignore", "ignore", "ignore"]);
      process.kill(proc.pid, "SIGKILL");
      expect(await proc.exited).toMatchObject({ code: 137, signal: "SIGKILL" });
    });

    test("start fails with StartError 127 for a missing command and 126 for a non-executable one", async () => {
      const err = (await iso.start(spec(["no-such-cmd"]), ["ignore", "ignore", "ignore"]).catch((e) => e)) as StartError;
      expect(err).toBeInstanceOf(StartError);
      expect(err.exitCode).toBe(127);
      const err2 = (await iso.start(spec(["/etc/passwd"]), ["ignore", "ignore", "ignore"]).catch((e) => e)) as StartError;
      expect(err2.exitCode).toBe(126);
    });

    test("a non-root user runs with the user's ids and no effective capabilities", async () => {
      const r = await run(spec(["sh", "-c", "id -u; id -g; grep CapEff /proc/self/status"], {}, { user: "1000:1000" }));
      expect(r.out.trim().split("\n")).toEqual(["1000", "1000", "CapEff:\t0000000000000000"]);
    });

    test("a read-only root filesystem refuses writes", async () => {
      const r = await run(spec(["sh", "-c", "touch /x 2>&1; echo $?"], { readonlyRootfs: true }));
      expect(r.out).toMatch(/Read-only file system\n1\n$/);
    });

    test("a given network namespace is joined", async () => {
      const ns = `${work}/netns`;
      createNetns(libcSys, ns);
      try {
        const r = await run(spec(["ip", "-o", "link"], { netnsPath: ns }));
        expect(r.out.trim().split("\n")).toHaveLength(1);
        expect(r.out).toMatch(/lo: <LOOPBACK,UP,LOWER_UP>/);
      } finally {
        removeNetns(libcSys, ns);
      }
    });

    test("nothing of the container's mounts is visible on the host afterwards", async () => {
      await run(spec(["true"]));
      const { readFileSync } = await import("node:fs");
      expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(rootfs);
    });
  });
}
