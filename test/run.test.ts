// `berth run` end to end on the real kernel: isolation, limits, mounts,
// users, exit codes and signals, with a leak check after every test.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { hostname } from "node:os";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { berth, BERTH, busyboxTar, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";

let t: TestRoot;
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
});
afterEach(() => expect(leaks(t)).toEqual([]));
afterAll(() => removeRoot(t));

const run = (args: string[], opts?: { stdin?: string }) => berth(t, ["run", "--rm", ...args], opts);

describe("isolation", () => {
  test("the command is PID 1 and sees only its own processes", async () => {
    const r = await run(["bb", "sh", "-c", "echo $$; ps -o pid,comm; true"]);
    expect(r.code).toBe(0);
    const [pid, _header, ...procs] = r.stdout.trim().split("\n");
    expect(pid).toBe("1");
    expect(procs.map((l) => l.trim().split(/\s+/))).toEqual([["1", "sh"], [expect.stringMatching(/^\d+$/), "ps"]]);
  });

  test("hostname is the container's own; the host's is untouched", async () => {
    const r = await run(["--hostname", "berth-test-host", "bb", "hostname"]);
    expect(r.stdout.trim()).toBe("berth-test-host");
    expect(hostname()).not.toBe("berth-test-host");
    const d = await run(["bb", "hostname"]);
    expect(d.stdout.trim()).toMatch(/^[a-f0-9]{12}$/);
  });

  test("the host's files and mounts are not visible", async () => {
    const ls = await run(["bb", "ls", "/work"]);
    expect(ls.stderr).toContain("ls: /work: No such file or directory");
    // The container's mount table holds only its own mount points (sources may name host paths, as in Docker).
    const r = await run(["bb", "cat", "/proc/self/mountinfo"]);
    const points = r.stdout.trim().split("\n").map((l) => l.split(" ")[4]!);
    expect(points).toContain("/");
    expect(points.filter((p) => p.startsWith("/work") || p.startsWith("/tmp/") || p.startsWith(t.root))).toEqual([]);
  });

  test("the container's mounts do not appear on the host", async () => {
    const proc = Bun.spawn([BERTH, ...t.flags, "run", "--rm", "--tmpfs", "/scratch", "bb", "sh", "-c", "echo up; sleep 1"], { stdout: "pipe" });
    const reader = proc.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("up\n");
    // While it runs the host sees its root filesystem and its pinned network namespace, nothing mounted inside.
    const points = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "").filter((p) => p.startsWith(t.root));
    // (and the daemon's read-only view of its runtime, plugins/isolation/namespaces/runtime.ts)
    expect(points.map((p) => p.replace(/[a-f0-9]{64}/, "ID").slice(t.root.length)).sort()).toEqual(["/layers/overlay/rw/ID/merged", "/netns/ID", "/runtime/bun"]);
    expect(await proc.exited).toBe(0);
  });

  test("the capability set equals Docker's default, and non-root users get none", async () => {
    const root = await run(["bb", "grep", "^Cap", "/proc/self/status"]);
    expect(root.stdout).toContain("CapEff:\t00000000a80425fb");
    expect(root.stdout).toContain("CapPrm:\t00000000a80425fb");
    expect(root.stdout).toContain("CapBnd:\t00000000a80425fb");
    expect(root.stdout).toContain("CapInh:\t0000000000000000");
    const user = await run(["-u", "1000", "bb", "grep", "^Cap", "/proc/self/status"]);
    expect(user.stdout).toContain("CapEff:\t0000000000000000");
    expect(user.stdout).toContain("CapBnd:\t00000000a80425fb");
  });

  test("/proc is masked and /sys and /proc/sys are read-only", async () => {
    const r = await run(["bb", "sh", "-c", "wc -c < /proc/keys; echo x > /proc/sys/kernel/hostname; echo y > /sys/kernel/uevent_helper; ls /sys/firmware | wc -l"]);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]!.trim()).toBe("0");
    expect(lines[1]!.trim()).toBe("0");
    expect(r.stderr).toMatch(/Read-only file system/);
    expect((r.stderr.match(/Read-only file system/g) ?? []).length).toBe(2);
  });

  test("/dev holds only the default devices", async () => {
    const r = await run(["bb", "ls", "/dev"]);
    expect(r.stdout.trim().split("\n").sort()).toEqual(
      ["core", "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"].filter(
        (d) => d !== "core" || existsSync("/proc/kcore"),
      ),
    );
  });

  test("network none has only loopback, up; host shares the host's interfaces", async () => {
    const none = await run(["--network", "none", "bb", "ip", "-o", "link"]);
    expect(none.stdout.trim().split("\n")).toHaveLength(1);
    expect(none.stdout).toMatch(/1: lo: <LOOPBACK,UP,LOWER_UP>/);
    const hostLinks = Bun.spawnSync(["ip", "-o", "link"]).stdout.toString().trim().split("\n").length;
    const host = await run(["--network", "host", "bb", "ip", "-o", "link"]);
    expect(host.stdout.trim().split("\n")).toHaveLength(hostLinks);
  });
});

describe("limits", () => {
  test("a memory hog exits 137 and is reported OOMKilled", async () => {
    const r = await berth(t, ["run", "--name", "oom-hog", "-m", "16m", "--memory-swap", "16m", "bb", "tail", "/dev/zero"]);
    expect(r.code).toBe(137);
    const i = await berth(t, ["inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}} {{.State.Status}}", "oom-hog"]);
    expect(i.stdout.trim()).toBe("true 137 exited");
    expect((await berth(t, ["rm", "oom-hog"])).code).toBe(0);
  });

  test("a pids limit stops a fork bomb", async () => {
    const r = await run(["--pids-limit", "10", "bb", "sh", "-c", "for i in $(seq 30); do sleep 3 & done; ps -o pid | tail -n +2 | wc -l"]);
    expect(r.stderr).toMatch(/can't fork/);
    expect(Number(r.stdout.trim())).toBeLessThanOrEqual(10);
  });

  test("a cpu quota holds a busy loop to its share, and the kernel throttles it", async () => {
    // Measured by the kernel's own accounting, seen inside the container.
    // The ceiling is what the quota guarantees; the floor only shows the loop ran
    // (other load on the machine may keep it below its share).
    const script = `
      f=/sys/fs/cgroup/cpuacct/cpuacct.usage
      now() { cut -d' ' -f1 /proc/uptime | tr -d .; }   # centiseconds
      (while :; do :; done) & sleep 0.3
      a=$(cat $f); t0=$(now); sleep 2; b=$(cat $f); t1=$(now)
      kill $!; echo $(( (b - a) / ((t1 - t0) * 100000) ))
      awk '/^nr_throttled/{print $2}' /sys/fs/cgroup/cpu/cpu.stat`;
    const r = await run(["--cpus", "0.5", "bb", "sh", "-c", script]);
    const [percent, throttled] = r.stdout.trim().split("\n").map(Number);
    expect(percent).toBeGreaterThanOrEqual(15);
    expect(percent).toBeLessThanOrEqual(58);
    expect(throttled).toBeGreaterThan(0);
  });

  test("the container sees its own limits under /sys/fs/cgroup, read-only", async () => {
    const r = await run(["-m", "64m", "bb", "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; touch /sys/fs/cgroup/x"]);
    expect(Number(r.stdout.trim())).toBe(64 * 1024 * 1024);
    expect(r.stderr).toMatch(/Read-only file system/);
  });

  test("--memory-reservation sets the soft limit; above --memory it is refused", async () => {
    const r = await run(["-m", "128m", "--memory-reservation", "64m", "bb", "sh", "-c", "cat /sys/fs/cgroup/memory/memory.soft_limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.low"]);
    expect(Number(r.stdout.trim())).toBe(64 * 1024 * 1024);
    const bad = await run(["-m", "64m", "--memory-reservation", "128m", "bb", "true"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain("Minimum memory limit can not be less than memory reservation limit");
  });

  test("an invalid limit is refused with a clear error and nothing is left", async () => {
    const r = await run(["-m", "1k", "bb", "true"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/Minimum memory limit allowed is 6MB/);
  });
});

describe("filesystem", () => {
  test("--read-only refuses writes to the root filesystem", async () => {
    const r = await run(["--read-only", "bb", "touch", "/etc/x"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Read-only file system/);
  });

  test("--read-only still allows --tmpfs and volumes", async () => {
    const r = await run(["--read-only", "--tmpfs", "/scratch", "bb", "sh", "-c", "touch /scratch/ok && grep ' /scratch ' /proc/mounts"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^tmpfs \/scratch tmpfs rw,nosuid,nodev,noexec/);
  });

  test("bind mounts are read-write, or read-only with :ro", async () => {
    const dir = mkdtempSync("/tmp/berth-tests/vol-");
    writeFileSync(`${dir}/in`, "from host\n");
    const rw = await run(["-v", `${dir}:/data`, "bb", "sh", "-c", "cat /data/in; echo from container > /data/out"]);
    expect(rw.stdout).toBe("from host\n");
    expect(readFileSync(`${dir}/out`, "utf8")).toBe("from container\n");
    const ro = await run(["-v", `${dir}:/data:ro`, "bb", "touch", "/data/x"]);
    expect(ro.code).toBe(1);
    expect(ro.stderr).toMatch(/Read-only file system/);
    rmSync(dir, { recursive: true });
  });

  test("a symlink in the image cannot redirect a mount outside the container", async () => {
    // The image's /data points at a host path; the bind must land on that
    // path inside the container, never on the host's.
    const work = mkdtempSync("/tmp/berth-tests/evil-");
    const hostDir = `${work}/hostdir`;
    Bun.spawnSync(["mkdir", "-p", `${work}/layer`, hostDir]);
    writeFileSync(`${hostDir}/marker`, "mounted\n");
    Bun.spawnSync(["ln", "-s", `${work}/target`, `${work}/layer/data`]);
    Bun.spawnSync(["cp", await busyboxTar(), `${work}/evil.tar`]);
    expect(Bun.spawnSync(["tar", "-C", `${work}/layer`, "-rf", `${work}/evil.tar`, "./data"]).exitCode).toBe(0);
    expect((await berth(t, ["import", `${work}/evil.tar`, "evil"])).code).toBe(0);
    const r = await run(["-v", `${hostDir}:/data`, "evil", "cat", `${work}/target/marker`]);
    expect(r.stdout).toBe("mounted\n");
    expect(existsSync(`${work}/target`)).toBe(false);
    expect((await berth(t, ["rmi", "evil"])).code).toBe(0);
    rmSync(work, { recursive: true });
  });

  test("writes in one container are not seen by the next (copy-on-write)", async () => {
    await run(["bb", "sh", "-c", "echo changed > /etc/hostname-file; rm /bin/ls"]);
    const r = await run(["bb", "sh", "-c", "ls /etc/hostname-file 2>&1; ls / >/dev/null && echo ls-ok"]);
    expect(r.stdout).toMatch(/No such file/);
    expect(r.stdout).toContain("ls-ok");
  });
});

describe("process", () => {
  test("env, env-file, workdir and user are applied", async () => {
    const dir = mkdtempSync("/tmp/berth-tests/env-");
    writeFileSync(`${dir}/env`, "# comment\nFROM_FILE=yes\n\nOVERRIDE=file\n");
    const r = await run(["-e", "A=1", "--env-file", `${dir}/env`, "-e", "OVERRIDE=flag", "-w", "/var/tmp/work", "-u", "app", "bb", "sh", "-c", "echo $A $FROM_FILE $OVERRIDE $HOME $HOSTNAME; pwd; id"]);
    const [vars, pwd, id] = r.stdout.trim().split("\n");
    expect(vars).toMatch(/^1 yes flag \/home\/app [a-f0-9]{12}$/);
    expect(pwd).toBe("/var/tmp/work");
    // runc's rule: supplementary groups from /etc/group membership, the primary gid not repeated.
    expect(id).toBe("uid=1000(app) gid=1000(app) groups=29(audio)");
    rmSync(dir, { recursive: true });
  });

  test("numeric user and group need no passwd entry", async () => {
    const r = await run(["-u", "4242:4343", "bb", "id"]);
    expect(r.stdout.trim()).toBe("uid=4242 gid=4343");
  });

  test("an unknown user name fails with 125 and says so", async () => {
    const r = await run(["-u", "nosuchuser", "bb", "true"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain("unable to find user nosuchuser: no matching entries in passwd file");
  });

  test("--ulimit sets the limits", async () => {
    const r = await run(["--ulimit", "nofile=512:1024", "bb", "sh", "-c", "ulimit -n; ulimit -Hn"]);
    expect(r.stdout.trim().split("\n")).toEqual(["512", "1024"]);
  });

  test("--entrypoint replaces the image's entrypoint and drops its CMD", async () => {
    const r = await run(["--entrypoint", "echo", "bb", "hello", "world"]);
    expect(r.stdout).toBe("hello world\n");
    const bare = await run(["--entrypoint", "pwd", "bb"]);
    expect(bare.stdout).toBe("/\n");
  });

  test("stdin passes through with -i, and is empty without", async () => {
    const r = await run(["-i", "bb", "cat"], { stdin: "piped\n" });
    expect(r.stdout).toBe("piped\n");
    const n = await run(["bb", "cat"], { stdin: "ignored\n" });
    expect(n.stdout).toBe("");
  });

  test("stdout and stderr stay separate", async () => {
    const r = await run(["bb", "sh", "-c", "echo out; echo err >&2"]);
    expect(r.stdout).toBe("out\n");
    expect(r.stderr).toBe("err\n");
  });
});

describe("exit codes follow Docker", () => {
  test("the command's own exit code", async () => {
    expect((await run(["bb", "sh", "-c", "exit 42"])).code).toBe(42);
  });

  test("127 for a command that is not found", async () => {
    const r = await run(["bb", "nosuchcommand"]);
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('exec: "nosuchcommand": executable file not found in $PATH');
    const abs = await run(["bb", "/no/such/file"]);
    expect(abs.code).toBe(127);
  });

  test("126 for a file that cannot be executed", async () => {
    const r = await run(["bb", "/etc/passwd"]);
    expect(r.code).toBe(126);
    expect(r.stderr).toContain("permission denied");
    expect((await run(["bb", "/etc"])).code).toBe(126);
  });

  test("125 for engine errors: unknown image, bad flag", async () => {
    const img = await run(["no-such-image", "true"]);
    expect(img.code).toBe(125);
    expect(img.stderr).toContain("No such image: no-such-image:latest");
    const flag = await run(["--no-such-flag", "bb", "true"]);
    expect(flag.code).toBe(125);
    expect(flag.stderr).toContain("unknown flag: --no-such-flag");
  });

  test("a failed start leaves the container created with the error, and nothing mounted", async () => {
    const r = await berth(t, ["run", "--name", "broken", "bb", "nosuchcommand"]);
    expect(r.code).toBe(127);
    const i = await berth(t, ["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "broken"]);
    expect(i.stdout.trim()).toBe("created 127");
    expect((await berth(t, ["rm", "broken"])).code).toBe(0);
  });
});

describe("signals", () => {
  test("SIGTERM to berth reaches the container's PID 1", async () => {
    const proc = Bun.spawn([BERTH, ...t.flags, "run", "--rm", "bb", "sh", "-c", 'trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 0.1; done'], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const reader = proc.stdout.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toBe("ready\n");
    proc.kill("SIGTERM");
    const rest = new TextDecoder().decode((await reader.read()).value);
    expect(rest).toBe("got TERM\n");
    expect(await proc.exited).toBe(3);
  });
});

describe("--init", () => {
  test("berth-init is PID 1, the command its child, and the command's exit code is the container's", async () => {
    const r = await run(["--init", "bb", "sh", "-c", "ps -o pid,args; exit 7"]);
    expect(r.code).toBe(7);
    const procs = r.stdout.trim().split("\n").slice(1).map((l) => l.trim());
    expect(procs[0]).toBe("1 /sbin/docker-init -- sh -c ps -o pid,args; exit 7");
    expect(procs[1]).toMatch(/^\d+ sh -c ps/);
  });

  test("it reaps orphans, which stay zombies under a PID 1 that never waits", async () => {
    // The grandchild is orphaned, re-parented to PID 1 (`sleep`, or berth-init's child's parent), and exits.
    const zombies = async (flags: string[]) => {
      const id = (await berth(t, ["run", "-d", ...flags, "bb", "sh", "-c", "(sleep 0.1 &); exec sleep 600"])).stdout.trim();
      await Bun.sleep(600);
      const ps = await berth(t, ["exec", id, "sh", "-c", "ps -o stat,comm | grep -c '^Z' || true"]);
      await berth(t, ["rm", "-f", id]);
      return ps.stdout.trim();
    };
    expect(await zombies(["--init"])).toBe("0");
    expect(await zombies([])).toBe("1");
  });

  test("it forwards SIGTERM to a command that ignores signals as PID 1: stop ends it at once with 143", async () => {
    const id = (await berth(t, ["run", "-d", "--init", "bb", "sleep", "600"])).stdout.trim();
    const stop = await berth(t, ["stop", "-t", "60", id]);
    expect(stop.code).toBe(0);
    const code = await berth(t, ["inspect", "-f", "{{.State.ExitCode}}", id]);
    expect(code.stdout.trim()).toBe("143");
    await berth(t, ["rm", id]);
  });
});

describe("container lifecycle", () => {
  test("without --rm the container stays, listed by ps -a, until rm", async () => {
    const r = await berth(t, ["run", "--name", "keeper", "bb", "true"]);
    expect(r.code).toBe(0);
    const ps = await berth(t, ["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    expect(ps.stdout).toMatch(/^keeper Exited \(0\) /m);
    const running = await berth(t, ["ps", "-q"]);
    expect(running.stdout).toBe("");
    const dup = await berth(t, ["run", "--name", "keeper", "bb", "true"]);
    expect(dup.code).toBe(125);
    expect(dup.stderr).toContain('The container name "/keeper" is already in use');
    expect((await berth(t, ["rm", "keeper"])).stdout).toBe("keeper\n");
    expect((await berth(t, ["ps", "-a", "-q"])).stdout).toBe("");
  });

  test("rm of an unknown container fails with 1 and names it", async () => {
    const r = await berth(t, ["rm", "nope"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("No such container: nope");
  });
});
