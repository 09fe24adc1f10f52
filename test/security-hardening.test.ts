// Default hardening on the real kernel: the seccomp filter (Docker's default
// profile, unconfined, custom profiles, also for exec'd processes and health
// checks), no-new-privileges, --privileged and the device allowlist, through
// berth and the stock docker CLI against berthd.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { berth, docker, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";

let t: TestRoot;
let dir: string;
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
  dir = mkdtempSync("/tmp/berth-hardening-");
});
afterEach(() => expect(leaks(t)).toEqual([]));
afterAll(async () => {
  await removeRoot(t);
  rmSync(dir, { recursive: true, force: true });
});

const run = (args: string[]) => berth(t, ["run", "--rm", "--network", "none", ...args]);
const profile = (name: string, p: object) => {
  const path = `${dir}/${name}.json`;
  writeFileSync(path, JSON.stringify(p, null, 2));
  return path;
};
const statusField = (out: string, field: string) => new RegExp(`^${field}:\\s*(\\S+)`, "m").exec(out)?.[1];

describe("seccomp", () => {
  test("a container gets Docker's default profile: user namespaces are refused, ordinary work goes on", async () => {
    const r = await run(["bb", "sh", "-c", "grep Seccomp /proc/self/status; unshare -U true; echo unshare=$?; mkdir /tmp/d && echo ok"]);
    expect(statusField(r.stdout, "Seccomp")).toBe("2");
    expect(statusField(r.stdout, "Seccomp_filters")).toBe("1");
    expect(r.stdout).toContain("unshare=1");
    expect(r.stderr).toContain("unshare(0x10000000): Operation not permitted");
    expect(r.stdout).toContain("ok");
  });

  test("seccomp=unconfined loads no filter: the same unshare works", async () => {
    const r = await run(["--security-opt", "seccomp=unconfined", "bb", "sh", "-c", "grep Seccomp: /proc/self/status; unshare -U true; echo unshare=$?"]);
    expect(statusField(r.stdout, "Seccomp")).toBe("0");
    expect(r.stdout).toContain("unshare=0");
  });

  test("CAP_SYS_ADMIN unlocks mount in the profile, as in Docker", async () => {
    const without = await run(["bb", "sh", "-c", "mount -t tmpfs none /tmp; echo rc=$?"]);
    expect(without.stdout).toContain("rc=1");
    const r = await run(["--cap-add", "SYS_ADMIN", "bb", "sh", "-c", "mount -t tmpfs none /tmp && grep -c ' /tmp ' /proc/mounts"]);
    expect(r.stdout.trim()).toBe("1");
  });

  test("a custom profile: actions, errnoRet and argument filters", async () => {
    const p = profile("custom", {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        { names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13 },
        { names: ["rmdir"], action: "SCMP_ACT_ERRNO" },
        // kill(pid, SIGUSR1) refused, every other signal allowed.
        { names: ["kill"], action: "SCMP_ACT_ERRNO", args: [{ index: 1, value: 10, op: "SCMP_CMP_EQ" }] },
      ],
    });
    const r = await run(["--security-opt", `seccomp=${p}`, "bb", "sh", "-c", 'mkdir /tmp/x; rmdir /tmp; trap "" USR1 USR2; kill -USR1 $$; echo usr1=$?; kill -USR2 $$; echo usr2=$?']);
    expect(r.stderr).toContain("mkdir: can't create directory '/tmp/x': Permission denied");
    expect(r.stderr).toContain("rmdir: '/tmp': Operation not permitted");
    expect(r.stdout).toContain("usr1=1");
    expect(r.stdout).toContain("usr2=0");
  });

  test("a profile with an error is refused at create with a 400 naming the problem; nothing is created", async () => {
    const p = profile("bad", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 1, op: "SCMP_CMP_XX" }] }] });
    const r = await berth(t, ["create", "--security-opt", `seccomp=${p}`, "bb", "true"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('invalid seccomp profile: syscalls[0].args[0].op: "SCMP_CMP_XX" is not a valid operator');
    const d = await docker(t, ["run", "--security-opt", `seccomp=${p}`, "bb", "true"]);
    expect(d.code).toBe(125);
    expect(d.stderr).toContain("Error response from daemon: invalid seccomp profile: syscalls[0].args[0].op");
    const unknown = await berth(t, ["create", "--security-opt", "foo=bar", "bb", "true"]);
    expect(unknown.stderr).toContain('invalid --security-opt 2: "foo=bar"');
    expect((await berth(t, ["ps", "-aq"])).stdout.trim()).toBe("");
  });

  test("exec'd processes and health checks run under the container's filter", async () => {
    const name = `sc-${Date.now()}`;
    const c = await berth(t, ["run", "-d", "--name", name, "--network", "none", "--health-cmd", "grep Seccomp: /proc/self/status", "--health-interval", "1s", "bb", "sleep", "60"]);
    expect(c.code).toBe(0);
    const e = await berth(t, ["exec", name, "sh", "-c", "grep Seccomp: /proc/self/status; unshare -U true; echo unshare=$?"]);
    expect(statusField(e.stdout, "Seccomp")).toBe("2");
    expect(e.stdout).toContain("unshare=1");
    let log = "";
    for (let i = 0; i < 100 && !log.includes("Seccomp"); i++) {
      await Bun.sleep(100);
      log = (await berth(t, ["inspect", "-f", "{{json .State.Health.Log}}", name])).stdout;
    }
    expect(log).toMatch(/Seccomp:\\t2/);
    await berth(t, ["rm", "-f", name]);

    const loose = `sc-u-${Date.now()}`;
    await berth(t, ["run", "-d", "--name", loose, "--network", "none", "--security-opt", "seccomp=unconfined", "bb", "sleep", "60"]);
    expect(statusField((await berth(t, ["exec", loose, "grep", "Seccomp:", "/proc/self/status"])).stdout, "Seccomp")).toBe("0");
    await berth(t, ["rm", "-f", loose]);
  });

  test("the docker CLI sends a profile file's content; inspect shows SecurityOpt and info the builtin profile", async () => {
    const p = profile("docker", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" }] });
    const name = `sd-${Date.now()}`;
    const r = await docker(t, ["run", "--name", name, "--network", "none", "--security-opt", `seccomp=${p}`, "--security-opt", "no-new-privileges", "bb", "sh", "-c", "mkdir /tmp/x; grep NoNewPrivs /proc/self/status"]);
    expect(r.stderr).toContain("Operation not permitted");
    expect(statusField(r.stdout, "NoNewPrivs")).toBe("1");
    const opts = JSON.parse((await docker(t, ["inspect", "-f", "{{json .HostConfig.SecurityOpt}}", name])).stdout);
    expect(opts).toEqual([`seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`, "no-new-privileges"]);
    await docker(t, ["rm", name]);
    const info = await docker(t, ["info", "-f", "{{json .SecurityOptions}}"]);
    expect(JSON.parse(info.stdout)).toEqual(["name=seccomp,profile=builtin"]);
    expect((await berth(t, ["info"])).stdout).toContain("Security Options:\n  seccomp\n   Profile: builtin\n");
  });
});

describe("systempaths=unconfined", () => {
  test("nothing masked or read-only in /proc; inspect shows Docker's lists otherwise", async () => {
    const probe = ["bb", "sh", "-c", "grep -cE ' /proc/(keys|sys) ' /proc/mounts"];
    expect((await run(probe)).stdout.trim()).toBe("2");
    for (const client of [berth, docker]) {
      const name = `sp-${Date.now()}`;
      const r = await client(t, ["run", "--name", name, "--network", "none", "--security-opt", "systempaths=unconfined", ...probe]);
      expect(r.stdout.trim()).toBe("0");
      const h = JSON.parse((await client(t, ["inspect", "-f", "{{json .HostConfig}}", name])).stdout);
      expect([h.MaskedPaths, h.ReadonlyPaths, h.SecurityOpt ?? []]).toEqual([[], [], []]); // no daemon option: the CLIs send the lists
      await client(t, ["rm", name]);
    }
    const name = `sp-d-${Date.now()}`;
    await berth(t, ["create", "--name", name, "bb"]);
    const h = JSON.parse((await berth(t, ["inspect", "-f", "{{json .HostConfig}}", name])).stdout);
    expect(h.MaskedPaths).toContain("/proc/kcore");
    expect(h.ReadonlyPaths).toContain("/proc/sys");
    await berth(t, ["rm", name]);
  });
});

describe("no-new-privileges", () => {
  // As root: a setuid-root busybox copy, and root without a password so that su asks none; then as app, su to root.
  const script = 'cp /bin/busybox /tmp/busybox && chmod 4755 /tmp/busybox && sed -i "s/^root:x:/root::/" /etc/passwd && su app -c "grep NoNewPrivs /proc/self/status; /tmp/busybox su -c \\"id -u\\" root"';

  test("without it a setuid binary makes a user root", async () => {
    const r = await run(["bb", "sh", "-c", script]);
    expect(statusField(r.stdout, "NoNewPrivs")).toBe("0");
    expect(r.stdout.trim().split("\n").at(-1)).toBe("0");
  });

  test.each([["no-new-privileges"], ["no-new-privileges=true"], ["no-new-privileges:true"]])("with --security-opt %s the setuid bit gives nothing", async (opt) => {
    const r = await run(["--security-opt", opt, "bb", "sh", "-c", script]);
    expect(statusField(r.stdout, "NoNewPrivs")).toBe("1");
    expect(r.stderr).toContain("su: must be suid to work properly");
  });

  test("no-new-privileges=false, and exec'd processes follow the container", async () => {
    expect(statusField((await run(["--security-opt", "no-new-privileges=false", "bb", "grep", "NoNewPrivs", "/proc/self/status"])).stdout, "NoNewPrivs")).toBe("0");
    const name = `nnp-${Date.now()}`;
    await berth(t, ["run", "-d", "--name", name, "--network", "none", "--security-opt", "no-new-privileges", "bb", "sleep", "60"]);
    expect(statusField((await berth(t, ["exec", name, "grep", "NoNewPrivs", "/proc/self/status"])).stdout, "NoNewPrivs")).toBe("1");
    await berth(t, ["rm", "-f", name]);
  });
});

describe("--privileged", () => {
  // The engine's own bounding set: this host lacks CAP_SYS_RESOURCE, which Docker's --privileged fails on.
  const engineCapEff = () => /^CapBnd:\s*(\S+)/m.exec(readFileSync("/proc/self/status", "utf8"))![1];

  test("every capability, no seccomp, nothing masked, /sys and the cgroups writable, the host's devices", async () => {
    const r = await run(["--privileged", "bb", "sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status; grep -E ' /sys | /sys/fs/cgroup | /proc/sys | /proc/kcore ' /proc/mounts; ls /dev; mount -t tmpfs none /tmp && echo mounted; losetup -f"]);
    expect(r.code).toBe(0);
    expect(statusField(r.stdout, "CapEff")).toBe(engineCapEff());
    expect(statusField(r.stdout, "Seccomp")).toBe("0");
    expect(r.stdout).toMatch(/^sysfs \/sys sysfs rw,/m);
    expect(r.stdout).toMatch(/^tmpfs \/sys\/fs\/cgroup tmpfs rw,/m);
    expect(r.stdout).not.toMatch(/ \/proc\/sys | \/proc\/kcore /);
    const devs = r.stdout.split("\n");
    expect(devs).toContain("loop0");
    expect(devs).toContain("loop-control");
    expect(r.stdout).toContain("mounted");
    expect(r.stdout).toMatch(/^\/dev\/loop\d+$/m); // losetup found a free loop device through /dev/loop-control
  });

  test("device nodes keep the host's type, numbers and mode", async () => {
    const r = await run(["--privileged", "bb", "stat", "-c", "%F %t:%T %a", "/dev/loop0", "/dev/net/tun"]);
    const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
    expect(r.stdout.trim().split("\n")).toEqual([`block special file 7:0 ${mode("/dev/loop0")}`, `character special file a:c8 ${mode("/dev/net/tun")}`]);
  });

  test("the docker CLI's --privileged; inspect shows it", async () => {
    const name = `priv-${Date.now()}`;
    const r = await docker(t, ["run", "--name", name, "--network", "none", "--privileged", "bb", "sh", "-c", "mount -t tmpfs none /tmp && echo mounted"]);
    expect(r.stdout).toContain("mounted");
    expect((await docker(t, ["inspect", "-f", "{{.HostConfig.Privileged}}", name])).stdout.trim()).toBe("true");
    await docker(t, ["rm", name]);
  });

  test("exec --privileged gets every capability in a plain container, and keeps its seccomp filter", async () => {
    const name = `xpriv-${Date.now()}`;
    await berth(t, ["run", "-d", "--name", name, "--network", "none", "bb", "sleep", "60"]);
    const plain = await berth(t, ["exec", name, "grep", "-E", "^(CapEff|Seccomp):", "/proc/self/status"]);
    expect(statusField(plain.stdout, "CapEff")).toBe("00000000a80425fb");
    const priv = await berth(t, ["exec", "--privileged", name, "grep", "-E", "^(CapEff|Seccomp):", "/proc/self/status"]);
    expect(statusField(priv.stdout, "CapEff")).toBe(engineCapEff());
    expect(statusField(priv.stdout, "Seccomp")).toBe("2");
    await berth(t, ["rm", "-f", name]);
  });
});

describe("devices (cgroup v1 here; test/security-hardening-v2.v2vm.test.ts on v2)", () => {
  const probe = "mknod /dev/sda b 8 0 && echo made; head -c 1 /dev/sda; echo sda=$?; echo x > /dev/null && echo null-ok; head -c 3 /dev/zero | wc -c";

  test("a default container can make a disk's node but not open it, even with --cap-add MKNOD; /dev/null works", async () => {
    const r = await run(["--cap-add", "MKNOD", "bb", "sh", "-c", probe]);
    expect(r.stdout.trim().split("\n")).toEqual(["made", "sda=1", "null-ok", "3"]);
    expect(r.stderr).toContain("head: /dev/sda: Operation not permitted");
  });

  test("the device cgroup holds Docker's default allowlist", async () => {
    const r = await run(["bb", "cat", "/sys/fs/cgroup/devices/devices.list"]);
    expect(r.stdout.trim().split("\n").sort()).toEqual(
      ["b *:* m", "c *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 10:200 rwm", "c 136:* rwm"].sort(),
    );
  });

  test("--privileged opens any device", async () => {
    const r = await run(["--privileged", "bb", "sh", "-c", probe]);
    // No disk 8:0 here: the open gets past the device cgroup to the kernel, which finds no such device.
    expect(r.stderr).toContain("head: /dev/sda: No such device or address");
  });

  test("--device adds the node and its rule, under another name and with chosen permissions", async () => {
    const r = await run(["--device", "/dev/loop0", "--device", "/dev/loop1:/dev/xloop:r", "bb", "sh", "-c",
      "stat -c '%n %F %t:%T' /dev/loop0 /dev/xloop; head -c 1 /dev/loop0 >/dev/null && echo loop0-read; head -c 1 /dev/xloop >/dev/null && echo xloop-read; (echo x > /dev/xloop) 2>/dev/null || echo xloop-write-denied; grep ' 7:' /sys/fs/cgroup/devices/devices.list"]);
    expect(r.stdout.trim().split("\n")).toEqual(["/dev/loop0 block special file 7:0", "/dev/xloop block special file 7:1", "loop0-read", "xloop-read", "xloop-write-denied", "b 7:0 rwm", "b 7:1 r"]);
  });

  test("--device-cgroup-rule allows a device without making its node", async () => {
    const r = await run(["--device-cgroup-rule", "b 7:* r", "bb", "sh", "-c", "mknod /dev/l b 7 3 && head -c 1 /dev/l > /dev/null && echo read-ok; (echo x > /dev/l) 2>/dev/null || echo write-denied; grep '^b 7' /sys/fs/cgroup/devices/devices.list"]);
    expect(r.stdout.trim().split("\n")).toEqual(["read-ok", "write-denied", "b 7:* r"]);
    const d = await docker(t, ["run", "--rm", "--network", "none", "--device-cgroup-rule", "b 7:3 r", "bb", "grep", "^b 7", "/sys/fs/cgroup/devices/devices.list"]);
    expect(d.stdout.trim()).toBe("b 7:3 r");
    const bad = await berth(t, ["create", "--device-cgroup-rule", "x 1:2 q", "bb", "true"]);
    expect(bad.stderr).toContain("invalid device cgroup format 'x 1:2 q'");
  });

  test("the docker CLI's --device; bad mappings are refused at create", async () => {
    const name = `dev-${Date.now()}`;
    const r = await docker(t, ["run", "--name", name, "--network", "none", "--device", "/dev/loop2:/dev/disk0:rw", "bb", "sh", "-c", "head -c 1 /dev/disk0 > /dev/null && echo ok"]);
    expect(r.stdout.trim()).toBe("ok");
    expect(JSON.parse((await docker(t, ["inspect", "-f", "{{json .HostConfig.Devices}}", name])).stdout)).toEqual([{ PathOnHost: "/dev/loop2", PathInContainer: "/dev/disk0", CgroupPermissions: "rw" }]);
    await docker(t, ["rm", name]);
    const missing = await berth(t, ["create", "--device", "/dev/no-such-device", "bb", "true"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('error gathering device information while adding custom device "/dev/no-such-device": no such file or directory');
    const notDev = await berth(t, ["create", "--device", "/etc/hostname", "bb", "true"]);
    expect(notDev.stderr).toContain("not a device node");
    const badMode = await berth(t, ["create", "--device", "/dev/loop0:/dev/x:rwx", "bb", "true"]);
    expect(badMode.stderr).toContain("invalid device mode: rwx");
    expect((await berth(t, ["ps", "-aq"])).stdout.trim()).toBe("");
  });
});
