// The production tar writer: archives of real trees, read back by GNU tar
// and by berth's own reader (and layer applier), byte-identical from run to
// run and from copy to copy, streamed without holding the tree in memory.
import { test, expect, describe, beforeAll, afterAll } from "vitest";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync, chownSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, readdirSync, readFileSync,
  readlinkSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync,
} from "node:fs";
import { applyLayer } from "../core/images/apply.ts";
import { readTar, type TarEntry } from "../core/images/tar.ts";
import { CHUNK, encodeHeader, tarDirectory, writeTar, type TarWriteEntry } from "../core/images/tar-writer.ts";
import { BerthError } from "../core/errors.ts";
import { libcSys } from "../core/sys/libc.ts";
import { S_IFCHR } from "../core/sys/index.ts";
import { chunked } from "./helpers/tar-writer.ts";

let base: string;
beforeAll(() => {
  base = mkdtempSync("/tmp/berth-tarw-test-");
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

const S_IFBLK = 0o060000;
const makedev = (major: number, minor: number) => (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12);
const sys = libcSys;

async function collect(src: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of src) parts.push(c);
  return Buffer.concat(parts);
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

/**
 * Everything about a tree that a tar should carry, path by path: type,
 * permissions, owner, size, mtime (seconds), device, link target, content
 * hash, xattrs, and which paths share an inode.
 */
function snapshot(root: string, opts: { skip?: (rel: string) => boolean } = {}): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<string, string>();
  const walk = (rel: string) => {
    const p = rel ? `${root}/${rel}` : root;
    const st = lstatSync(p);
    if (rel && opts.skip?.(rel)) return;
    const type = st.isDirectory() ? "d" : st.isFile() ? "f" : st.isSymbolicLink() ? "l" : st.isCharacterDevice() ? "c" : st.isBlockDevice() ? "b" : st.isFIFO() ? "p" : "s";
    let extra = "";
    if (type === "f") extra = createHash("sha256").update(readFileSync(p)).digest("hex").slice(0, 16);
    if (type === "l") extra = readlinkSync(p);
    if (type === "c" || type === "b") extra = String(st.rdev);
    let xattrs = "";
    if (type !== "l") {
      xattrs = sys.llistxattr(p).sort().map((n) => `${n}=${Buffer.from(sys.lgetxattr(p, n)!).toString("hex")}`).join(",");
    }
    let link = "";
    if (type !== "d" && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      link = inodes.get(key) ?? "";
      if (!link) inodes.set(key, rel);
    }
    const mtime = rel === "" ? "" : Math.floor(st.mtimeMs / 1000); // the root's own mtime is the extractor's
    out[rel || "."] = [type, (st.mode & 0o7777).toString(8), st.uid, st.gid, type === "f" ? st.size : "", mtime, extra, xattrs, link && `=${link}`].join(" ");
    if (type === "d") for (const n of readdirSync(p).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk("");
  return out;
}

const longDir = `${"l".repeat(100)}/${"m".repeat(100)}`;
const longFile = `${longDir}/${"n".repeat(100)}.txt`; // 306 bytes: PAX path
const midFile = `${"p".repeat(90)}/${"q".repeat(60)}.txt`; // 155 bytes: the ustar prefix field
const longTarget = `../${"t".repeat(150)}`;
const unicode = "ünïcødé-日本語-🙂.txt";
const binXattr = new Uint8Array([0, 1, 0xff, 0x0a, 0x3d, 0x20, 0]);
const capability = new Uint8Array([0x01, 0, 0, 0x02, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/** A tree with every kind of entry a root filesystem has. */
function makeTree(src: string) {
  mkdirSync(`${src}/dir/sub`, { recursive: true });
  mkdirSync(`${src}/sgid`);
  mkdirSync(`${src}/sticky`);
  mkdirSync(`${src}/dev`);
  mkdirSync(`${src}/${longDir}`, { recursive: true });
  mkdirSync(`${src}/${midFile.split("/")[0]}`);
  const rnd = Buffer.alloc((1 << 20) + 7);
  for (let i = 0; i < rnd.length; i++) rnd[i] = (i * 131 + (i >> 11)) & 0xff;
  writeFileSync(`${src}/empty`, "");
  writeFileSync(`${src}/f511`, Buffer.alloc(511, 1));
  writeFileSync(`${src}/f512`, Buffer.alloc(512, 2));
  writeFileSync(`${src}/f513`, Buffer.alloc(513, 3));
  writeFileSync(`${src}/dir/big.bin`, rnd);
  writeFileSync(`${src}/dir/file`, "linked three times\n");
  writeFileSync(`${src}/setuid`, "#!/bin/sh\n");
  writeFileSync(`${src}/owned`, "owned\n");
  writeFileSync(`${src}/${longFile}`, "long name\n");
  writeFileSync(`${src}/${midFile}`, "mid name\n");
  writeFileSync(`${src}/${unicode}`, "unicode\n");
  writeFileSync(`${src}/caps`, "ping");
  linkSync(`${src}/dir/file`, `${src}/hl1`);
  linkSync(`${src}/dir/file`, `${src}/dir/sub/hl2`);
  linkSync(`${src}/${longFile}`, `${src}/${longDir}/${"o".repeat(120)}`); // a hard link with a long link name
  symlinkSync("dir/file", `${src}/sym`);
  symlinkSync("/nowhere/at/all", `${src}/dangling`);
  symlinkSync(longTarget, `${src}/longsym`);
  symlinkSync("/etc", `${src}/etc-link`); // archived as a link: never followed
  sys.mknod(`${src}/dev/null`, S_IFCHR | 0o666, makedev(1, 3));
  sys.mknod(`${src}/dev/loop200`, S_IFBLK | 0o660, makedev(7, 200));
  sys.mknod(`${src}/dev/big-minor`, S_IFCHR | 0o600, makedev(240, 70000));
  execFileSync("mkfifo", ["-m", "0620", `${src}/dev/fifo`]);
  execFileSync("python3", ["-c", `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(`${src}/dev/sock`)})`]);
  chmodSync(`${src}/setuid`, 0o4755);
  chmodSync(`${src}/sgid`, 0o2750);
  chmodSync(`${src}/sticky`, 0o1777);
  chmodSync(`${src}/dev/null`, 0o666);
  chownSync(`${src}/owned`, 1000, 1001);
  chmodSync(`${src}/owned`, 0o640);
  chownSync(`${src}/sgid`, 1000, 1001);
  lchownSync(`${src}/sym`, 1000, 1001);
  chownSync(`${src}/dev/loop200`, 0, 6);
  sys.lsetxattr(`${src}/dir/big.bin`, "user.bin", binXattr);
  sys.lsetxattr(`${src}/dir/big.bin`, "user.text", new TextEncoder().encode("hello"));
  sys.lsetxattr(`${src}/dir`, "user.dir", new TextEncoder().encode("on a directory"));
  sys.lsetxattr(`${src}/caps`, "security.capability", capability);
  // Times, with nanoseconds the archive drops; directories last.
  const all = execFileSync("find", [src, "-mindepth", "1", "-depth", "-print0"]).toString().split("\0").filter(Boolean);
  let t = 1_500_000_000;
  for (const p of all) lutimesSync(p, t + 0.75, (t += 1000) + 0.75);
}

describe("tarDirectory", () => {
  let src: string;
  let tar: Buffer;
  const warnings: string[] = [];

  beforeAll(async () => {
    src = `${base}/src`;
    mkdirSync(src);
    makeTree(src);
    tar = await collect(tarDirectory(src, { sys, onWarning: (w) => warnings.push(w) }));
  });

  test("GNU tar extracts the same tree: types, owners, modes (setuid, setgid, sticky), times, devices, xattrs, hard links, long names", () => {
    const out = `${base}/gnu-out`;
    mkdirSync(out);
    writeFileSync(`${base}/t.tar`, tar);
    execFileSync("tar", ["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", `${base}/t.tar`, "-C", out]);
    const want = snapshot(src, { skip: (r) => r === "dev/sock" });
    expect(snapshot(out)).toEqual(want);
    // The snapshot sees what matters (else the comparison proves nothing).
    expect(want["setuid"]).toMatch(/^f 4755 0 0 /);
    expect(want["sgid"]).toMatch(/^d 2750 1000 1001 /);
    expect(want["dir/sub/hl2"]).toMatch(/=dir\/file$/);
    expect(want["dir/big.bin"]).toContain(`user.bin=${Buffer.from(binXattr).toString("hex")}`);
    expect(want["caps"]).toContain("security.capability=");
    expect(want["dev/big-minor"]).toContain(String(makedev(240, 70000)));
    expect(want[longFile]).toBeDefined();
    expect(want[unicode]).toBeDefined();
    expect(readdirSync(`${out}/dev`)).not.toContain("sock");
  });

  test("berth's reader sees every entry in sorted order; a socket is left out with a warning", async () => {
    const list = await entries(chunked(tar, 4096));
    const names = list.map((e) => e.name);
    expect(names[0]).toBe("caps"); // the start directory itself is left out by default
    // A directory comes right before its content, names sorted by bytes.
    const sorted = [...names].sort((a, b) => {
      const pa = a.replace(/\/$/, "").split("/");
      const pb = b.replace(/\/$/, "").split("/");
      for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
        if (pa[i] !== pb[i]) return Buffer.compare(Buffer.from(pa[i]!), Buffer.from(pb[i]!));
      }
      return pa.length - pb.length;
    });
    expect(names).toEqual(sorted);
    expect(names).not.toContain("dev/sock");
    expect(warnings.some((w) => w.includes("dev/sock") && w.includes("socket"))).toBe(true);
    const by = (n: string) => list.find((e) => e.name === n)!;
    expect(by("dir/")).toMatchObject({ type: "dir", mode: 0o755 });
    expect(by("dir/file")).toMatchObject({ type: "file", data: "linked three times\n" });
    expect(by("dir/sub/hl2")).toMatchObject({ type: "hardlink", linkname: "dir/file", size: 0 });
    expect(by("hl1")).toMatchObject({ type: "hardlink", linkname: "dir/file" });
    expect(by(`${longDir}/${"o".repeat(120)}`)).toMatchObject({ type: "hardlink", linkname: longFile });
    expect(by(longFile)).toMatchObject({ type: "file", data: "long name\n" });
    expect(by(midFile)).toMatchObject({ type: "file", data: "mid name\n" });
    expect(by(unicode)).toMatchObject({ type: "file" });
    expect(by("sym")).toMatchObject({ type: "symlink", linkname: "dir/file", uid: 1000, gid: 1001 });
    expect(by("longsym")).toMatchObject({ type: "symlink", linkname: longTarget });
    expect(by("etc-link")).toMatchObject({ type: "symlink", linkname: "/etc" });
    expect(by("dev/null")).toMatchObject({ type: "chardev", devmajor: 1, devminor: 3, mode: 0o666 });
    expect(by("dev/loop200")).toMatchObject({ type: "blockdev", devmajor: 7, devminor: 200, gid: 6 });
    expect(by("dev/big-minor")).toMatchObject({ type: "chardev", devmajor: 240, devminor: 70000 });
    expect(by("dev/fifo")).toMatchObject({ type: "fifo", mode: 0o620 });
    expect(by("setuid")).toMatchObject({ mode: 0o4755 });
    expect(by("sticky/")).toMatchObject({ mode: 0o1777 });
    expect([...by("dir/big.bin").xattrs.get("user.bin")!]).toEqual([...binXattr]);
    expect(Buffer.from(by("dir/").xattrs.get("user.dir")!).toString()).toBe("on a directory");
    expect(by("dir/big.bin").data.length).toBe((1 << 20) + 7);
    // Seconds only, as Docker writes them.
    expect(by("owned").mtime).toBe(Math.floor(lstatSync(`${src}/owned`).mtimeMs / 1000));
    expect(Number.isInteger(by("owned").mtime)).toBe(true);
    expect(by("owned")).toMatchObject({ uid: 1000, gid: 1001, uname: "", gname: "" });
  });

  test("berth's layer applier rebuilds the same tree", async () => {
    const out = `${base}/apply-out`;
    mkdirSync(out);
    await applyLayer(out, chunked(tar, 100_000), { whiteouts: "delete", sys });
    expect(snapshot(out)).toEqual(snapshot(src, { skip: (r) => r === "dev/sock" }));
  });

  test("deterministic: the same tree, or a copy of it, gives the same bytes", async () => {
    const again = await collect(tarDirectory(src, { sys }));
    expect(again.equals(tar)).toBe(true);
    // A copy on tmpfs: other inodes, and readdir gives names in another order (newest first).
    const mnt = `${base}/tmpfs`;
    mkdirSync(mnt);
    sys.mount("tmpfs", mnt, "tmpfs", 0, "size=64m");
    try {
      execFileSync("cp", ["-a", src, `${mnt}/copy`]);
      expect(readdirSync(`${mnt}/copy`)).not.toEqual(readdirSync(src));
      const fromCopy = await collect(tarDirectory(`${mnt}/copy`, { sys }));
      expect(createHash("sha256").update(fromCopy).digest("hex")).toBe(createHash("sha256").update(tar).digest("hex"));
    } finally {
      sys.umount(mnt);
    }
  });

  test("rename: the start and everything under it renamed, null leaves an entry out", async () => {
    const list = await entries(tarDirectory(`${src}/dir`, { sys, rename: (rel) => (rel === "sub" ? null : rel === "" ? "top" : `top/${rel}`) }));
    expect(list.map((e) => e.name)).toEqual(["top/", "top/big.bin", "top/file", "top/sub/hl2"]);
    // What is under a left-out directory is still there; the first of its links keeps the content.
    expect(list[3]).toMatchObject({ type: "hardlink", linkname: "top/file" });
    // A single file, a symlink (not followed).
    expect((await entries(tarDirectory(`${src}/setuid`, { sys, rename: () => "x" }))).map((e) => [e.name, e.type])).toEqual([["x", "file"]]);
    expect((await entries(tarDirectory(`${src}/etc-link`, { sys, rename: () => "l" }))).map((e) => [e.name, e.type])).toEqual([["l", "symlink"]]);
  });

  test("a file that shrinks while it is read keeps the archive well-formed", async () => {
    const dir = `${base}/shrink`;
    mkdirSync(dir);
    writeFileSync(`${dir}/a`, Buffer.alloc(3 * CHUNK, 7));
    writeFileSync(`${dir}/b`, "after");
    const warn: string[] = [];
    const parts: Uint8Array[] = [];
    for await (const c of tarDirectory(dir, { sys, onWarning: (w) => warn.push(w) })) {
      if (parts.length === 0) truncateSync(`${dir}/a`, 1000); // after the first chunk: most of "a" is still to read
      parts.push(c);
    }
    const list = await entries(chunked(Buffer.concat(parts)));
    expect(list.map((e) => [e.name, e.size])).toEqual([["a", 3 * CHUNK], ["b", 5]]);
    expect(list[1]!.data).toBe("after");
    expect(warn.join("\n")).toMatch(/a: the file shrank/);
    writeFileSync(`${base}/shrink.tar`, Buffer.concat(parts));
    expect(execFileSync("tar", ["-tf", `${base}/shrink.tar`]).toString()).toBe("a\nb\n");
  });

  test("stopping early releases every descriptor", async () => {
    const fds = () => readdirSync("/proc/self/fd").length;
    const before = fds();
    for await (const _ of tarDirectory(src, { sys })) break;
    expect(fds()).toBe(before);
  });

  test("a file over 8 GiB (sparse): PAX size, read back by GNU tar and by berth's reader", async () => {
    const dir = `${base}/huge`;
    mkdirSync(dir);
    const size = 8 * 1024 ** 3 + 1000; // over the 11 octal digits of ustar
    writeFileSync(`${dir}/huge`, "");
    truncateSync(`${dir}/huge`, size);
    writeFileSync(`${dir}/z`, "tail");
    // berth's reader: the header, then stop (the rest is zeros).
    for await (const e of readTar(tarDirectory(dir, { sys }))) {
      expect([e.name, e.size]).toEqual(["huge", size]);
      break;
    }
    // GNU tar reads the whole stream (every byte goes through the pipe).
    const p = Bun.spawn(["tar", "-tvf", "-"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    let total = 0;
    for await (const c of tarDirectory(dir, { sys })) {
      total += c.length;
      p.stdin.write(c);
      await p.stdin.flush();
    }
    p.stdin.end();
    const listing = await new Response(p.stdout).text();
    expect(await p.exited).toBe(0);
    expect(listing).toMatch(new RegExp(`\\s${size}\\s.*huge\\n`));
    expect(listing).toMatch(/\s4\s.*z\n/);
    expect(total).toBe(512 * 2 + 512 + size + (512 - (size % 512)) + 512 + 512 + 1024); // pax header + records, header, body, z, end
  }, 120_000);

  test("streams a 200 MB tree without holding it: throughput and memory", async () => {
    const dir = `${base}/bulk`;
    mkdirSync(`${dir}/small`, { recursive: true });
    const block = Buffer.alloc(4 << 20);
    for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, i);
    for (let i = 0; i < 45; i++) {
      block.writeUInt32LE(i, 0);
      writeFileSync(`${dir}/f${i}`, block);
    }
    for (let i = 0; i < 4000; i++) writeFileSync(`${dir}/small/s${i}`, block.subarray(i, i + ((i * 37) % 6000)));
    // Warm the page cache, then measure.
    for await (const _ of tarDirectory(dir, { sys }));
    Bun.gc(true);
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const t0 = performance.now();
    let bytes = 0;
    let chunks = 0;
    for await (const c of tarDirectory(dir, { sys })) {
      bytes += c.length;
      if (++chunks % 16 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    }
    const secs = (performance.now() - t0) / 1000;
    console.log(`tar writer: ${(bytes / 1e6).toFixed(0)} MB (45 x 4 MiB + 4000 small files) in ${secs.toFixed(2)} s = ${(bytes / 1e6 / secs).toFixed(0)} MB/s; rss grew ${((peak - rss0) / 1e6).toFixed(0)} MB`);
    expect(bytes).toBeGreaterThan(200e6);
    expect(peak - rss0).toBeLessThan(100e6); // holding the archive would take 200 MB
    // And it is right: berth's reader sees every file whole.
    let files = 0;
    let content = 0;
    for await (const e of readTar(tarDirectory(dir, { sys }))) {
      if (e.type !== "file") continue;
      files++;
      for await (const b of e.body()) content += b.length;
    }
    expect(files).toBe(4045);
    expect(content).toBe(45 * (4 << 20) + Array.from({ length: 4000 }, (_, i) => (i * 37) % 6000).reduce((a, b) => a + b, 0));
  }, 120_000);
});

describe("encodeHeader and writeTar", () => {
  test("values ustar cannot hold go to PAX records; GNU tar and berth's reader agree", async () => {
    const list: TarWriteEntry[] = [
      { name: "big-ids", type: "file", mode: 0o600, uid: 3_000_000, gid: 2 ** 31, mtime: 1_700_000_000, size: 3, body: new TextEncoder().encode("abc") },
      { name: "old", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: -86400, size: 0 },
      { name: "future", type: "dir", mode: 0o755, uid: 0, gid: 0, mtime: 2 ** 34 },
      { name: "named", type: "file", mode: 0o644, uid: 1, gid: 2, uname: "u".repeat(40), gname: "grp", mtime: 1, size: 0 },
    ];
    const bytes = await collect(writeTar(list));
    const got = await entries(chunked(bytes, 7));
    expect(got.map((e) => [e.name, e.uid, e.gid, e.mtime, e.uname, e.gname, e.data])).toEqual([
      ["big-ids", 3_000_000, 2 ** 31, 1_700_000_000, "", "", "abc"],
      ["old", 0, 0, -86400, "", "", ""],
      ["future/", 0, 0, 2 ** 34, "", "", ""],
      ["named", 1, 2, 1, "u".repeat(40), "grp", ""],
    ]);
    writeFileSync(`${base}/pax.tar`, bytes);
    const gnu = execFileSync("tar", ["--numeric-owner", "--full-time", "-tvf", `${base}/pax.tar`], { env: { ...process.env, TZ: "UTC" } }).toString();
    expect(gnu).toMatch(/3000000\/2147483648 .* big-ids/);
    expect(gnu).toMatch(/1969-12-31 00:00:00 old/);
  });

  test("a body that does not match its size, and names no tar can hold, are refused", async () => {
    const bad = async (e: TarWriteEntry) => {
      const err = await collect(writeTar([e])).then(() => undefined, (x: unknown) => x);
      expect(err).toBeInstanceOf(BerthError);
      return (err as Error).message;
    };
    expect(await bad({ name: "a", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 5, body: new Uint8Array(3) })).toMatch(/3 bytes, its size says 5/);
    expect(await bad({ name: "a", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 2, body: new Uint8Array(3) })).toMatch(/longer than its size 2/);
    expect(() => encodeHeader({ name: "a\0b", type: "file", mode: 0, uid: 0, gid: 0, mtime: 0 })).toThrow(/NUL/);
    expect(() => encodeHeader({ name: "x", type: "file", mode: 0, uid: -1, gid: 0, mtime: 0 })).toThrow(/negative uid/);
    expect(() => encodeHeader({ name: "x", type: "file", mode: 0, uid: 0, gid: 0, mtime: 0, xattrs: [["a=b", new Uint8Array()]] })).toThrow(/PAX record/);
  });

  test("header bytes: ustar magic, octal fields, checksum as GNU tar writes them", () => {
    const h = Buffer.from(encodeHeader({ name: "etc/passwd", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 1_600_000_000, size: 1234 }));
    expect(h.length).toBe(512);
    expect(h.toString("latin1", 0, 10)).toBe("etc/passwd");
    expect(h.toString("latin1", 100, 108)).toBe("0000644\0");
    expect(h.toString("latin1", 124, 136)).toBe("00000002322\0");
    expect(h.toString("latin1", 136, 148)).toBe(`${(1_600_000_000).toString(8)}\0`);
    expect(h.toString("latin1", 257, 265)).toBe("ustar\u000000");
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    expect(h.toString("latin1", 148, 156)).toBe(`${sum.toString(8).padStart(6, "0")}\0 `);
  });
});
