// Volumes through berthd: create/ls/inspect/rm/prune, -v name:/path made
// on first use and filled from the image, anonymous volumes, --mount, and
// the local driver's options.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { berth, busyboxTar, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";

let t: TestRoot;
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
});
afterEach(() => expect(leaks(t)).toEqual([]));
afterAll(() => removeRoot(t));

const ok = async (args: string[]) => {
  const r = await berth(t, args);
  expect(r.code, `berth ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
};

describe("volume commands", () => {
  test("create, ls, inspect and rm, with Docker's fields", async () => {
    expect(await ok(["volume", "create", "--label", "team=a", "v1"])).toBe("v1\n");
    expect(await ok(["volume", "ls", "--format", "{{.Driver}} {{.Name}}"])).toContain("local v1\n");
    const [v] = JSON.parse(await ok(["volume", "inspect", "v1"]));
    expect(v).toMatchObject({ Name: "v1", Driver: "local", Mountpoint: `${t.root}/volumes/v1/_data`, Labels: { team: "a" }, Scope: "local" });
    expect(existsSync(v.Mountpoint)).toBe(true);
    expect(await ok(["volume", "rm", "v1"])).toBe("v1\n");
    expect(existsSync(`${t.root}/volumes/v1`)).toBe(false);
    const gone = await berth(t, ["volume", "inspect", "v1"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("no such volume");
  });

  test("a bad name is refused with Docker's words", async () => {
    const r = await berth(t, ["volume", "create", "bad/name"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed');
  });
});

describe("named volumes", () => {
  test("-v name:/path makes the volume on first use; data outlives the container", async () => {
    await ok(["run", "--rm", "-v", "shared:/data", "bb", "sh", "-c", "echo kept > /data/f"]);
    expect(await ok(["run", "--rm", "-v", "shared:/data:ro", "bb", "cat", "/data/f"])).toBe("kept\n");
    const ro = await berth(t, ["run", "--rm", "-v", "shared:/data:ro", "bb", "touch", "/data/x"]);
    expect(ro.stderr).toMatch(/Read-only file system/);
    expect(readFileSync(`${t.root}/volumes/shared/_data/f`, "utf8")).toBe("kept\n");
    await ok(["volume", "rm", "shared"]);
  });

  test("a new volume is filled from the image's content at its path; nocopy leaves it empty", async () => {
    expect(await ok(["run", "--rm", "-v", "etc:/etc", "bb", "cat", "/etc/passwd"])).toContain("root:x:0:0");
    expect(readdirSync(`${t.root}/volumes/etc/_data`).sort()).toContain("group");
    expect(await ok(["run", "--rm", "-v", "etc2:/etc:nocopy", "bb", "ls", "/etc"])).not.toContain("passwd");
    await ok(["volume", "rm", "etc", "etc2"]);
  });

  test("a volume in use, even by a stopped container, cannot be removed", async () => {
    await ok(["run", "--name", "user", "-v", "busy:/data", "bb", "true"]);
    const r = await berth(t, ["volume", "rm", "busy"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/remove busy: volume is in use - \[[a-f0-9]{64}\]/);
    await ok(["rm", "user"]);
    await ok(["volume", "rm", "busy"]);
  });

  test("--mount type=volume and type=tmpfs, and a tmpfs volume from the local driver's options", async () => {
    await ok(["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=8m", "scratch"]);
    const out = await ok(["run", "--rm", "--mount", "type=volume,source=scratch,target=/s", "--mount", "type=tmpfs,target=/t", "bb", "sh", "-c", "grep -E ' /(s|t) ' /proc/mounts | cut -d' ' -f2,3"]);
    expect(out.trim().split("\n").sort()).toEqual(["/s tmpfs", "/t tmpfs"]);
    await ok(["volume", "rm", "scratch"]);
  });
});

describe("anonymous volumes", () => {
  test("-v /path makes an anonymous volume that rm -v removes", async () => {
    const id = (await ok(["run", "-d", "-v", "/anon", "bb", "sh", "-c", "touch /anon/x; sleep 30"])).trim();
    const [name] = JSON.parse(await ok(["inspect", "-f", "{{json .Mounts}}", id])).map((m: { Name: string }) => m.Name);
    expect(name).toMatch(/^[a-f0-9]{64}$/);
    expect(await ok(["volume", "ls", "-q"])).toContain(name);
    await ok(["rm", "-fv", id]);
    expect(await ok(["volume", "ls", "-q"])).not.toContain(name);
  });

  test("an image VOLUME gets an anonymous volume; without rm -v it stays until volume prune", async () => {
    await ok(["import", "-c", 'CMD ["sh"]', "-c", "VOLUME /state", await busyboxTar(), "withvol"]);
    await ok(["run", "--name", "vuser", "withvol", "sh", "-c", "echo x > /state/f"]);
    const [m] = JSON.parse(await ok(["inspect", "-f", "{{json .Mounts}}", "vuser"]));
    expect(m).toMatchObject({ Type: "volume", Destination: "/state", RW: true });
    await ok(["rm", "vuser"]);
    expect(await ok(["volume", "ls", "-q"])).toContain(m.Name);
    const prune = await ok(["volume", "prune", "-f"]);
    expect(prune).toContain(m.Name);
    expect(await ok(["volume", "ls", "-q"])).not.toContain(m.Name);
    await ok(["rmi", "withvol"]);
  });
});
