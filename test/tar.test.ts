import { test, expect, describe, beforeAll, afterAll } from "vitest";
import { execFileSync } from "node:child_process";
import { chmodSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { readTar, type TarEntry } from "../core/images/tar.ts";
import { BerthError } from "../core/errors.ts";
import { libcSys } from "../core/sys/libc.ts";
import { chunked, tarBytes } from "./helpers/tar-writer.ts";

type Read = Omit<TarEntry, "body" | "bytes"> & { data: string };

async function readAll(src: AsyncIterable<Uint8Array>): Promise<Read[]> {
  const out: Read[] = [];
  for await (const e of readTar(src)) {
    const { body: _b, bytes: _y, ...meta } = e;
    out.push({ ...meta, data: Buffer.from(await e.bytes()).toString("latin1") });
  }
  return out;
}

const byName = (entries: Read[], name: string) => {
  const e = entries.find((x) => x.name === name);
  if (!e) throw new Error(`no entry ${name} in ${entries.map((x) => x.name).join(", ")}`);
  return e;
};

async function expectError(p: Promise<unknown>, re: RegExp) {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, "expected an error").toBeInstanceOf(BerthError);
  expect((err as Error).message).toMatch(re);
  return err as BerthError;
}

let dir: string;
const big = Buffer.alloc(200_000, 0);
for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 9)) & 0xff;
const longDir = `${"d".repeat(60)}/${"e".repeat(60)}`;
const longName = `${longDir}/${"f".repeat(50)}.txt`;

beforeAll(() => {
  dir = mkdtempSync("/tmp/berth-tar-test-");
  const src = `${dir}/src`;
  mkdirSync(`${src}/sub`, { recursive: true });
  mkdirSync(`${src}/${longDir}`, { recursive: true });
  writeFileSync(`${src}/hello.txt`, "hello world\n");
  writeFileSync(`${src}/sub/big.bin`, big);
  writeFileSync(`${src}/empty`, "");
  writeFileSync(`${src}/${longName}`, "long");
  chmodSync(`${src}/hello.txt`, 0o4751);
  symlinkSync("hello.txt", `${src}/link`);
  linkSync(`${src}/hello.txt`, `${src}/zhard`);
  execFileSync("mkfifo", [`${src}/fifo`]);
  utimesSync(`${src}/hello.txt`, 1_600_000_000, 1_600_000_000);
  for (const fmt of ["gnu", "posix", "ustar"]) {
    const args = ["-cf", `${dir}/${fmt}.tar`, `--format=${fmt}`, "-C", src, "--sort=name", "--owner=1234", "--group=5678"];
    if (fmt === "ustar") args.push("hello.txt", "sub", "link", "zhard", "fifo", "empty", longName.split("/")[0]!);
    else args.push(".");
    execFileSync("tar", args);
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("archives made by GNU tar", () => {
  for (const fmt of ["gnu", "posix", "ustar"]) {
    test(`${fmt} format: names, types, modes, owners, times, bodies, links`, async () => {
      const entries = await readAll(chunked(readFileSync(`${dir}/${fmt}.tar`), 4096));
      const p = fmt === "ustar" ? "" : "./";
      const hello = byName(entries, `${p}hello.txt`);
      expect(hello).toMatchObject({ type: "file", mode: 0o4751, uid: 1234, gid: 5678, size: 12, mtime: 1_600_000_000, data: "hello world\n" });
      expect(byName(entries, `${p}sub/`).type).toBe("dir");
      const bigEntry = byName(entries, `${p}sub/big.bin`);
      expect(bigEntry.size).toBe(big.length);
      expect(Buffer.from(bigEntry.data, "latin1").equals(big)).toBe(true);
      expect(byName(entries, `${p}link`)).toMatchObject({ type: "symlink", linkname: "hello.txt", size: 0 });
      // The second name of the inode is the hard link.
      expect(byName(entries, `${p}zhard`)).toMatchObject({ type: "hardlink", linkname: `${p}hello.txt`, size: 0, data: "" });
      expect(byName(entries, `${p}fifo`).type).toBe("fifo");
      expect(byName(entries, `${p}empty`)).toMatchObject({ type: "file", size: 0, data: "" });
      // > 100 chars: GNU 'L' in gnu, PAX path in posix, prefix field in ustar.
      expect(byName(entries, `${p}${longName}`)).toMatchObject({ type: "file", data: "long" });
      if (fmt === "posix") expect(hello.mtime).toBe(1_600_000_000);
    });
  }

  test("one-byte chunks read the same as one big chunk", async () => {
    const bytes = readFileSync(`${dir}/posix.tar`);
    const whole = await readAll(chunked(bytes, bytes.length));
    const tiny = await readAll(chunked(bytes, 1));
    expect(tiny.length).toBeGreaterThan(8);
    expect(tiny).toEqual(whole);
  });

  test("GNU tar PAX xattrs are read as raw bytes", async () => {
    const src = `${dir}/x`;
    mkdirSync(src);
    writeFileSync(`${src}/f`, "x");
    libcSys.lsetxattr(`${src}/f`, "user.bin", new Uint8Array([0x00, 0xff, 0x0a, 0x3d, 0x20]));
    execFileSync("tar", ["--xattrs", "--xattrs-include=*", "--format=posix", "-cf", `${dir}/x.tar`, "-C", src, "f"]);
    const [f] = await readAll(chunked(readFileSync(`${dir}/x.tar`), 7));
    expect([...f!.xattrs.get("user.bin")!]).toEqual([0x00, 0xff, 0x0a, 0x3d, 0x20]);
  });
});

describe("headers written by hand", () => {
  test("base-256 size, uid, gid and a negative mtime", async () => {
    const body = "y".repeat(700);
    const [e] = await readAll(chunked(tarBytes([
      { name: "b", body, uid: 3_000_000_000, gid: 70_000_000, mtime: -86400, base256: ["size", "uid", "gid", "mtime"] },
    ])));
    expect(e).toMatchObject({ size: 700, uid: 3_000_000_000, gid: 70_000_000, mtime: -86400, data: body });
  });

  test("PAX records: path, linkpath, size, ids, names, fractional mtime, binary xattrs", async () => {
    const cap = new Uint8Array([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const weird = new Uint8Array([0x0a, 0x00, 0x3d, 0xff, 0x20, 0x0a]);
    const path = `${"p".repeat(150)}/${"q".repeat(120)}`;
    const entries = await readAll(chunked(tarBytes([
      {
        name: "short", body: "12345",
        pax: {
          path, size: "5", uid: "4000000000", gid: "77", uname: "üser", gname: "grp", mtime: "1700000000.25",
          "SCHILY.xattr.security.capability": cap, "SCHILY.xattr.user.weird": weird,
        },
      },
      { name: "sl", type: "2", linkname: "short", pax: { linkpath: `/${"t".repeat(200)}` } },
    ]), 3));
    expect(entries[0]).toMatchObject({ name: path, size: 5, uid: 4_000_000_000, gid: 77, uname: "üser", gname: "grp", mtime: 1_700_000_000.25, data: "12345" });
    expect([...entries[0]!.xattrs.get("security.capability")!]).toEqual([...cap]);
    expect([...entries[0]!.xattrs.get("user.weird")!]).toEqual([...weird]);
    expect(entries[1]).toMatchObject({ name: "sl", type: "symlink", linkname: `/${"t".repeat(200)}` });
    expect(entries[1]!.xattrs.size).toBe(0); // 'x' records apply to one entry only
  });

  test("PAX size overrides the header size", async () => {
    const [a, b] = await readAll(chunked(tarBytes([
      { name: "a", body: "abcdef", sizeField: 0, pax: { size: "6" } },
      { name: "b", body: "z" },
    ])));
    expect(a).toMatchObject({ size: 6, data: "abcdef" });
    expect(b).toMatchObject({ name: "b", data: "z" });
  });

  test("global PAX records apply to later entries; local ones win, empty ones unset", async () => {
    const entries = await readAll(chunked(tarBytes([
      { name: "before" },
      { global: { uid: "42", "SCHILY.xattr.user.g": "global" } },
      { name: "one" },
      { name: "two", pax: { uid: "7" } },
      { name: "three", uid: 9, pax: { uid: "", "SCHILY.xattr.user.g": "" } },
    ])));
    expect(entries.map((e) => [e.name, e.uid, e.xattrs.get("user.g") ? Buffer.from(e.xattrs.get("user.g")!).toString() : null])).toEqual([
      ["before", 0, null],
      ["one", 42, "global"],
      ["two", 7, "global"],
      ["three", 9, null],
    ]);
  });

  test("GNU long names and long link names", async () => {
    const name = `${"n".repeat(120)}/${"m".repeat(90)}`;
    const target = `${"l".repeat(130)}/x`;
    const [e, h] = await readAll(chunked(tarBytes([
      { name, type: "2", linkname: target, gnuLong: true, format: "gnu" },
      { name: `${name}2`, type: "1", linkname: target, gnuLong: true, format: "gnu" },
    ]), 1));
    expect(e).toMatchObject({ name, type: "symlink", linkname: target });
    expect(h).toMatchObject({ name: `${name}2`, type: "hardlink", linkname: target });
  });

  test("ustar prefix field", async () => {
    const [e] = await readAll(chunked(tarBytes([{ name: "file.txt", prefix: "usr/share/doc", body: "d" }])));
    expect(e).toMatchObject({ name: "usr/share/doc/file.txt", data: "d" });
  });

  test("the GNU header's atime field is not taken for a prefix", async () => {
    const bytes = tarBytes([{ name: "g.txt", format: "gnu", prefix: "12345670123" }]);
    const [e] = await readAll(chunked(bytes));
    expect(e!.name).toBe("g.txt");
  });

  test("device numbers, fifo, directory types, v7 headers, old-style directories", async () => {
    const entries = await readAll(chunked(tarBytes([
      { name: "dev/null", type: "3", devmajor: 1, devminor: 3, mode: 0o666 },
      { name: "dev/sda", type: "4", devmajor: 8, devminor: 0 },
      { name: "p", type: "6" },
      { name: "d/", type: "5" },
      { name: "old/", type: "\0", format: "v7" },
      { name: "oldfile", type: "\0", format: "v7", body: "v7" },
      { name: "contig", type: "7", body: "c" },
    ])));
    expect(entries.map((e) => [e.name, e.type, e.devmajor, e.devminor])).toEqual([
      ["dev/null", "chardev", 1, 3],
      ["dev/sda", "blockdev", 8, 0],
      ["p", "fifo", 0, 0],
      ["d/", "dir", 0, 0],
      ["old/", "dir", 0, 0],
      ["oldfile", "file", 0, 0],
      ["contig", "file", 0, 0],
    ]);
    expect(entries[5]!.data).toBe("v7");
    expect(entries[0]!.mode).toBe(0o666);
  });

  test("unread bodies are skipped; a body read after moving on is an error", async () => {
    const bytes = tarBytes([{ name: "a", body: "A".repeat(1000) }, { name: "b", body: "B".repeat(3) }, { name: "c", body: "C" }]);
    const names: string[] = [];
    let first: TarEntry | undefined;
    for await (const e of readTar(chunked(bytes, 100))) {
      names.push(e.name);
      first ??= e;
      if (e.name === "b") expect(Buffer.from(await e.bytes()).toString()).toBe("BBB");
    }
    expect(names).toEqual(["a", "b", "c"]);
    await expectError(first!.bytes(), /body of tar entry "a" was read after moving to the next entry/);
  });

  test("stopping early returns the source", async () => {
    let returned = false;
    const bytes = tarBytes([{ name: "a" }, { name: "b" }]);
    const src: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]() {
        const inner = chunked(bytes, 512);
        return {
          next: () => inner.next(),
          return: async () => {
            returned = true;
            return { done: true, value: undefined };
          },
        };
      },
    };
    for await (const e of readTar(src)) if (e.name === "a") break;
    expect(returned).toBe(true);
  });

  test("what follows the end-of-archive marker is consumed", async () => {
    const bytes = new Uint8Array([...tarBytes([{ name: "a", body: "x" }]), ...new Uint8Array(9216)]);
    let seen = 0;
    async function* counting() {
      for await (const c of chunked(bytes, 1000)) {
        seen += c.length;
        yield c;
      }
    }
    expect((await readAll(counting())).map((e) => e.name)).toEqual(["a"]);
    expect(seen).toBe(bytes.length);
  });
});

describe("damaged archives", () => {
  test("a checksum mismatch is an error naming the header offset", async () => {
    const bytes = tarBytes([{ name: "ok", body: "x" }, { name: "bad", badChecksum: true }]);
    const err = await expectError(readAll(chunked(bytes)), /checksum mismatch in the header at offset 1024/);
    expect(err.kind).toBe("InvalidArgument");
  });

  test("non-ASCII names; a checksum summed over signed bytes (old tars) is accepted", async () => {
    const bytes = tarBytes([{ name: "café/naïve.txt", body: "é" }]);
    let signed = 0;
    bytes.fill(0x20, 148, 156);
    for (let i = 0; i < 512; i++) signed += bytes[i]! > 127 ? bytes[i]! - 256 : bytes[i]!;
    bytes.set(new TextEncoder().encode(`${signed.toString(8).padStart(6, "0")}\0 `), 148);
    const [e] = await readAll(chunked(bytes));
    expect(e!.name).toBe("café/naïve.txt");
    bytes[153] = bytes[153]! === 0x37 ? 0x30 : bytes[153]! + 1; // neither sum now
    await expectError(readAll(chunked(bytes)), /checksum mismatch in the header at offset 0/);
  });

  test("a bad octal field is an error", async () => {
    const bytes = tarBytes([{ name: "x" }]);
    bytes.set(new TextEncoder().encode("12x"), 100); // the mode field
    let sum = 0;
    bytes.fill(0x20, 148, 156);
    for (let i = 0; i < 512; i++) sum += bytes[i]!;
    bytes.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, "0")}\0 `), 148);
    await expectError(readAll(chunked(bytes)), /offset 0: the mode field is not an octal number/);
  });

  test("an archive cut in an entry's body is an error naming the entry", async () => {
    const bytes = tarBytes([{ name: "first", body: "1" }, { name: "cut", body: "z".repeat(5000) }], { end: false });
    await expectError(readAll(chunked(bytes.subarray(0, 1024 + 512 + 3000), 1)), /truncated tar archive: entry "cut" \(header at offset 1024\) ends 2000 bytes early/);
  });

  test("an unread body cut short is an error too", async () => {
    const bytes = tarBytes([{ name: "cut", body: "z".repeat(5000) }]);
    const it = readTar(chunked(bytes.subarray(0, 2000)));
    await it.next();
    await expectError(it.next(), /truncated tar archive: entry "cut"/);
  });

  test("an archive cut in a header is an error", async () => {
    const bytes = tarBytes([{ name: "a" }, { name: "b" }]);
    await expectError(readAll(chunked(bytes.subarray(0, 700))), /truncated tar archive: the header at offset 512/);
  });

  test("an archive cut after a PAX header is an error", async () => {
    const bytes = tarBytes([{ name: "a", pax: { path: "x".repeat(200) } }]);
    await expectError(readAll(chunked(bytes.subarray(0, 1024))), /truncated tar archive: the entry at offset 0/);
  });

  test("missing end-of-archive blocks are tolerated", async () => {
    const entries = await readAll(chunked(tarBytes([{ name: "a", body: "x" }, { name: "b" }], { end: false })));
    expect(entries.map((e) => e.name)).toEqual(["a", "b"]);
  });

  test("an empty stream is an empty archive", async () => {
    expect(await readAll(chunked(new Uint8Array(0)))).toEqual([]);
  });

  test("a malformed PAX record is an error", async () => {
    const bytes = tarBytes([{ name: "a", pax: { path: "ok" } }]);
    bytes[512] = 0x39; // the record's length "11" becomes "91"
    await expectError(readAll(chunked(bytes)), /malformed PAX extended header at offset 0/);
  });

  test("sparse files are refused", async () => {
    const err = await expectError(readAll(chunked(tarBytes([{ name: "s", pax: { "GNU.sparse.major": "1" } }]))), /sparse/);
    expect(err.kind).toBe("NotSupported");
  });
});
