// --userns-remap end to end on the real kernel: containers in user
// namespaces whose root is a subordinate id on the host, with the overlay
// and fuse-overlay (idmapped layers) and vfs (shifted copy) drivers, exec, volumes, the
// docker CLI, and --userns=host. Each daemon remaps to a numeric uid:gid
// given a private range in a throwaway /etc/subuid and /etc/subgid entry.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { shiftTree, unshifter } from "../plugins/storage/shift.ts";
import { resolveRemap } from "../core/userns/remap.ts";
import { berth, docker, importBusybox, leaks, makeRoot, processesMatching, removeRoot, REPO, stopDaemon, type TestRoot } from "./helpers/berth.ts";

// A uid no passwd entry has, and a range of 65536 ids nobody else uses.
const OWNER = 3_900_000 + Math.floor(Math.random() * 90_000);
const BASE = (1000 + Math.floor(Math.random() * 30_000)) * 65536;
const LINE = `${OWNER}:${BASE}:65536`;
const SUBFILES = ["/etc/subuid", "/etc/subgid"];
const existed = SUBFILES.map((f) => existsSync(f));

function addSubids() {
  for (const f of SUBFILES) {
    const text = existsSync(f) ? readFileSync(f, "utf8") : "";
    writeFileSync(f, `${text}${text && !text.endsWith("\n") ? "\n" : ""}${LINE}\n`, { mode: 0o644 });
  }
}

function removeSubids() {
  SUBFILES.forEach((f, i) => {
    if (!existsSync(f)) return;
    const rest = readFileSync(f, "utf8").split("\n").filter((l) => l !== LINE).join("\n");
    if (!existed[i] && rest.trim() === "") rmSync(f);
    else writeFileSync(f, rest);
  });
}

const REMAP = ["--userns-remap", `${OWNER}:${OWNER}`];

/** The host's view of a container path in the overlay driver's upper layer. */
const upper = (t: TestRoot, id: string, path: string) => `${t.root}/layers/overlay/rw/${id}/diff${path}`;
const owner = (path: string) => {
  const st = statSync(path);
  return `${st.uid}:${st.gid}`;
};

beforeAll(addSubids);
afterAll(removeSubids);

describe("--userns-remap with overlay", () => {
  let t: TestRoot;
  let secretDir: string;
  beforeAll(async () => {
    t = makeRoot(REMAP);
    await importBusybox(t);
    // A host root-only file, and a root-owned one anybody may read, in a directory anybody may enter.
    secretDir = mkdtempSync("/tmp/berth-tests/userns-host-");
    chmodSync(secretDir, 0o755);
    writeFileSync(`${secretDir}/secret`, "host secret\n", { mode: 0o600 });
    writeFileSync(`${secretDir}/public`, "host file\n", { mode: 0o644 });
  });
  afterEach(() => expect(leaks(t)).toEqual([]));
  afterAll(async () => {
    await removeRoot(t);
    rmSync(secretDir, { recursive: true, force: true });
  });

  test("root in the container is the subordinate range's first id; /proc/self/uid_map shows the map", async () => {
    const r = await berth(t, ["run", "--rm", "bb", "sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map"]);
    expect(r.stderr).toBe("");
    const [uid, gid, ...maps] = r.stdout.trim().split("\n");
    expect([uid, gid]).toEqual(["0", "0"]);
    expect(maps.map((l) => l.trim().split(/\s+/))).toEqual([["0", String(BASE), "65536"], ["0", String(BASE), "65536"]]);
  });

  test("the image's files are root's inside, and what root makes is owned by the mapped ids on the host", async () => {
    const id = (await berth(t, ["create", "bb", "sh", "-c", "stat -c %u:%g /bin/busybox /etc/passwd; touch /made; mkdir /dir; chown 5:7 /dir"])).stdout.trim();
    const r = await berth(t, ["start", "-a", id]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("0:0\n0:0\n");
    expect(owner(upper(t, id, "/made"))).toBe(`${BASE}:${BASE}`);
    expect(owner(upper(t, id, "/dir"))).toBe(`${BASE + 5}:${BASE + 7}`);
    // The image's layer itself is untouched: idmapped, not chowned.
    const layers = readFileSync(`${t.root}/layers/overlay/rw/${id}/parent`, "utf8").replace("sha256:", "");
    expect(owner(`${t.root}/layers/overlay/${layers}/diff/bin/busybox`)).toBe("0:0");
    expect((await berth(t, ["diff", id])).stdout.split("\n").filter(Boolean).sort()).toEqual(["A /dir", "A /made"]);
    await berth(t, ["rm", id]);
  });

  test("a new named volume belongs to the remapped root, and so do the files root writes there", async () => {
    const vol = `uv-${Date.now()}`;
    const r = await berth(t, ["run", "--rm", "-v", `${vol}:/data`, "bb", "sh", "-c", "stat -c %u:%g /data; echo hi > /data/f"]);
    expect(r.stdout).toBe("0:0\n");
    const path = (await berth(t, ["volume", "inspect", "-f", "{{.Mountpoint}}", vol])).stdout.trim();
    expect(owner(path)).toBe(`${BASE}:${BASE}`);
    expect(owner(`${path}/f`)).toBe(`${BASE}:${BASE}`);
    await berth(t, ["volume", "rm", vol]);
  });

  test("a missing -v host directory is made for the remapped root, as Docker makes it", async () => {
    const dir = `${secretDir}/made-by-v/sub`;
    const r = await berth(t, ["run", "--rm", "-v", `${dir}:/here`, "bb", "sh", "-c", "touch /here/f && stat -c %u:%g /here"]);
    expect(r.stdout).toBe("0:0\n");
    expect([owner(`${secretDir}/made-by-v`), owner(dir), owner(`${dir}/f`)]).toEqual(Array(3).fill(`${BASE}:${BASE}`));
    expect(owner(secretDir)).toBe("0:0");
  });

  test("Docker's capabilities are there, but they do not reach the host's files", async () => {
    const r = await berth(t, [
      "run", "--rm", "-v", `${secretDir}/secret:/secret`, "-v", `${secretDir}/public:/public`, "bb", "sh", "-c",
      "grep ^CapEff /proc/self/status; cat /secret || echo no-read; echo x >> /public || echo no-write; chown 0 /public || echo no-chown; cat /public",
    ]);
    expect(r.stdout).toBe("CapEff:\t00000000a80425fb\nno-read\nno-write\nno-chown\nhost file\n");
    expect(r.stderr).toContain("Permission denied");
    expect(readFileSync(`${secretDir}/public`, "utf8")).toBe("host file\n");
    expect(owner(`${secretDir}/public`)).toBe("0:0");
  });

  test("proc, sysfs of its own network namespace, devpts, mqueue, /dev and the /etc files work", async () => {
    const r = await berth(t, [
      "run", "--rm", "-t", "--hostname", "uns", "bb", "sh", "-c",
      "ls /sys/class/net | tr '\\n' ' '; echo; grep -c . /proc/self/mountinfo >/dev/null && echo proc; tty; grep -o ' /dev/mqueue mqueue' /proc/mounts; " +
        "echo ok > /dev/null && head -c 4 /dev/zero | wc -c; cat /etc/hostname; grep -c uns /etc/hosts; test -s /etc/resolv.conf && echo resolv; " +
        "echo '10.9.9.9 extra' >> /etc/hosts && stat -c %u:%g /etc/hosts",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout.replaceAll("\r", "").split("\n").map((l) => l.trim())).toEqual(["eth0 lo", "proc", "/dev/pts/0", "/dev/mqueue mqueue", "4", "uns", "1", "resolv", "0:0", ""]);
  });

  test("limits still apply: the cgroup is joined before the user namespace is entered", async () => {
    const r = await berth(t, ["run", "--rm", "-m", "64m", "--pids-limit", "20", "bb", "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"]);
    expect(r.stdout).toBe("67108864\n20\n");
    const hog = await berth(t, ["run", "--rm", "-m", "16m", "--memory-swap", "16m", "bb", "tail", "/dev/zero"]);
    expect(hog.code).toBe(137);
    // ulimits are set by the monitor as host root, then again inside.
    const ul = await berth(t, ["run", "--rm", "--ulimit", "nofile=1024:2048", "bb", "sh", "-c", "ulimit -n; ulimit -Hn"]);
    expect(ul.stdout).toBe("1024\n2048\n");
  });

  test("exec, logs, stop and rm work as without remapping; exec enters the user namespace", async () => {
    const name = `uexec-${Date.now()}`;
    expect((await berth(t, ["run", "-d", "--name", name, "bb", "sh", "-c", "echo started; exec sleep 1000"])).code).toBe(0);
    const id = (await berth(t, ["inspect", "-f", "{{.Id}}", name])).stdout.trim();
    const e = await berth(t, ["exec", name, "sh", "-c", "cat /proc/self/uid_map; id -u; touch /by-exec; ps -o pid,comm | grep -c sleep"]);
    expect(e.code).toBe(0);
    expect(e.stdout.split("\n").map((l) => l.trim().split(/\s+/).join(" "))).toEqual([`0 ${BASE} 65536`, "0", "1", ""]);
    expect(owner(upper(t, id, "/by-exec"))).toBe(`${BASE}:${BASE}`);
    expect((await berth(t, ["logs", name])).stdout).toBe("started\n");
    expect((await berth(t, ["stop", "-t", "1", name])).code).toBe(0);
    expect((await berth(t, ["inspect", "-f", "{{.State.ExitCode}}", name])).stdout.trim()).toBe("137");
    expect((await berth(t, ["rm", name])).code).toBe(0);
    expect(existsSync(`${t.root}/userns`) ? readdirSync(`${t.root}/userns`) : []).toEqual([]); // pinned only while starting
  });

  test("a command that cannot start fails as without remapping, and leaves nothing (the leak check after each test)", async () => {
    const r = await berth(t, ["run", "--rm", "bb", "no-such-command"]);
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('exec: "no-such-command": executable file not found in $PATH');
    expect(readdirSync(`${t.root}/userns`)).toEqual([]);
  });

  test("--userns=host opts a container out; another USER mode is refused", async () => {
    const id = (await berth(t, ["create", "--userns=host", "bb", "sh", "-c", "cat /proc/self/uid_map; touch /made"])).stdout.trim();
    const r = await berth(t, ["start", "-a", id]);
    expect(r.stdout.trim().split(/\s+/)).toEqual(["0", "0", "4294967295"]);
    expect(owner(upper(t, id, "/made"))).toBe("0:0");
    await berth(t, ["rm", id]);
    const bad = await berth(t, ["run", "--rm", "--userns=container:x", "bb", "true"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('--userns: invalid USER mode "container:x"');
  });

  test("sharing the host's network, pid namespace or privileges is refused as Docker does; --userns=host allows it", async () => {
    const net = await berth(t, ["run", "--rm", "--network", "host", "bb", "true"]);
    expect(net.code).toBe(125);
    expect(net.stderr).toContain("cannot share the host's network namespace when user namespaces are enabled");
    const priv = await docker(t, ["run", "--rm", "--privileged", "bb", "true"]);
    expect(priv.code).toBe(125);
    expect(priv.stderr).toContain("privileged mode is incompatible with user namespaces");
    const host = await berth(t, ["run", "--rm", "--userns=host", "--network", "host", "bb", "cat", "/proc/self/uid_map"]);
    expect(host.stdout.trim().split(/\s+/)).toEqual(["0", "0", "4294967295"]);
  });

  test("--network container:X: its namespace is another user namespace's, so the host's sysfs is bound in, as runc does", async () => {
    const name = `unet-${Date.now()}`;
    await berth(t, ["run", "-d", "--name", name, "bb", "sleep", "1000"]);
    const r = await berth(t, ["run", "--rm", "--network", `container:${name}`, "bb", "sh", "-c", "cat /proc/self/uid_map; ip addr | grep -c 'inet 172'; test -d /sys/class/net/lo && echo sys"]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").map((l) => l.trim().split(/\s+/).join(" "))).toEqual([`0 ${BASE} 65536`, "1", "sys", ""]);
    await berth(t, ["rm", "-f", name]);
  });

  test("the docker CLI: run, and docker info lists name=userns; berth info shows the range", async () => {
    const r = await docker(t, ["run", "--rm", "bb", "cat", "/proc/self/uid_map"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split(/\s+/)).toEqual(["0", String(BASE), "65536"]);
    const info = await docker(t, ["info", "--format", "{{json .SecurityOptions}}"]);
    expect(JSON.parse(info.stdout)).toContain("name=userns");
    const mine = await berth(t, ["info"]);
    expect(mine.stdout).toContain(`Userns Remap: ${OWNER}:${OWNER} (uids ${BASE}:65536, gids ${BASE}:65536)`);
  });

  test("docker cp, export and commit speak the container's ids, not the host's", async () => {
    const name = `ucp-${Date.now()}`;
    await berth(t, ["run", "-d", "--name", name, "bb", "sh", "-c", "touch /made; chown 5:6 /made; exec sleep 1000"]);
    const id = (await berth(t, ["inspect", "-f", "{{.Id}}", name])).stdout.trim();
    for (let i = 0; i < 100 && !existsSync(upper(t, id, "/made")); i++) await Bun.sleep(20);
    const local = `${secretDir}/copied-in`;
    writeFileSync(local, "in\n");
    expect((await berth(t, ["cp", local, `${name}:/copied-in`])).code).toBe(0);
    expect((await berth(t, ["exec", name, "stat", "-c", "%u:%g", "/copied-in", "/made"])).stdout).toBe("0:0\n5:6\n");
    expect(owner(upper(t, id, "/copied-in"))).toBe(`${BASE}:${BASE}`);
    const list = (tar: Uint8Array) => Bun.spawnSync(["tar", "-tvf", "-"], { stdin: tar }).stdout.toString();
    const out = Bun.spawnSync([`${REPO}/bin/berth`, ...t.flags, "export", name]).stdout;
    expect(list(out)).toMatch(/-rw-r--r-- 5\/6 .* made\n/);
    expect(list(out)).toMatch(/-rwxr-xr-x 0\/0 .* bin\/busybox\n/);
    const img = `ucommit-${Date.now()}`;
    expect((await berth(t, ["commit", name, img])).code).toBe(0);
    const r = await berth(t, ["run", "--rm", "--userns=host", img, "stat", "-c", "%u:%g", "/made", "/copied-in"]);
    expect(r.stdout).toBe("5:6\n0:0\n");
    await berth(t, ["rm", "-f", name]);
    await berth(t, ["rmi", img]);
  });

  test("a container keeps running and takes execs across a daemon restart", async () => {
    const name = `urestart-${Date.now()}`;
    await berth(t, ["run", "-d", "--name", name, "bb", "sleep", "1000"]);
    await stopDaemon(t);
    const e = await berth(t, ["exec", name, "cat", "/proc/self/uid_map"]);
    expect(e.stdout.trim().split(/\s+/)).toEqual(["0", String(BASE), "65536"]);
    await berth(t, ["rm", "-f", name]);
  });
});

describe("--userns-remap with vfs", () => {
  let t: TestRoot;
  beforeAll(async () => {
    t = makeRoot(["--storage-driver", "vfs", ...REMAP]);
    await importBusybox(t);
  });
  afterEach(() => expect(leaks(t)).toEqual([]));
  afterAll(() => removeRoot(t));

  test("the container's copy is shifted: root's files inside, the mapped ids on the host; diff sees only real changes", async () => {
    const id = (await berth(t, ["create", "bb", "sh", "-c", "stat -c %u:%g /bin/busybox; touch /made"])).stdout.trim();
    const r = await berth(t, ["start", "-a", id]);
    expect(r.stdout).toBe("0:0\n");
    const rootfs = `${t.root}/layers/vfs/rw/${id}/rootfs`;
    expect(owner(`${rootfs}/made`)).toBe(`${BASE}:${BASE}`);
    expect(owner(`${rootfs}/bin/busybox`)).toBe(`${BASE}:${BASE}`);
    // Started again, it is not shifted twice.
    expect((await berth(t, ["start", "-a", id])).stdout).toBe("0:0\n");
    expect((await berth(t, ["diff", id])).stdout.split("\n").filter((l) => l && !/^C \/(etc|dev|proc|sys)$/.test(l))).toEqual(["A /made"]);
    await berth(t, ["rm", id]);
  });
});

describe("--userns-remap with fuse-overlay", () => {
  let t: TestRoot;
  beforeAll(async () => {
    t = makeRoot(["--storage-driver", "fuse-overlay", ...REMAP]);
    await importBusybox(t);
  });
  afterEach(() => {
    expect(leaks(t)).toEqual([]);
    expect(processesMatching(`${t.root}/layers/fuse-overlay/`)).toEqual([]);
  });
  afterAll(() => removeRoot(t));

  test("fuse-overlayfs reads idmapped layers too: root's files inside, the mapped ids for what root makes", async () => {
    const id = (await berth(t, ["create", "bb", "sh", "-c", "stat -c %u:%g /bin/busybox; touch /made"])).stdout.trim();
    const r = await berth(t, ["start", "-a", id]);
    expect(r.stdout).toBe("0:0\n");
    expect(owner(`${t.root}/layers/fuse-overlay/rw/${id}/diff/made`)).toBe(`${BASE}:${BASE}`);
    expect((await berth(t, ["diff", id])).stdout.split("\n").filter((l) => l && !/^C \/(etc|dev|proc|sys)$/.test(l))).toEqual(["A /made"]);
    await berth(t, ["rm", id]);
  });
});

describe("shifted copies (shift.ts)", () => {
  test("ids move by the range's offset, set-id bits survive the chown, symlinks are chowned themselves; a new range re-shifts", () => {
    const dir = mkdtempSync("/tmp/berth-tests/userns-shift-");
    try {
      const root = `${dir}/root`;
      mkdirSync(`${root}/sub`, { recursive: true });
      writeFileSync(`${root}/suid`, "x", { mode: 0o4755 });
      chownSync(`${root}/suid`, 0, 0);
      chmodSync(`${root}/suid`, 0o4755);
      writeFileSync(`${root}/sub/f`, "y");
      chownSync(`${root}/sub/f`, 1000, 50);
      symlinkSync("suid", `${root}/link`);
      const map = (host: number) => ({ userns: "", uids: [{ container: 0, host, size: 65536 }], gids: [{ container: 0, host, size: 65536 }] });
      shiftTree(root, `${dir}/marker`, map(200000));
      expect([owner(root), owner(`${root}/suid`), owner(`${root}/sub/f`)]).toEqual(["200000:200000", "200000:200000", "201000:200050"]);
      expect(lstatSync(`${root}/link`).uid).toBe(200000);
      expect(statSync(`${root}/suid`).mode & 0o7777).toBe(0o4755);
      shiftTree(root, `${dir}/marker`, map(200000)); // once
      expect(owner(`${root}/sub/f`)).toBe("201000:200050");
      shiftTree(root, `${dir}/marker`, map(300000));
      expect(owner(`${root}/sub/f`)).toBe("301000:300050");
      expect(unshifter(`${dir}/marker`)!(301000n, 300050n)).toEqual([1000n, 50n]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("resolving --userns-remap", () => {
  let etc: string;
  beforeAll(() => {
    etc = mkdtempSync("/tmp/berth-tests/userns-etc-");
  });
  afterAll(() => rmSync(etc, { recursive: true, force: true }));

  const files = (f: Record<string, string>) => {
    for (const n of ["passwd", "group", "subuid", "subgid"]) rmSync(`${etc}/${n}`, { force: true });
    for (const [n, text] of Object.entries(f)) writeFileSync(`${etc}/${n}`, text);
  };

  test("default adds berthremap and gives it the first free range from 100000, as Docker does for dockremap", () => {
    files({ passwd: "root:x:0:0::/root:/bin/sh\n", group: "root:x:0:\n", subuid: "alice:100000:65536\n", subgid: "alice:100000:65536\n" });
    const added: string[] = [];
    const r = resolveRemap("default", {
      etc,
      addUser: (name) => {
        added.push(name);
        writeFileSync(`${etc}/passwd`, `${readFileSync(`${etc}/passwd`, "utf8")}${name}:x:998:998::/:/bin/false\n`);
        writeFileSync(`${etc}/group`, `${readFileSync(`${etc}/group`, "utf8")}${name}:x:998:\n`);
      },
    });
    expect(added).toEqual(["berthremap"]);
    expect(r).toEqual({ user: "berthremap", group: "berthremap", uids: [{ container: 0, host: 165536, size: 65536 }], gids: [{ container: 0, host: 165536, size: 65536 }] });
    expect(readFileSync(`${etc}/subuid`, "utf8")).toBe("alice:100000:65536\nberthremap:165536:65536\n");
    // Once there, it is used as it is.
    expect(resolveRemap("default", { etc, addUser: () => { throw new Error("added twice"); } }).uids[0]!.host).toBe(165536);
  });

  test("names and numbers; several ranges map one after the other", () => {
    files({
      passwd: "bob:x:1001:1001::/home/bob:/bin/sh\n", group: "bob:x:1001:\nstaff:x:50:\n",
      subuid: "bob:300000:1000\n1001:200000:65536\n", subgid: "staff:400000:65536\n",
    });
    const r = resolveRemap("bob:staff", { etc });
    expect(r.user).toBe("bob");
    expect(r.uids).toEqual([{ container: 0, host: 200000, size: 65536 }, { container: 65536, host: 300000, size: 1000 }]);
    expect(r.gids).toEqual([{ container: 0, host: 400000, size: 65536 }]);
    expect(resolveRemap("1001:50", { etc }).group).toBe("staff");
  });

  test("bad values and missing ranges are refused, saying what to add", () => {
    files({ passwd: "bob:x:1001:1001::/:/bin/sh\n", group: "bob:x:1001:\n", subuid: "bob:100000:65536\n", subgid: "" });
    expect(() => resolveRemap("a:b:c", { etc })).toThrow('invalid user/group specification in --userns-remap: "a:b:c"');
    expect(() => resolveRemap("nobody-here", { etc })).toThrow('no user "nobody-here" in /etc/passwd');
    expect(() => resolveRemap("bob", { etc })).toThrow('no subordinate group ids for "bob"');
  });

  test("berthd refuses to start with a user that has no ranges", () => {
    const root = mkdtempSync("/tmp/berth-tests/userns-bad-");
    try {
      const p = Bun.spawnSync([`${REPO}/bin/berthd`, "--root", root, "--userns-remap", "4242424242:4242424242"], { stderr: "pipe", timeout: 30_000 });
      expect(p.exitCode).toBe(1);
      expect(p.stderr.toString()).toContain('berthd: --userns-remap: no subordinate user ids for "4242424242" in /etc/subuid');
      expect(existsSync(`${root}/berthd.pid`)).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
