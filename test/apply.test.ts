import { test, expect, describe, beforeAll, afterAll, beforeEach } from "vitest";
import { execFileSync } from "node:child_process";
import {
  chmodSync, chownSync, existsSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, readFileSync, readdirSync,
  readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync,
} from "node:fs";
import { resolve } from "node:path";
import { applyLayer, type ApplyResult } from "../core/images/apply.ts";
import { BerthError, SysError } from "../core/errors.ts";
import { libcSys } from "../core/sys/libc.ts";
import { S_IFCHR, makedev, type Sys } from "../core/sys/index.ts";
import { chunked, tarBytes, type GlobalPax, type TarSpec } from "./helpers/tar-writer.ts";

let base: string;
let root: string;
let n = 0;

beforeAll(() => {
  base = mkdtempSync("/tmp/berth-apply-test-");
});
afterAll(() => rmSync(base, { recursive: true, force: true }));
beforeEach(() => {
  root = `${base}/root${++n}`;
  mkdirSync(root);
});

type Mode = "overlay" | "delete";
const apply = (tar: Uint8Array | (TarSpec | GlobalPax)[], whiteouts: Mode = "overlay", chunk = 65536, sys: Sys = libcSys): Promise<ApplyResult> =>
  applyLayer(root, chunked(tar instanceof Uint8Array ? tar : tarBytes(tar), chunk), { whiteouts, sys });

async function rejects(p: Promise<unknown>, re: RegExp, kind = "InvalidArgument") {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, "expected an error").toBeInstanceOf(BerthError);
  expect((err as Error).message).toMatch(re);
  expect((err as BerthError).kind).toBe(kind);
}

const xattr = (p: string, name: string) => {
  const v = libcSys.lgetxattr(p, name);
  return v === null ? null : [...v];
};
const text = (p: string) => readFileSync(p, "utf8");
const perm = (p: string) => lstatSync(p).mode & 0o7777;

// A tree made by GNU tar, with everything a layer has.
describe("a layer made by GNU tar", () => {
  let tarPath: string;
  let posixTar: string;
  const cap = new Uint8Array([0x01, 0, 0, 0x02, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const longPath = `${"a".repeat(70)}/${"b".repeat(70)}/${"c".repeat(40)}`;

  beforeAll(() => {
    const src = `${base}/src`;
    mkdirSync(`${src}/etc/conf.d`, { recursive: true });
    mkdirSync(`${src}/bin`);
    mkdirSync(`${src}/dev`);
    mkdirSync(`${src}/${longPath}`, { recursive: true });
    writeFileSync(`${src}/etc/passwd`, "root:x:0:0::/root:/bin/sh\n");
    writeFileSync(`${src}/etc/conf.d/app.conf`, "k=v\n");
    writeFileSync(`${src}/bin/su`, "#!/bin/sh\n");
    writeFileSync(`${src}/bin/ping`, "ping");
    writeFileSync(`${src}/${longPath}/long.txt`, "long");
    chownSync(`${src}/bin/su`, 0, 0);
    chmodSync(`${src}/bin/su`, 0o4755);
    chownSync(`${src}/etc/conf.d/app.conf`, 1000, 1001);
    chmodSync(`${src}/etc/conf.d/app.conf`, 0o640);
    chownSync(`${src}/etc/conf.d`, 1000, 1001);
    chmodSync(`${src}/etc/conf.d`, 0o2750);
    symlinkSync("su", `${src}/bin/sudo`);
    lchownSync(`${src}/bin/sudo`, 1000, 1001);
    linkSync(`${src}/etc/passwd`, `${src}/etc/passwd.hard`);
    libcSys.mknod(`${src}/dev/null`, S_IFCHR | 0o666, makedev(1, 3));
    chmodSync(`${src}/dev/null`, 0o666); // past the umask
    execFileSync("mkfifo", ["-m", "0620", `${src}/dev/fifo`]);
    libcSys.lsetxattr(`${src}/bin/ping`, "security.capability", cap);
    libcSys.lsetxattr(`${src}/bin/ping`, "user.note", new Uint8Array([0, 1, 2, 0x0a, 0xff]));
    utimesSync(`${src}/etc/passwd`, 1_500_000_000, 1_500_000_000);
    lutimesSync(`${src}/bin/sudo`, 1_400_000_000, 1_400_000_000);
    utimesSync(`${src}/etc/conf.d`, 1_300_000_000, 1_300_000_000);
    utimesSync(`${src}/etc`, 1_200_000_000, 1_200_000_000);
    tarPath = `${base}/gnu.tar`;
    posixTar = `${base}/posix.tar`;
    execFileSync("tar", ["--format=gnu", "-cf", tarPath, "-C", src, "."]); // GNU format cannot carry xattrs
    execFileSync("tar", ["--xattrs", "--xattrs-include=*", "--format=posix", "-cf", posixTar, "-C", src, "."]);
  });

  const check = (res: ApplyResult, withXattrs = true) => {
    expect(text(`${root}/etc/passwd`)).toBe("root:x:0:0::/root:/bin/sh\n");
    expect(statSync(`${root}/etc/passwd`).mtimeMs).toBe(1_500_000_000_000);
    // Ownership and modes; the setuid and setgid bits survive the chown.
    expect(perm(`${root}/bin/su`)).toBe(0o4755);
    expect(lstatSync(`${root}/etc/conf.d/app.conf`)).toMatchObject({ uid: 1000, gid: 1001 });
    expect(perm(`${root}/etc/conf.d/app.conf`)).toBe(0o640);
    expect(lstatSync(`${root}/etc/conf.d`)).toMatchObject({ uid: 1000, gid: 1001 });
    expect(perm(`${root}/etc/conf.d`)).toBe(0o2750);
    // Directory mtimes are set after their children were made.
    expect(statSync(`${root}/etc/conf.d`).mtimeMs).toBe(1_300_000_000_000);
    expect(statSync(`${root}/etc`).mtimeMs).toBe(1_200_000_000_000);
    // Symlink: target, owner and mtime of the link itself.
    expect(readlinkSync(`${root}/bin/sudo`)).toBe("su");
    expect(lstatSync(`${root}/bin/sudo`)).toMatchObject({ uid: 1000, gid: 1001, mtimeMs: 1_400_000_000_000 });
    // Hard link: the same inode.
    expect(lstatSync(`${root}/etc/passwd.hard`).ino).toBe(lstatSync(`${root}/etc/passwd`).ino);
    // Device node and fifo.
    const dev = lstatSync(`${root}/dev/null`);
    expect(dev.isCharacterDevice()).toBe(true);
    expect(dev.rdev).toBe(makedev(1, 3));
    expect(dev.mode & 0o7777).toBe(0o666);
    expect(lstatSync(`${root}/dev/fifo`).isFIFO()).toBe(true);
    expect(perm(`${root}/dev/fifo`)).toBe(0o620);
    // Long names.
    expect(text(`${root}/${longPath}/long.txt`)).toBe("long");
    // xattrs, binary ones included.
    if (withXattrs) {
      expect(xattr(`${root}/bin/ping`, "security.capability")).toEqual([...cap]);
      expect(xattr(`${root}/bin/ping`, "user.note")).toEqual([0, 1, 2, 0x0a, 0xff]);
    }
    const fileBytes = ["etc/passwd", "etc/conf.d/app.conf", "bin/su", "bin/ping", `${longPath}/long.txt`]
      .reduce((s, f) => s + statSync(`${root}/${f}`).size, 0);
    expect(res.size).toBe(fileBytes);
    expect(res.warnings).toEqual([]);
  };

  test("files, dirs, modes, owners, mtimes, links, devices, long names (GNU 'L')", async () => {
    check(await apply(readFileSync(tarPath)), false);
  });

  test("the same from a PAX archive (long names as PAX path), with xattrs", async () => {
    check(await apply(readFileSync(posixTar)));
  });

  test("the same fed one byte at a time", async () => {
    check(await apply(readFileSync(posixTar), "overlay", 1));
  });
});

describe("entries written by hand", () => {
  test("base-256 size and uid", async () => {
    const body = "q".repeat(3000);
    const res = await apply([{ name: "f", body, uid: 2_500_000, gid: 7, base256: ["size", "uid"] }]);
    expect(text(`${root}/f`)).toBe(body);
    expect(lstatSync(`${root}/f`)).toMatchObject({ uid: 2_500_000, gid: 7 });
    expect(res.size).toBe(3000);
  });

  test("PAX xattrs: user.* and binary security.capability set; trusted.overlay.* ignored", async () => {
    const cap = new Uint8Array([0x01, 0, 0, 0x02, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    await apply([
      { name: "d/", type: "5", pax: { "SCHILY.xattr.trusted.overlay.opaque": "y", "SCHILY.xattr.user.d": "dir" } },
      { name: "d/f", body: "x", mode: 0o755, pax: { "SCHILY.xattr.security.capability": cap, "SCHILY.xattr.user.v": new Uint8Array([0x0a, 0, 0x3d]) } },
    ]);
    expect(xattr(`${root}/d/f`, "security.capability")).toEqual([...cap]);
    expect(xattr(`${root}/d/f`, "user.v")).toEqual([0x0a, 0, 0x3d]);
    expect(xattr(`${root}/d`, "user.d")).toEqual([...Buffer.from("dir")]);
    expect(xattr(`${root}/d`, "trusted.overlay.opaque")).toBeNull();
  });

  test("GNU long names and long link names", async () => {
    const name = `${"x".repeat(90)}/${"y".repeat(90)}`;
    await apply([
      { name: `${name}/target`, body: "t", gnuLong: true, format: "gnu" },
      { name: `${name}/sym`, type: "2", linkname: `${"z".repeat(150)}`, gnuLong: true, format: "gnu" },
      { name: `${name}/hard`, type: "1", linkname: `${name}/target`, gnuLong: true, format: "gnu" },
    ]);
    expect(text(`${root}/${name}/target`)).toBe("t");
    expect(readlinkSync(`${root}/${name}/sym`)).toBe("z".repeat(150));
    expect(statSync(`${root}/${name}/hard`).ino).toBe(statSync(`${root}/${name}/target`).ino);
  });

  test("a leading ./ is stripped; the root entry updates the root's metadata", async () => {
    await apply([{ name: "./", type: "5", mode: 0o711, mtime: 1_000_000_000 }, { name: "./a/b", body: "ab" }]);
    expect(text(`${root}/a/b`)).toBe("ab");
    expect(perm(root)).toBe(0o711);
    expect(statSync(root).mtimeMs).toBe(1_000_000_000_000);
    // A missing parent is created 0755.
    expect(perm(`${root}/a`)).toBe(0o755);
  });

  test("a checksum mismatch fails the layer", async () => {
    await rejects(apply([{ name: "a", body: "x" }, { name: "b", badChecksum: true }]), /checksum mismatch in the header at offset 1024/);
  });

  test("a truncated archive fails the layer, naming the entry", async () => {
    const bytes = tarBytes([{ name: "big", body: "b".repeat(4096) }]);
    await rejects(apply(bytes.subarray(0, 2048)), /entry "big".*ends 2560 bytes early/);
  });

  test("an unsupported entry type is refused", async () => {
    await rejects(apply([{ name: "s", type: "S", body: "x" }]), /layer entry "s" has tar type 'S'/, "NotSupported");
  });

  test("mknod refused (EPERM, as in a user namespace): the entry is skipped with a warning", async () => {
    const sys: Sys = {
      ...libcSys,
      mknod(path: string) {
        throw new SysError("mknod", 1, "EPERM", path);
      },
    };
    const res = await apply([{ name: "dev/null", type: "3", devmajor: 1, devminor: 3 }, { name: "after", body: "a" }], "overlay", 65536, sys);
    expect(existsSync(`${root}/dev/null`)).toBe(false);
    expect(text(`${root}/after`)).toBe("a");
    expect(res.warnings).toHaveLength(1);
    expect(res.warnings[0]).toMatch(/dev\/null/);
  });

  test("system call failures are SysErrors naming the entry", async () => {
    const sys: Sys = {
      ...libcSys,
      lsetxattr(path: string, name: string) {
        throw new SysError("lsetxattr", 5, "EIO", `${name} on ${path}`);
      },
    };
    const err = await apply([{ name: "f", body: "x", pax: { "SCHILY.xattr.user.a": "1" } }], "overlay", 65536, sys).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SysError);
    expect((err as SysError).code).toBe("EIO");
    expect((err as Error).message).toMatch(/^layer entry "f": lsetxattr user\.a on .*\/f: EIO/);
    // A node:fs failure becomes a SysError too.
    const err2 = await apply([{ name: "s", type: "2", pax: { linkpath: "t".repeat(5000) } }]).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(SysError);
    expect((err2 as SysError).code).toBe("ENAMETOOLONG");
    expect((err2 as Error).message).toMatch(/^layer entry "s": \w+ t+… ?.*: ENAMETOOLONG/);
  });

  test("the root must be an existing directory", async () => {
    writeFileSync(`${root}/file`, "");
    await rejects(applyLayer(`${root}/file`, chunked(tarBytes([{ name: "y" }])), { whiteouts: "overlay", sys: libcSys }), /cannot apply a layer onto .*\/file: not a directory/);
  });

  test("aufs metadata entries are skipped", async () => {
    await apply([{ name: ".wh..wh.plnk/", type: "5" }, { name: ".wh..wh.plnk/1234.5", body: "x" }, { name: ".wh..wh.aufs", body: "" }, { name: "real", body: "r" }]);
    expect(readdirSync(root)).toEqual(["real"]);
  });

  test("block devices with large minor numbers", async () => {
    await apply([{ name: "loop", type: "4", devmajor: 7, devminor: 300, mode: 0o660 }]);
    const st = lstatSync(`${root}/loop`);
    expect(st.isBlockDevice()).toBe(true);
    expect(execFileSync("stat", ["-c", "%t:%T", `${root}/loop`]).toString().trim()).toBe("7:12c");
  });
});

describe("replacing what is there", () => {
  test("a file replaces a file, a symlink and a directory; a directory entry keeps an existing directory", async () => {
    const outside = `${base}/outside-${n}`;
    writeFileSync(outside, "do not touch");
    writeFileSync(`${root}/f`, "old");
    symlinkSync(outside, `${root}/link`);
    mkdirSync(`${root}/dir/sub`, { recursive: true });
    writeFileSync(`${root}/dir/sub/x`, "x");
    mkdirSync(`${root}/keep`);
    writeFileSync(`${root}/keep/old`, "old");
    writeFileSync(`${root}/wasfile`, "");
    await apply([
      { name: "f", body: "new" },
      { name: "link", body: "not followed" },
      { name: "dir", body: "now a file" },
      { name: "keep/", type: "5", mode: 0o700, uid: 5 },
      { name: "wasfile/", type: "5" },
    ], "delete");
    expect(text(`${root}/f`)).toBe("new");
    expect(lstatSync(`${root}/link`).isFile()).toBe(true);
    expect(text(`${root}/link`)).toBe("not followed");
    expect(text(outside)).toBe("do not touch");
    expect(text(`${root}/dir`)).toBe("now a file");
    expect(text(`${root}/keep/old`)).toBe("old");
    expect(perm(`${root}/keep`)).toBe(0o700);
    expect(lstatSync(`${root}/keep`).uid).toBe(5);
    expect(lstatSync(`${root}/wasfile`).isDirectory()).toBe(true);
  });

  test("a directory replaced by a symlink in the same layer: later entries and dir metadata follow it in-root only", async () => {
    const outside = mkdtempSync(`${base}/out-`);
    mkdirSync(`${outside}/sub`, { mode: 0o755 });
    await apply([
      { name: "d/", type: "5", mode: 0o701 },
      { name: "d/sub/", type: "5", mode: 0o701 },
      { name: "d", type: "2", linkname: outside },
      { name: "d/sub/f", body: "in" },
    ]);
    expect(readlinkSync(`${root}/d`)).toBe(outside);
    expect(text(`${root}${outside}/sub/f`)).toBe("in");
    expect(readdirSync(`${outside}/sub`)).toEqual([]);
    // The deferred 0701 of the replaced "d/sub" is not applied through the link.
    expect(perm(`${outside}/sub`)).toBe(0o755);
    expect(perm(`${root}${outside}/sub`)).toBe(0o755);
  });

  test("a symlinked parent replaced by a directory: later entries go into the directory", async () => {
    await apply([
      { name: "a/", type: "5" },
      { name: "l", type: "2", linkname: "a" },
      { name: "l/x", body: "via link" },
      { name: "l/", type: "5" },
      { name: "l/y", body: "in dir" },
    ]);
    expect(text(`${root}/a/x`)).toBe("via link");
    expect(lstatSync(`${root}/l`).isDirectory()).toBe(true);
    expect(text(`${root}/l/y`)).toBe("in dir");
    expect(existsSync(`${root}/a/y`)).toBe(false);
  });
});

describe("whiteouts, overlay mode", () => {
  test("a .wh. entry becomes a 0:0 character device; an opaque marker the trusted.overlay.opaque xattr", async () => {
    await apply([
      { name: "a/", type: "5" },
      { name: "a/.wh.gone", mode: 0o600 },
      { name: ".wh.toplevel" },
      { name: "nodir/.wh.x" },
      { name: "o/", type: "5" },
      { name: "o/.wh..wh..opq" },
      { name: "o/kept", body: "k" },
      { name: "implicit/.wh..wh..opq" },
    ]);
    for (const p of ["a/gone", "toplevel", "nodir/x"]) {
      const st = lstatSync(`${root}/${p}`);
      expect(st.isCharacterDevice(), p).toBe(true);
      expect(st.rdev, p).toBe(0);
    }
    expect(xattr(`${root}/o`, "trusted.overlay.opaque")).toEqual([0x79]);
    expect(xattr(`${root}/implicit`, "trusted.overlay.opaque")).toEqual([0x79]);
    expect(xattr(`${root}/a`, "trusted.overlay.opaque")).toBeNull();
    expect(text(`${root}/o/kept`)).toBe("k");
    const all = execFileSync("find", [root]).toString();
    expect(all).not.toMatch(/\.wh\./);
  });

  test("a whiteout of '.' or '..' is refused", async () => {
    mkdirSync(`${root}/a`);
    await rejects(apply([{ name: "a/.wh.." }]), /layer entry "a\/\.wh\.\." is a whiteout of an invalid name/);
    expect(existsSync(`${root}/a`)).toBe(true);
  });
});

describe("whiteouts, delete mode (vfs)", () => {
  beforeEach(() => {
    // The parent layer, already copied into root.
    mkdirSync(`${root}/a`);
    writeFileSync(`${root}/a/b`, "b");
    writeFileSync(`${root}/a/stays`, "s");
    mkdirSync(`${root}/c/deep`, { recursive: true });
    writeFileSync(`${root}/c/deep/f`, "f");
    mkdirSync(`${root}/d/sub`, { recursive: true });
    mkdirSync(`${root}/d/sub2`);
    writeFileSync(`${root}/d/old1`, "1");
    writeFileSync(`${root}/d/sub/old2`, "2");
    mkdirSync(`${root}/e`);
    writeFileSync(`${root}/e/old`, "o");
  });

  test("whiteouts remove files and whole directories; opaque dirs keep only this layer's files", async () => {
    await apply([
      { name: "a/.wh.b" },
      { name: ".wh.c" },
      { name: ".wh.missing" },
      { name: "nodir/.wh.x" },
      { name: "a/stays/.wh.x" }, // under a file: nothing to remove
      { name: "d/", type: "5" },
      { name: "d/.wh..wh..opq" },
      { name: "d/new", body: "n" },
      { name: "d/sub/", type: "5" },
      { name: "d/sub/new2", body: "n2" },
      { name: "d/made/by/layer", body: "m" },
      // The marker after the children: they still survive.
      { name: "e/new", body: "n" },
      { name: "e/.wh..wh..opq" },
    ], "delete");
    expect(existsSync(`${root}/a/b`)).toBe(false);
    expect(text(`${root}/a/stays`)).toBe("s");
    expect(existsSync(`${root}/c`)).toBe(false);
    expect(existsSync(`${root}/nodir`)).toBe(false);
    expect(readdirSync(`${root}/d`).sort()).toEqual(["made", "new", "sub"]);
    expect(readdirSync(`${root}/d/sub`)).toEqual(["new2"]);
    expect(text(`${root}/d/made/by/layer`)).toBe("m");
    expect(readdirSync(`${root}/e`)).toEqual(["new"]);
    expect(execFileSync("find", [root]).toString()).not.toMatch(/\.wh\./);
  });

  test("removing a directory never follows a symlink inside it", async () => {
    const outside = mkdtempSync(`${base}/out-`);
    writeFileSync(`${outside}/precious`, "p");
    symlinkSync(outside, `${root}/c/deep/link`);
    symlinkSync(outside, `${root}/d/link`);
    await apply([{ name: ".wh.c" }, { name: "d/.wh..wh..opq" }], "delete");
    expect(existsSync(`${root}/c`)).toBe(false);
    expect(readdirSync(`${root}/d`)).toEqual([]);
    expect(text(`${outside}/precious`)).toBe("p");
  });

  test("a whiteout through a symlinked parent removes inside the root only", async () => {
    const outside = mkdtempSync(`${base}/out-`);
    writeFileSync(`${outside}/victim`, "v");
    mkdirSync(`${root}${outside}`, { recursive: true });
    writeFileSync(`${root}${outside}/victim`, "in-root copy");
    symlinkSync(outside, `${root}/evil`);
    await apply([{ name: "evil/.wh.victim" }], "delete");
    expect(existsSync(`${root}${outside}/victim`)).toBe(false);
    expect(text(`${outside}/victim`)).toBe("v");
  });
});

describe("refusals and in-root resolution", () => {
  let outside: string;
  beforeEach(() => {
    outside = mkdtempSync(`${base}/outside-`);
  });

  for (const name of ["../x", "a/../../x", "./../x"]) {
    test(`"${name}" is refused`, async () => {
      await rejects(apply([{ name, body: "escaped" }]), new RegExp(`layer entry "${name.replace(/\./g, "\\.")}" points outside the root filesystem`));
      expect(existsSync(`${base}/x`)).toBe(false);
      expect(existsSync(`${root}/x`)).toBe(false);
    });
  }

  test("an absolute name is refused", async () => {
    const target = `${outside}/abs`;
    await rejects(apply([{ name: target, body: "escaped" }]), /has an absolute path/);
    expect(existsSync(target)).toBe(false);
  });

  test("a symlink parent to an absolute path resolves inside the root", async () => {
    await apply([{ name: "evil", type: "2", linkname: outside }, { name: "evil/file", body: "inside" }]);
    expect(readdirSync(outside)).toEqual([]);
    expect(text(`${root}${outside}/file`)).toBe("inside");
    expect(readlinkSync(`${root}/evil`)).toBe(outside);
  });

  test("a relative symlink climbing out of the root stops at the root", async () => {
    const leaf = `escape-${n}-${process.pid}`;
    await apply([{ name: "a/b/", type: "5" }, { name: "a/b/up", type: "2", linkname: "../../../../../.." }, { name: "a/b/up/" + leaf, body: "clamped" }]);
    expect(text(`${root}/${leaf}`)).toBe("clamped");
    expect(existsSync(resolve(root, "../../../../..", leaf))).toBe(false);
    expect(existsSync(`/${leaf}`)).toBe(false);
  });

  test("symlink up -> ../../.. then up/x lands at the root", async () => {
    const leaf = `x-${n}-${process.pid}`;
    await apply([{ name: "up", type: "2", linkname: "../../.." }, { name: `up/${leaf}`, body: "x" }]);
    expect(text(`${root}/${leaf}`)).toBe("x");
    expect(existsSync(resolve(root, "../../..", leaf))).toBe(false);
  });

  test("chains of symlinks are followed in-root; loops are an error", async () => {
    await apply([
      { name: "usr/lib/", type: "5" },
      { name: "lib", type: "2", linkname: "usr/lib" },
      { name: "lib64", type: "2", linkname: "/lib" },
      { name: "lib64/libc.so", body: "c" },
    ]);
    expect(text(`${root}/usr/lib/libc.so`)).toBe("c");
    await rejects(apply([{ name: "l1", type: "2", linkname: "l2" }, { name: "l2", type: "2", linkname: "/l1" }, { name: "l1/x", body: "" }]),
      /layer entry "l1\/x": too many levels of symbolic links/);
  });

  test("a parent that is a file is an error", async () => {
    await rejects(apply([{ name: "f", body: "" }, { name: "f/x", body: "" }]), /layer entry "f\/x": "\/f" is not a directory/);
  });

  test("a hard link to ../../etc/passwd is refused", async () => {
    await rejects(apply([{ name: "pw", type: "1", linkname: "../../etc/passwd" }]), /"pw" is a hard link to "..\/..\/etc\/passwd", which points outside the root filesystem/);
    expect(existsSync(`${root}/pw`)).toBe(false);
  });

  test("a hard link through a symlink to outside is refused", async () => {
    writeFileSync(`${outside}/secret`, "s");
    await rejects(apply([{ name: "s", type: "2", linkname: outside }, { name: "h", type: "1", linkname: "s/secret" }]), /"h" is a hard link to "s\/secret", which does not exist/);
    expect(statSync(`${outside}/secret`).nlink).toBe(1);
    expect(existsSync(`${root}/h`)).toBe(false);
  });

  test("a hard link to a symlink links the symlink itself, not its target", async () => {
    writeFileSync(`${outside}/secret`, "s");
    await apply([{ name: "s", type: "2", linkname: `${outside}/secret` }, { name: "h", type: "1", linkname: "s", mode: 0o777 }]);
    expect(lstatSync(`${root}/h`).isSymbolicLink()).toBe(true);
    expect(lstatSync(`${root}/h`).ino).toBe(lstatSync(`${root}/s`).ino);
    expect(statSync(`${outside}/secret`).nlink).toBe(1);
    expect(perm(`${outside}/secret`)).toBe(0o644);
  });

  test("a hard link resolves its parents in-root (bin -> usr/bin)", async () => {
    await apply([
      { name: "usr/bin/ls", body: "ls" },
      { name: "bin", type: "2", linkname: "/usr/bin" },
      { name: "sbin/dir", type: "1", linkname: "bin/ls" },
    ]);
    expect(statSync(`${root}/sbin/dir`).ino).toBe(statSync(`${root}/usr/bin/ls`).ino);
  });

  test("a hard link to a missing file or a directory is refused", async () => {
    await rejects(apply([{ name: "h", type: "1", linkname: "nothing" }]), /"h" is a hard link to "nothing", which does not exist/);
    await rejects(apply([{ name: "d/", type: "5" }, { name: "h2", type: "1", linkname: "d" }]), /"h2" is a hard link to "d", which is a directory/);
  });

  test("a file entry never writes through a symlink at its own path", async () => {
    writeFileSync(`${outside}/target`, "orig");
    await apply([{ name: "l", type: "2", linkname: `${outside}/target` }, { name: "l", body: "replaced", mode: 0o777 }]);
    expect(text(`${outside}/target`)).toBe("orig");
    expect(perm(`${outside}/target`)).toBe(0o644);
    expect(text(`${root}/l`)).toBe("replaced");
  });

  test("a refused entry fails the layer after earlier entries were applied", async () => {
    // The driver discards the half-made directory.
    await rejects(apply([{ name: "ok", body: "1" }, { name: "/etc/shadow", body: "2" }]), /"\/etc\/shadow" has an absolute path/);
    expect(text(`${root}/ok`)).toBe("1");
  });
});
