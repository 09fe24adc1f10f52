// The CLI around `run`: import, images, rmi, inspect, ps, rm, info and
// help, against a real root; plus storage driver selection by name.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { berth, BERTH, busyboxTar, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";

let t: TestRoot;
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
});
afterEach(() => expect(leaks(t)).toEqual([]));
afterAll(() => removeRoot(t));

describe("import and images", () => {
  test("import from stdin and gzip, with --change; the same content gives the same image ID", async () => {
    const tar = await busyboxTar();
    const gz = `${t.root}/bb.tar.gz`;
    expect(Bun.spawnSync(["sh", "-c", `gzip -c ${tar} > ${gz}`]).exitCode).toBe(0);
    const fromGz = await berth(t, ["import", "-c", 'CMD ["sh"]', gz, "gz:1"]);
    expect(fromGz.code).toBe(0);
    expect(fromGz.stdout).toMatch(/^sha256:[a-f0-9]{64}\n$/);
    const proc = Bun.spawn([BERTH, ...t.flags, "import", "-c", "ENV GREETING=hi", "-c", "WORKDIR /srv", "-", "stdin:1"], { stdin: Bun.file(tar), stdout: "pipe" });
    expect(await proc.exited).toBe(0);
    const cfg = await berth(t, ["inspect", "-f", "{{json .Config}}", "stdin:1"]);
    expect(JSON.parse(cfg.stdout)).toEqual({ Env: ["GREETING=hi"], WorkingDir: "/srv" });
    const run = await berth(t, ["run", "--rm", "stdin:1", "sh", "-c", "echo $GREETING; pwd"]);
    expect(run.stdout).toBe("hi\n/srv\n");
    // Same layer content: the layer is shared, not stored twice.
    const layers = await berth(t, ["inspect", "-f", "{{json .RootFS.Layers}}", "gz:1", "stdin:1"]);
    const [a, b] = layers.stdout.trim().split("\n");
    expect(a).toBe(b);
  });

  test("images lists names, tags, short IDs and sizes; -q lists IDs", async () => {
    const r = await berth(t, ["images"]);
    expect(r.stdout.split("\n")[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(r.stdout).toMatch(/^bb\s+latest\s+[a-f0-9]{12}\s+.+ago\s+\d+(\.\d+)?MB$/m);
    const q = await berth(t, ["images", "-q", "bb"]);
    expect(q.stdout).toMatch(/^[a-f0-9]{12}\n$/);
  });

  test("a bad tarball, a bad name and a missing file are refused and store nothing", async () => {
    const before = (await berth(t, ["images", "-q"])).stdout;
    const bad = `${t.root}/bad.tar`;
    writeFileSync(bad, "this is not a tar archive at all".repeat(40));
    const r = await berth(t, ["import", bad, "bad:1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/berth: .*(checksum|tar)/i);
    const name = await berth(t, ["import", bad, "Bad:Name"]);
    expect(name.stderr).toContain("repository name must be lowercase");
    const missing = await berth(t, ["import", "/no/such.tar"]);
    expect(missing.stderr).toContain("open /no/such.tar: no such file or directory");
    expect((await berth(t, ["images", "-q"])).stdout).toBe(before);
  });
});

describe("rmi", () => {
  test("untags, deletes, and refuses to delete an image a container uses", async () => {
    const tar = await busyboxTar();
    const id = (await berth(t, ["import", "-c", 'CMD ["sh"]', tar, "victim:1"])).stdout.trim();
    expect((await berth(t, ["inspect", "-f", "{{.Id}}", "victim:1"])).stdout.trim()).toBe(id);
    const c = await berth(t, ["run", "--name", "user-of-victim", "victim:1", "true"]);
    expect(c.code).toBe(0);
    const refused = await berth(t, ["rmi", "victim:1"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('unable to remove repository reference "victim:1" (must force) - container');
    expect((await berth(t, ["rm", "user-of-victim"])).code).toBe(0);
    const removed = await berth(t, ["rmi", "victim:1"]);
    expect(removed.stdout).toBe(`Untagged: victim:1\nDeleted: ${id}\n`);
    expect((await berth(t, ["inspect", "victim:1"])).code).toBe(1);
    // The layer is still used by bb, so bb still runs.
    expect((await berth(t, ["run", "--rm", "bb", "true"])).code).toBe(0);
  });

  test("rmi of an unknown image fails with 1", async () => {
    const r = await berth(t, ["rmi", "nope:1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("No such image: nope:1");
  });
});

describe("containers", () => {
  test("rm refuses a running container; rm -f kills it and releases everything", async () => {
    const proc = Bun.spawn([BERTH, ...t.flags, "run", "--name", "long", "bb", "sh", "-c", "echo up; sleep 60"], { stdout: "pipe" });
    const reader = proc.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("up\n");
    const ps = await berth(t, ["ps", "--format", "{{.Names}} {{.State}}"]);
    expect(ps.stdout).toBe("long running\n");
    const refused = await berth(t, ["rm", "long"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("You cannot remove a running container");
    expect((await berth(t, ["rm", "-f", "long"])).code).toBe(0);
    expect(await proc.exited).toBe(137);
    expect((await berth(t, ["ps", "-a", "-q"])).stdout).toBe("");
  });

  test("a container outlives the berth command that ran it; the daemon records its end", async () => {
    const proc = Bun.spawn([BERTH, ...t.flags, "run", "--name", "orphan", "bb", "sh", "-c", "echo up; sleep 0.5; exit 6"], { stdout: "pipe" });
    const reader = proc.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("up\n");
    proc.kill("SIGKILL");
    await proc.exited;
    expect((await berth(t, ["ps", "--format", "{{.Names}} {{.State}}"])).stdout).toBe("orphan running\n");
    expect((await berth(t, ["wait", "orphan"])).stdout).toBe("6\n");
    expect((await berth(t, ["ps", "-a", "--format", "{{.Names}} {{.State}}"])).stdout).toBe("orphan exited\n");
    expect(leaks(t)).toEqual([]);
    expect((await berth(t, ["rm", "orphan"])).code).toBe(0);
  });

  test("inspect shows Docker's fields; a missing object is an error", async () => {
    expect((await berth(t, ["run", "--name", "insp", "-e", "X=1", "-m", "32m", "bb", "sh", "-c", "exit 3"])).code).toBe(3);
    const r = await berth(t, ["inspect", "insp"]);
    const [c] = JSON.parse(r.stdout);
    expect(c.Name).toBe("/insp");
    expect(c.State).toMatchObject({ Status: "exited", ExitCode: 3, Running: false, OOMKilled: false });
    expect(c.Config.Env).toContain("X=1");
    expect(c.Config.Cmd).toEqual(["sh", "-c", "exit 3"]);
    expect(c.HostConfig.Memory).toBe(32 * 1024 * 1024);
    expect(c.Driver).toBe("overlay");
    expect(c.Image).toMatch(/^sha256:/);
    expect(readFileSync(c.HostsPath, "utf8")).toContain("127.0.0.1\tlocalhost");
    const missing = await berth(t, ["inspect", "nothing-here"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("No such object: nothing-here");
    expect((await berth(t, ["rm", "insp"])).code).toBe(0);
  });
});

describe("plugins by name", () => {
  test("info lists every plugin with its status, and why one cannot run", async () => {
    const r = await berth(t, ["info", "--format", "json"]);
    const info = JSON.parse(r.stdout);
    const names = info.BerthPlugins.map((p: { Kind: string; Name: string }) => `${p.Kind}/${p.Name}`).sort();
    expect(names).toEqual(["isolation/namespaces", "limits/cgroup-v1", "limits/cgroup-v2", "limits/none", "network/bridge", "network/container", "network/host", "network/none", "storage/fuse-overlay", "storage/overlay", "storage/vfs", "volume/local"]);
    for (const p of info.BerthPlugins) if (!p.Available) expect(p.Reason).not.toBe("");
    expect(info.BerthPlugins.filter((p: { Default: boolean; Kind: string }) => p.Default && p.Kind === "storage")).toHaveLength(1);
    expect(info.Driver).toBe("overlay");
  });

  test("the vfs driver runs the same container, chosen by --storage-driver", async () => {
    const vfs = makeRoot(["--storage-driver", "vfs"]);
    try {
      await importBusybox(vfs);
      const r = await berth(vfs, ["run", "--rm", "bb", "sh", "-c", "echo hi > /tmp/f && cat /tmp/f && mount | grep ' / '"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^hi\n/);
      expect(r.stdout).not.toContain("overlay");
      expect(leaks(vfs)).toEqual([]);
    } finally {
      await removeRoot(vfs);
    }
  });

  test("an unknown driver name is refused and names the choices", async () => {
    const z = makeRoot(["--storage-driver", "zfs"]);
    const r = await berth(z, ["run", "--rm", "bb", "true"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('unknown storage plugin "zfs"');
    expect(r.stderr).toContain("overlay, vfs");
    await removeRoot(z);
    const net = await berth(t, ["run", "--rm", "--network", "nosuch", "bb", "true"]);
    expect(net.code).toBe(125);
    expect(net.stderr).toContain("network nosuch not found");
    const driver = await berth(t, ["network", "create", "-d", "overlay2", "x"]);
    expect(driver.code).toBe(1);
    expect(driver.stderr).toContain('unknown network plugin "overlay2"');
    expect(driver.stderr).toContain("bridge, host, none, container");
  });
});

describe("version", () => {
  test("--format takes Docker's {{.Client}} and {{.Server}} fields, and json", async () => {
    const r = await berth(t, ["version", "--format", "{{.Client.ApiVersion}} {{.Server.ApiVersion}} {{.Server.Os}}"]);
    expect(r.stdout).toBe("1.43 1.43 linux\n");
    const j = JSON.parse((await berth(t, ["version", "-f", "json"])).stdout);
    expect(j.Server.Platform.Name).toBe("berth");
    expect(j.Client.Version).toBe(j.Server.Version);
  });
});

describe("help", () => {
  test("every command has --help with its usage and every flag described", async () => {
    const main = await berth(t, ["--help"]);
    const commands = [...main.stdout.matchAll(/^  ([a-z]+)\s{2,}/gm)].map((m) => m[1]!);
    expect(commands).toEqual(expect.arrayContaining(["run", "ps", "rm", "inspect", "import", "images", "rmi", "info", "version"]));
    for (const c of commands) {
      const h = await berth(t, [c, "--help"]);
      expect(h.code, c).toBe(0);
      expect(h.stdout, c).toMatch(new RegExp(`^Usage:  berth ${c}( |\n)`));
      for (const line of h.stdout.split("\n").filter((l) => /^\s+(-\w, )?--/.test(l))) expect(line.trim().split(/\s{2,}/).length, line).toBeGreaterThan(1);
    }
  });

  test("every subcommand of a group has --help with its usage as typed (docker image ls, not images)", async () => {
    for (const group of ["container", "image", "network", "volume", "system", "compose"]) {
      const list = await berth(t, [group, "--help"]);
      expect(list.code, group).toBe(0);
      const subs = [...list.stdout.slice(list.stdout.indexOf("Commands:")).matchAll(/^  ([a-z]+)\s{2,}/gm)].map((m) => m[1]!);
      expect(subs.length, group).toBeGreaterThan(1);
      for (const sub of subs) {
        const h = await berth(t, [group, sub, "--help"]);
        expect(h.code, `${group} ${sub}`).toBe(0);
        expect(h.stdout, `${group} ${sub}`).toMatch(new RegExp(`^Usage:  berth ${group} ${sub}( \\[|\\s[A-Z]|\n)`));
        for (const line of h.stdout.split("\n").filter((l) => /^\s+(-\w, )?--/.test(l))) expect(line.trim().split(/\s{2,}/).length, line).toBeGreaterThan(1);
      }
    }
    const missing = await berth(t, ["network", "create"]);
    expect(missing.stderr).toContain('"berth network create" requires exactly 1 argument.');
  });

  test("a missing argument says what is required", async () => {
    const r = await berth(t, ["rm"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('"berth rm" requires at least 1 argument.');
  });
});
