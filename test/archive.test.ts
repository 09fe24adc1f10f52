// docker cp and docker export on a container's root filesystem: stat, get
// and put an archive at a path (Docker's path rules and modes), confined to
// the root whatever symlinks say, and the whole root as a tar.
import { test, expect, describe, beforeAll, afterAll, beforeEach } from "vitest";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync, chownSync, existsSync, lchownSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync,
  rmSync, statSync, symlinkSync, utimesSync, writeFileSync,
} from "node:fs";
import { exportRootfs, getArchive, goFileMode, putArchive, rfc3339Nano, statPath, type ContainerPathStat } from "../core/engine/archive.ts";
import { applyLayer } from "../core/images/apply.ts";
import { readTar, type TarEntry } from "../core/images/tar.ts";
import { BerthError } from "../core/errors.ts";
import { libcSys } from "../core/sys/libc.ts";
import { S_IFCHR } from "../core/sys/index.ts";
import { chunked, tarBytes, type TarSpec } from "./helpers/tar-writer.ts";

const sys = libcSys;
let base: string;
let root: string;
/** A directory on the host, outside every container root: nothing may be written or read there. */
let host: string;

beforeAll(() => {
  base = mkdtempSync("/tmp/berth-archive-test-");
  host = mkdtempSync("/tmp/berth-archive-host-");
  writeFileSync(`${host}/secret`, "host secret\n");
});
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(host, { recursive: true, force: true });
});

let n = 0;
/** A fresh container root filesystem. */
function makeRoot(): string {
  const r = `${base}/root${++n}`;
  for (const d of ["etc", "bin", "srv/sub", "tmp", "dev", "sgid", "empty"]) mkdirSync(`${r}/${d}`, { recursive: true });
  writeFileSync(`${r}/etc/hosts`, "127.0.0.1 localhost\n");
  writeFileSync(`${r}/etc/passwd`, "root:x:0:0::/root:/bin/sh\n");
  writeFileSync(`${r}/bin/su`, "#!/bin/sh\n");
  writeFileSync(`${r}/srv/a`, "a\n");
  writeFileSync(`${r}/srv/b`, "bb\n");
  writeFileSync(`${r}/srv/sub/c`, "ccc\n");
  chmodSync(`${r}/bin/su`, 0o4755);
  chmodSync(`${r}/tmp`, 0o1777);
  chmodSync(`${r}/sgid`, 0o2775);
  chownSync(`${r}/srv/b`, 1000, 1001);
  symlinkSync("/srv", `${r}/link-abs`);
  symlinkSync("srv", `${r}/link-rel`);
  symlinkSync("/etc/hosts", `${r}/link-file`);
  symlinkSync("../../../../../../../../../../etc", `${r}/escape`); // ".." stops at the root: /etc of the container
  symlinkSync("/nowhere/x", `${r}/dangling`);
  symlinkSync(host, `${r}/hostdir`); // absolute: inside the root this is <root>/tmp/berth-archive-host-...
  symlinkSync("/tmp", `${r}/hosttmp`);
  symlinkSync("loop2", `${r}/loop1`);
  symlinkSync("loop1", `${r}/loop2`);
  sys.mknod(`${r}/dev/null`, S_IFCHR | 0o666, (1 << 8) | 3);
  chmodSync(`${r}/dev/null`, 0o666);
  execFileSync("mkfifo", ["-m", "0644", `${r}/dev/fifo`]);
  execFileSync("touch", ["-h", "-d", "@1600000000.123456789", `${r}/etc/hosts`]);
  return r;
}

async function rejects(p: Promise<unknown> | (() => unknown), kind: string, re: RegExp) {
  let err: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, "expected an error").toBeInstanceOf(BerthError);
  expect((err as BerthError).kind).toBe(kind);
  expect((err as Error).message).toMatch(re);
}

type Meta = Omit<TarEntry, "body" | "bytes" | "offset"> & { data: string };
async function entries(src: AsyncIterable<Uint8Array>): Promise<Meta[]> {
  const out: Meta[] = [];
  for await (const e of readTar(src)) {
    const { body: _b, bytes: _y, offset: _o, ...meta } = e;
    out.push({ ...meta, data: Buffer.from(await e.bytes()).toString("latin1") });
  }
  return out;
}
const names = async (src: AsyncIterable<Uint8Array>) => (await entries(src)).map((e) => e.name);

describe("statPath", () => {
  beforeEach(() => {
    root = makeRoot();
  });

  test("a file: name, size, Go mode, RFC 3339 mtime with nanoseconds", () => {
    expect(statPath(root, "/etc/hosts")).toEqual<ContainerPathStat>({
      name: "hosts", size: 20, mode: 0o644, mtime: "2020-09-13T12:26:40.123456789Z", linkTarget: "",
    });
    expect(statPath(root, "etc/hosts").name).toBe("hosts"); // relative to the root all the same
  });

  test("mode bits as Go's os.FileMode gives them", () => {
    expect(statPath(root, "/srv").mode).toBe(2 ** 31 + 0o755);
    expect(statPath(root, "/tmp").mode).toBe(2 ** 31 + 2 ** 20 + 0o777); // ModeDir | ModeSticky
    expect(statPath(root, "/sgid").mode).toBe(2 ** 31 + 2 ** 22 + 0o775); // ModeDir | ModeSetgid
    expect(statPath(root, "/bin/su").mode).toBe(2 ** 23 + 0o755); // ModeSetuid
    expect(statPath(root, "/link-abs").mode).toBe(2 ** 27 + 0o777); // ModeSymlink
    expect(statPath(root, "/dev/null").mode).toBe(2 ** 26 + 2 ** 21 + 0o666); // ModeDevice | ModeCharDevice
    expect(statPath(root, "/dev/fifo").mode).toBe(2 ** 25 + 0o644); // ModeNamedPipe
    expect(goFileMode(0o140755)).toBe(2 ** 24 + 0o755); // ModeSocket
    expect(goFileMode(0o060600)).toBe(2 ** 26 + 0o600); // a block device: ModeDevice alone
  });

  test("a symlink is not followed; its target is resolved inside the container", () => {
    expect(statPath(root, "/link-abs")).toMatchObject({ name: "link-abs", size: 4, linkTarget: "/srv" });
    expect(statPath(root, "/link-rel")).toMatchObject({ linkTarget: "/srv" });
    expect(statPath(root, "/link-file")).toMatchObject({ linkTarget: "/etc/hosts", mode: 2 ** 27 + 0o777 });
    expect(statPath(root, "/escape")).toMatchObject({ linkTarget: "/etc" });
    expect(statPath(root, "/dangling")).toMatchObject({ linkTarget: "/nowhere/x" });
    expect(statPath(root, "/hostdir")).toMatchObject({ linkTarget: host });
  });

  test("a trailing / or /. follows the symlink", () => {
    expect(statPath(root, "/link-abs/")).toMatchObject({ name: "link-abs", mode: 2 ** 31 + 0o755, linkTarget: "" });
    expect(statPath(root, "/link-abs/.")).toMatchObject({ name: ".", mode: 2 ** 31 + 0o755 });
    expect(statPath(root, "/")).toMatchObject({ name: "/", mode: 2 ** 31 + 0o755 });
    expect(statPath(root, "/srv/sub/../a")).toMatchObject({ name: "a", size: 2 });
  });

  test("missing paths, paths through files and through host-only symlinks are not found", async () => {
    await rejects(() => statPath(root, "/nope"), "NotFound", /^Could not find the file \/nope in container$/);
    await rejects(() => statPath(root, "/nope", "web"), "NotFound", /^Could not find the file \/nope in container web$/);
    await rejects(() => statPath(root, "/etc/hosts/x"), "NotFound", /Could not find the file/);
    await rejects(() => statPath(root, "/dangling/"), "NotFound", /Could not find the file/);
    // The host has <host>/secret; the container does not.
    await rejects(() => statPath(root, "/hostdir/secret"), "NotFound", /Could not find the file \/hostdir\/secret/);
    await rejects(() => statPath(root, "/loop1/x"), "InvalidArgument", /too many levels of symbolic links/);
  });

  test("rfc3339Nano drops trailing zeros as Go does", () => {
    expect(rfc3339Nano(1_600_000_000_000_000_000n)).toBe("2020-09-13T12:26:40Z");
    expect(rfc3339Nano(1_600_000_000_500_000_000n)).toBe("2020-09-13T12:26:40.5Z");
    expect(rfc3339Nano(-1n)).toBe("1969-12-31T23:59:59.999999999Z");
  });
});

describe("getArchive", () => {
  beforeAll(() => {
    root = makeRoot();
  });

  test("a directory: itself by its base name, then its content under that name", async () => {
    const want = ["srv/", "srv/a", "srv/b", "srv/sub/", "srv/sub/c"];
    expect(await names(getArchive(root, "/srv"))).toEqual(want);
    expect(await names(getArchive(root, "/srv/"))).toEqual(want);
    expect(await names(getArchive(root, "srv"))).toEqual(want);
    const list = await entries(getArchive(root, "/srv"));
    expect(list[2]).toMatchObject({ name: "srv/b", uid: 1000, gid: 1001, data: "bb\n" });
  });

  test("dir/. : the content alone, relative to it", async () => {
    expect(await names(getArchive(root, "/srv/."))).toEqual(["./", "./a", "./b", "./sub/", "./sub/c"]);
  });

  test("a file, a symlink (as a link), a symlink with / or /. (followed, named as asked)", async () => {
    expect(await entries(getArchive(root, "/etc/hosts"))).toMatchObject([{ name: "hosts", type: "file", data: "127.0.0.1 localhost\n", mtime: 1_600_000_000 }]);
    expect(await entries(getArchive(root, "/link-abs"))).toMatchObject([{ name: "link-abs", type: "symlink", linkname: "/srv" }]);
    expect(await names(getArchive(root, "/link-abs/"))).toEqual(["link-abs/", "link-abs/a", "link-abs/b", "link-abs/sub/", "link-abs/sub/c"]);
    expect(await names(getArchive(root, "/link-rel/."))).toEqual(["./", "./a", "./b", "./sub/", "./sub/c"]);
    expect(await entries(getArchive(root, "/bin/su"))).toMatchObject([{ name: "su", mode: 0o4755 }]);
  });

  test("symlinks never lead out of the root", async () => {
    // /escape is ../../.. up to the root, then etc: the container's /etc.
    expect(await names(getArchive(root, "/escape/"))).toEqual(["escape/", "escape/hosts", "escape/passwd"]);
    // The host's directory is not in the container.
    await rejects(names(getArchive(root, "/hostdir/")), "NotFound", /Could not find the file \/hostdir\//);
    await rejects(names(getArchive(root, "/hostdir/secret")), "NotFound", /Could not find the file/);
  });

  test("the whole root: ./ and everything under it; GNU tar extracts it", async () => {
    const list = await names(getArchive(root, "/"));
    expect(list.slice(0, 3)).toEqual(["./", "./bin/", "./bin/su"]);
    expect(list).toContain("./srv/sub/c");
    const bytes = Buffer.concat(await Array.fromAsync(getArchive(root, "/srv")));
    writeFileSync(`${base}/srv.tar`, bytes);
    const out = `${base}/srv-out`;
    mkdirSync(out);
    execFileSync("tar", ["-xpf", `${base}/srv.tar`, "-C", out]);
    expect(readFileSync(`${out}/srv/sub/c`, "utf8")).toBe("ccc\n");
    expect(lstatSync(`${out}/srv/b`)).toMatchObject({ uid: 1000, gid: 1001 });
  });

  test("nothing is opened before the stream is read; a missing path fails on the first read", async () => {
    // The fds open on the container's root (the runtime opens others of its own at any time).
    const fds = () =>
      readdirSync("/proc/self/fd").filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(root);
        } catch {
          return false; // closed meanwhile
        }
      }).length;
    const before = fds();
    const gen = getArchive(root, "/nope");
    expect(fds()).toBe(before);
    await rejects(gen.next(), "NotFound", /^Could not find the file \/nope in container$/);
    const gen2 = getArchive(root, "/srv");
    await gen2.next();
    await gen2.return(undefined);
    expect(fds()).toBe(before);
  });
});

describe("putArchive", () => {
  beforeEach(() => {
    root = makeRoot();
  });
  const put = (path: string, specs: TarSpec[], opts: Partial<{ noOverwriteDirNonDir: boolean; copyUIDGID: boolean }> = {}) =>
    putArchive(root, path, chunked(tarBytes(specs)), { noOverwriteDirNonDir: false, copyUIDGID: false, sys, ...opts });

  const tree: TarSpec[] = [
    { name: "new.txt", body: "new\n", uid: 1000, gid: 1001, mode: 0o640, mtime: 1_500_000_000 },
    { name: "d/", uid: 1000, gid: 1001, mode: 0o750 },
    { name: "d/f", body: "f", uid: 1000, gid: 1001 },
    { name: "d/setuid", body: "x", uid: 1000, gid: 1001, mode: 0o4755 },
  ];

  test("into a directory; without copyUIDGID everything belongs to root", async () => {
    await put("/srv", tree);
    expect(readFileSync(`${root}/srv/new.txt`, "utf8")).toBe("new\n");
    expect(lstatSync(`${root}/srv/new.txt`)).toMatchObject({ uid: 0, gid: 0, mtimeMs: 1_500_000_000_000 });
    expect(lstatSync(`${root}/srv/new.txt`).mode & 0o7777).toBe(0o640);
    expect(lstatSync(`${root}/srv/d`)).toMatchObject({ uid: 0, gid: 0 });
    expect(lstatSync(`${root}/srv/d`).mode & 0o7777).toBe(0o750);
    expect(lstatSync(`${root}/srv/d/setuid`).mode & 0o7777).toBe(0o4755);
    expect(lstatSync(`${root}/srv/d/setuid`).uid).toBe(0);
  });

  test("with copyUIDGID the archive's owners are kept", async () => {
    await put("/srv", tree, { copyUIDGID: true });
    expect(lstatSync(`${root}/srv/new.txt`)).toMatchObject({ uid: 1000, gid: 1001 });
    expect(lstatSync(`${root}/srv/d`)).toMatchObject({ uid: 1000, gid: 1001 });
    expect(lstatSync(`${root}/srv/d/setuid`)).toMatchObject({ uid: 1000, gid: 1001 });
    expect(lstatSync(`${root}/srv/d/setuid`).mode & 0o7777).toBe(0o4755); // chown first, then chmod
  });

  test("a destination that is missing, or not a directory", async () => {
    await rejects(put("/nope", tree), "NotFound", /^Could not find the file \/nope in container$/);
    await rejects(put("/etc/hosts", tree), "InvalidArgument", /^extraction point is not a directory$/);
    await rejects(put("/link-file", tree), "InvalidArgument", /^extraction point is not a directory$/);
    await rejects(put("/etc/hosts/x", tree), "NotFound", /Could not find the file/);
    await rejects(put("/hostdir", tree), "NotFound", /Could not find the file \/hostdir/);
    expect(readdirSync(host)).toEqual(["secret"]);
  });

  test("a symlink destination is followed, inside the root", async () => {
    await put("/link-abs", [{ name: "via-link", body: "v" }]);
    expect(readFileSync(`${root}/srv/via-link`, "utf8")).toBe("v");
    await put("/hosttmp", [{ name: "in-tmp", body: "t" }]);
    expect(readFileSync(`${root}/tmp/in-tmp`, "utf8")).toBe("t");
    expect(existsSync("/tmp/in-tmp")).toBe(false);
  });

  test("names that leave the destination are refused, and nothing is written outside", async () => {
    await rejects(put("/srv", [{ name: "../escaped", body: "x" }]), "InvalidArgument", /points outside/);
    await rejects(put("/", [{ name: "../../escaped", body: "x" }]), "InvalidArgument", /points outside/);
    await rejects(put("/srv", [{ name: "ok", body: "x" }, { name: "h", type: "1", linkname: "../etc/passwd" }]), "InvalidArgument", /hard link .* outside/);
    expect(existsSync(`${root}/escaped`)).toBe(false);
    expect(existsSync(`${base}/escaped`)).toBe(false);
    expect(existsSync(`${root}/srv/h`)).toBe(false);
  });

  test("writing through symlinks that point out of the root lands inside it", async () => {
    const tag = `berth-archive-${process.pid}-${Date.now()}`;
    await put("/", [
      { name: `hosttmp/${tag}-1`, body: "1" }, // the root's symlink /hosttmp -> /tmp
      { name: "l", type: "2", linkname: "/tmp" }, // a symlink made by the archive itself
      { name: `l/${tag}-2`, body: "2" },
      { name: "l2", type: "2", linkname: "../../../../../../../../../../tmp" },
      { name: `l2/${tag}-3`, body: "3" },
      { name: `hostdir/secret`, body: "overwritten?" }, // <root>/tmp/berth-archive-host-... (made), not the host's
    ]);
    for (const i of [1, 2, 3]) {
      expect(readFileSync(`${root}/tmp/${tag}-${i}`, "utf8")).toBe(String(i));
      expect(existsSync(`/tmp/${tag}-${i}`)).toBe(false);
    }
    expect(readFileSync(`${host}/secret`, "utf8")).toBe("host secret\n");
    expect(readFileSync(`${root}${host}/secret`, "utf8")).toBe("overwritten?");
    expect(readlinkSync(`${root}/l`)).toBe("/tmp");
  });

  test("noOverwriteDirNonDir refuses to replace a directory by a file and the reverse, in Docker's words", async () => {
    await rejects(put("/srv", [{ name: "sub", body: "file" }], { noOverwriteDirNonDir: true }), "Conflict",
      /^layer entry "sub": cannot overwrite directory "\/srv\/sub" with non-directory "\/srv"$/);
    await rejects(put("/srv", [{ name: "a/" }], { noOverwriteDirNonDir: true }), "Conflict",
      /^layer entry "a\/": cannot overwrite non-directory "\/srv\/a" with directory "\/srv"$/);
    expect(statSync(`${root}/srv/sub`).isDirectory()).toBe(true);
    expect(readFileSync(`${root}/srv/a`, "utf8")).toBe("a\n");
    // Files over files and directories over directories are fine.
    await put("/srv", [{ name: "a", body: "A" }, { name: "sub/" }], { noOverwriteDirNonDir: true });
    expect(readFileSync(`${root}/srv/a`, "utf8")).toBe("A");
    // Without it, both are replaced.
    await put("/srv", [{ name: "sub", body: "file" }, { name: "a/" }]);
    expect(readFileSync(`${root}/srv/sub`, "utf8")).toBe("file");
    expect(statSync(`${root}/srv/a`).isDirectory()).toBe(true);
  });

  test("no whiteouts: .wh. names are files; the destination's own entry leaves it as it is", async () => {
    writeFileSync(`${root}/srv/x`, "kept");
    const before = [lstatSync(`${root}/srv`), lstatSync(root)];
    await put("/srv", [
      { name: "./", mode: 0o700, uid: 1000, mtime: 1 },
      { name: "./.wh.x", body: "a file" },
      { name: "./.wh..wh..opq", body: "also a file" },
      { name: "/abs.txt", body: "absolute names land in the destination" },
    ], { copyUIDGID: true });
    expect(readFileSync(`${root}/srv/x`, "utf8")).toBe("kept");
    expect(readFileSync(`${root}/srv/.wh.x`, "utf8")).toBe("a file");
    expect(readFileSync(`${root}/srv/.wh..wh..opq`, "utf8")).toBe("also a file");
    expect(readFileSync(`${root}/srv/abs.txt`, "utf8")).toMatch(/^absolute/);
    expect(existsSync(`${root}/abs.txt`)).toBe(false);
    const after = [lstatSync(`${root}/srv`), lstatSync(root)];
    expect(after.map((st) => [st.mode, st.uid])).toEqual(before.map((st) => [st.mode, st.uid]));
    expect(after[1]!.mtimeMs).toBe(before[1]!.mtimeMs); // (the destination's own mtime moves: files were added to it)
  });

  test("hard links are relative to the destination", async () => {
    await put("/srv", [{ name: "orig", body: "o" }, { name: "sub/link", type: "1", linkname: "orig" }]);
    expect(lstatSync(`${root}/srv/sub/link`).ino).toBe(lstatSync(`${root}/srv/orig`).ino);
  });

  test("round trip: what getArchive gives, putArchive puts back", async () => {
    mkdirSync(`${root}/copy`);
    await putArchive(root, "/copy", getArchive(root, "/srv"), { noOverwriteDirNonDir: true, copyUIDGID: true, sys });
    expect(readFileSync(`${root}/copy/srv/sub/c`, "utf8")).toBe("ccc\n");
    expect(lstatSync(`${root}/copy/srv/b`)).toMatchObject({ uid: 1000, gid: 1001 });
  });
});

describe("applyLayer's docker cp options", () => {
  beforeEach(() => {
    root = makeRoot();
  });

  test("into resolves its path inside the root; owner overrides every entry", async () => {
    await applyLayer(root, chunked(tarBytes([{ name: "f", body: "x", uid: 7, gid: 8 }, { name: "s", type: "2", linkname: "f", uid: 7 }])), {
      whiteouts: "none", sys, into: "link-rel/sub", owner: { uid: 42, gid: 43 },
    });
    expect(lstatSync(`${root}/srv/sub/f`)).toMatchObject({ uid: 42, gid: 43 });
    expect(lstatSync(`${root}/srv/sub/s`)).toMatchObject({ uid: 42, gid: 43 });
    await rejects(applyLayer(root, chunked(tarBytes([])), { whiteouts: "none", sys, into: "etc/hosts" }), "InvalidArgument", /cannot unpack into "\/etc\/hosts"/);
  });

  test("whiteouts: none at the root of a layer keeps .wh. files; overlay mode still makes whiteouts", async () => {
    const specs: TarSpec[] = [{ name: "srv/.wh.a", body: "" }];
    await applyLayer(root, chunked(tarBytes(specs)), { whiteouts: "none", sys });
    expect(lstatSync(`${root}/srv/.wh.a`).isFile()).toBe(true);
    expect(readFileSync(`${root}/srv/a`, "utf8")).toBe("a\n");
    await applyLayer(root, chunked(tarBytes(specs)), { whiteouts: "overlay", sys });
    expect(lstatSync(`${root}/srv/a`).isCharacterDevice()).toBe(true);
  });

  test("the root may be reached through a symlink (as /proc/<pid>/root is)", async () => {
    symlinkSync(root, `${base}/via-${n}`);
    await putArchive(`${base}/via-${n}`, "/srv", chunked(tarBytes([{ name: "p", body: "p" }])), { noOverwriteDirNonDir: false, copyUIDGID: false, sys });
    expect(readFileSync(`${root}/srv/p`, "utf8")).toBe("p");
    expect(statPath(`${base}/via-${n}`, "/srv/p").size).toBe(1);
    expect(await names(getArchive(`${base}/via-${n}`, "/srv/sub"))).toEqual(["sub/", "sub/c"]);
  });
});

describe("a running container's root: /proc/<pid>/root", () => {
  test("reaches what is mounted in the container's mount namespace (a tmpfs), for stat, get and put", async () => {
    const dir = `${base}/ns-mnt`;
    mkdirSync(dir);
    // A process in its own mount namespace with a tmpfs the host does not see.
    const p = Bun.spawn(["unshare", "--mount", "--propagation", "private", "sh", "-c",
      `mount -t tmpfs tmpfs ${dir} && echo in-ns > ${dir}/f && echo ready && exec sleep 60`], { stdout: "pipe", stderr: "inherit" });
    try {
      const reader = p.stdout.getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toBe("ready\n");
      const nsRoot = `/proc/${p.pid}/root`;
      expect(existsSync(`${dir}/f`)).toBe(false); // not on the host
      expect(statPath(nsRoot, `${dir}/f`)).toMatchObject({ name: "f", size: 6 });
      expect(await entries(getArchive(nsRoot, `${dir}/.`))).toMatchObject([{ name: "./" }, { name: "./f", data: "in-ns\n" }]);
      await putArchive(nsRoot, dir, chunked(tarBytes([{ name: "g", body: "put" }])), { noOverwriteDirNonDir: false, copyUIDGID: false, sys });
      expect(readFileSync(`${nsRoot}${dir}/g`, "utf8")).toBe("put");
      expect(existsSync(`${dir}/g`)).toBe(false);
    } finally {
      p.kill("SIGKILL");
      await p.exited;
    }
  });
});

describe("exportRootfs", () => {
  test("the whole tree, no entry for the root itself; GNU tar and the layer applier rebuild it", async () => {
    root = makeRoot();
    linkSync(`${root}/etc/passwd`, `${root}/etc/passwd-`);
    lchownSync(`${root}/link-abs`, 5, 6);
    sys.lsetxattr(`${root}/bin/su`, "user.note", new Uint8Array([0, 0xff, 0x0a]));
    utimesSync(`${root}/srv`, 1_400_000_000, 1_400_000_000);
    const bytes = Buffer.concat(await Array.fromAsync(exportRootfs(root, sys)));
    const list = await entries(chunked(bytes));
    expect(list[0]!.name).toBe("bin/");
    expect(list.map((e) => e.name)).not.toContain("./");
    expect(list.find((e) => e.name === "etc/passwd-")).toMatchObject({ type: "hardlink", linkname: "etc/passwd" });
    expect(list.find((e) => e.name === "hostdir")).toMatchObject({ type: "symlink", linkname: host });

    const viaGnu = `${base}/export-gnu`;
    const viaApply = `${base}/export-apply`;
    mkdirSync(viaGnu);
    mkdirSync(viaApply);
    writeFileSync(`${base}/export.tar`, bytes);
    execFileSync("tar", ["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", `${base}/export.tar`, "-C", viaGnu]);
    await applyLayer(viaApply, chunked(bytes), { whiteouts: "delete", sys });
    const want = snapshot(root);
    expect(want["bin/su"]).toContain("user.note=00ff0a");
    expect(want["link-abs"]).toMatch(/^l 777 5 6 /);
    expect(snapshot(viaGnu)).toEqual(want);
    expect(snapshot(viaApply)).toEqual(want);
  });
});

/** Type, mode, owner, size, mtime (s), device, link target, content hash, xattrs, hard link group of every path. */
function snapshot(r: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<string, string>();
  const walk = (rel: string) => {
    const p = rel ? `${r}/${rel}` : r;
    const st = lstatSync(p);
    const type = st.isDirectory() ? "d" : st.isFile() ? "f" : st.isSymbolicLink() ? "l" : st.isCharacterDevice() ? "c" : st.isFIFO() ? "p" : "?";
    const extra = type === "f" ? createHash("sha256").update(readFileSync(p)).digest("hex").slice(0, 12) : type === "l" ? readlinkSync(p) : type === "c" ? String(st.rdev) : "";
    const xattrs = type === "l" ? "" : sys.llistxattr(p).sort().map((x) => `${x}=${Buffer.from(sys.lgetxattr(p, x)!).toString("hex")}`).join(",");
    let link = "";
    if (type !== "d" && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      link = inodes.get(key) ?? "";
      if (!link) inodes.set(key, rel);
    }
    if (rel) out[rel] = [type, (st.mode & 0o7777).toString(8), st.uid, st.gid, type === "f" ? st.size : "", Math.floor(st.mtimeMs / 1000), extra, xattrs, link].join(" ");
    if (type === "d") for (const name of readdirSync(p).sort()) walk(rel ? `${rel}/${name}` : name);
  };
  walk("");
  return out;
}
