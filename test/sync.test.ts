// core/engine/sync.ts: writing host files into a container's root and
// removing paths there, confined to the root. First on a temp directory
// standing for the root (both resolvers: openat2 and the hand walk), then
// through /proc/<pid>/root of real running containers.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  closeSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { containerRoot, syncRemove, syncWrite, type SyncWrite } from "../core/engine/sync.ts";
import { isBerthError, SysError } from "../core/errors.ts";
import type { Sys } from "../core/sys/index.ts";
import { libcSys } from "../core/sys/libc.ts";
import { berth, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";

/** The syscall layer of a kernel without openat2: sync falls back to its own walk. */
const noOpenat2: Sys = {
  ...libcSys,
  openat2(_dirfd: number, path: string) {
    throw new SysError("openat2", 38, "ENOSYS", path);
  },
};

let host: string; // holds root/, src/ and the sentinel, all on the host
let root: string;
let src: string;
let sentinel: string;

beforeEach((ctx) => {
  host = mkdtempSync("/tmp/berth-sync-");
  const mine = host;
  // After every afterEach, also one whose assertions failed.
  ctx.onTestFinished(() => rmSync(mine, { recursive: true, force: true }));
  root = `${host}/root`;
  src = `${host}/src`;
  sentinel = `${host}/sentinel`;
  mkdirSync(root);
  mkdirSync(src);
  mkdirSync(`${sentinel}/sub`, { recursive: true });
  writeFileSync(`${sentinel}/keep`, "host data");
  writeFileSync(`${sentinel}/sub/keep`, "host data 2");
});

/** Every path, type, mode, owner and content under `dir` (links not followed). */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = `${d}/${e}`;
      const st = lstatSync(p);
      const what = st.isSymbolicLink() ? `-> ${readlinkSync(p)}` : st.isDirectory() ? "dir" : readFileSync(p, "utf8");
      out.push(`${rel}${e} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${what}`);
      if (st.isDirectory() && !st.isSymbolicLink()) walk(p, `${rel}${e}/`);
    }
  };
  walk(dir, "");
  return out;
}

function source(rel: string, content: string, mode = 0o644): string {
  const p = `${src}/${rel}`;
  mkdirSync(p.slice(0, p.lastIndexOf("/")), { recursive: true });
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
}

async function failure(p: Promise<unknown>) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isBerthError(err)).toBe(true);
  return err as { kind: string; message: string; hint?: string };
}

/** Temp entries sync leaves behind (it must leave none). */
function temps(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith(".berth-sync.")) out.push(`${d}/${e.name}`);
      if (e.isDirectory()) walk(`${d}/${e.name}`);
    }
  };
  walk(dir);
  return out;
}

describe("containerRoot", () => {
  test("is /proc/<pid>/root; a pid that is no process is refused", () => {
    expect(containerRoot(4242)).toBe("/proc/4242/root");
    expect(() => containerRoot(0)).toThrow(/not running/);
  });
});

describe("syncWrite on a directory standing for the root", () => {
  test("a file arrives with its content and mode, owned 0:0 by default; the count and bytes are returned", async () => {
    const s = source("index.js", "console.log(1)\n", 0o754);
    mkdirSync(`${root}/app`);
    expect(await syncWrite(root, [{ source: s, target: "/app/index.js" }])).toEqual({ files: 1, bytes: 15 });
    const st = statSync(`${root}/app/index.js`);
    expect(readFileSync(`${root}/app/index.js`, "utf8")).toBe("console.log(1)\n");
    expect(st.mode & 0o7777).toBe(0o754);
    expect([st.uid, st.gid]).toEqual([0, 0]);
    expect(temps(root)).toEqual([]);
  });

  test("ownership: files, symlinks and created directories belong to uid:gid; existing parents are left as they are", async () => {
    mkdirSync(`${root}/app`, { mode: 0o700 });
    chmodSync(`${root}/app`, 0o700);
    const f = source("a.txt", "a", 0o600);
    symlinkSync("a.txt", `${src}/link`);
    const r = await syncWrite(
      root,
      [
        { source: f, target: "/app/new/deep/a.txt" },
        { source: `${src}/link`, target: "/app/new/link" },
      ],
      { uid: 1000, gid: 1000 },
    );
    expect(r.files).toBe(2);
    for (const p of ["app/new", "app/new/deep"]) {
      const st = lstatSync(`${root}/${p}`);
      expect([st.isDirectory(), st.mode & 0o7777, st.uid, st.gid]).toEqual([true, 0o755, 1000, 1000]);
    }
    const file = lstatSync(`${root}/app/new/deep/a.txt`);
    expect([file.mode & 0o7777, file.uid, file.gid]).toEqual([0o600, 1000, 1000]);
    const link = lstatSync(`${root}/app/new/link`);
    expect([link.isSymbolicLink(), link.uid, link.gid]).toEqual([true, 1000, 1000]);
    const app = lstatSync(`${root}/app`);
    expect([app.mode & 0o7777, app.uid, app.gid]).toEqual([0o700, 0, 0]);
  });

  test("set-id bits are copied (set after the owner)", async () => {
    const s = source("tool", "#!/bin/sh\n", 0o4755);
    await syncWrite(root, [{ source: s, target: "/bin/tool" }], { uid: 1000, gid: 1000 });
    expect(statSync(`${root}/bin/tool`).mode & 0o7777).toBe(0o4755);
  });

  test("a directory is copied recursively and merged into what is there; its symlinks stay symlinks", async () => {
    source("tree/a.js", "A");
    source("tree/lib/b.js", "BB", 0o600);
    mkdirSync(`${src}/tree/empty`);
    chmodSync(`${src}/tree/lib`, 0o750);
    writeFileSync(`${host}/hostfile`, "not to be copied");
    symlinkSync(`${host}/hostfile`, `${src}/tree/abs-link`);
    symlinkSync("lib/b.js", `${src}/tree/rel-link`);
    mkdirSync(`${root}/app/lib`, { recursive: true });
    writeFileSync(`${root}/app/old.js`, "kept");
    writeFileSync(`${root}/app/lib/old2.js`, "kept too");
    const r = await syncWrite(root, [{ source: `${src}/tree`, target: "/app" }], { uid: 1000, gid: 1000 });
    expect(r).toEqual({ files: 4, bytes: 3 });
    expect(snapshot(`${root}/app`)).toEqual([
      `a.js 100644 1000:1000 A`,
      `abs-link 120777 1000:1000 -> ${host}/hostfile`,
      `empty 40755 1000:1000 dir`,
      `lib 40755 0:0 dir`, // there already: mode and owner kept
      `lib/b.js 100600 1000:1000 BB`,
      `lib/old2.js 100644 0:0 kept too`,
      `old.js 100644 0:0 kept`,
      `rel-link 120777 1000:1000 -> lib/b.js`,
    ]);
    expect(readFileSync(`${host}/hostfile`, "utf8")).toBe("not to be copied");
  });

  test("a new directory gets its source's mode", async () => {
    mkdirSync(`${src}/d`);
    chmodSync(`${src}/d`, 0o711);
    await syncWrite(root, [{ source: `${src}/d`, target: "/d" }]);
    expect(statSync(`${root}/d`).mode & 0o7777).toBe(0o711);
  });

  test("a symlink source is reproduced, replacing a file at the target", async () => {
    symlinkSync("/does/not/exist/on/host", `${src}/dangling`);
    writeFileSync(`${root}/x`, "old");
    expect(await syncWrite(root, [{ source: `${src}/dangling`, target: "/x" }])).toEqual({ files: 1, bytes: 0 });
    expect(readlinkSync(`${root}/x`)).toBe("/does/not/exist/on/host");
  });

  test("atomic replace: a reader holding the old file keeps the old content, the path shows the new one", async () => {
    mkdirSync(`${root}/app`);
    writeFileSync(`${root}/app/conf`, "old content");
    const oldIno = statSync(`${root}/app/conf`).ino;
    const reader = openSync(`${root}/app/conf`, "r");
    try {
      await syncWrite(root, [{ source: source("conf", "new content, longer"), target: "/app/conf" }]);
      const buf = Buffer.alloc(64);
      const n = readSync(reader, buf, 0, 64, 0);
      expect(buf.subarray(0, n).toString()).toBe("old content");
    } finally {
      closeSync(reader);
    }
    expect(readFileSync(`${root}/app/conf`, "utf8")).toBe("new content, longer");
    expect(statSync(`${root}/app/conf`).ino).not.toBe(oldIno);
    expect(readdirSync(`${root}/app`)).toEqual(["conf"]);
  });

  test("a larger file (several copy buffers) arrives whole", async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
    writeFileSync(`${src}/big`, big);
    const r = await syncWrite(root, [{ source: `${src}/big`, target: "/big" }]);
    expect(r.bytes).toBe(big.length);
    expect(readFileSync(`${root}/big`).equals(big)).toBe(true);
  });

  test("a batch of 1,000 files in 50 directories arrives whole", async () => {
    const writes: SyncWrite[] = [];
    let bytes = 0;
    for (let i = 0; i < 1000; i++) {
      const content = `file ${i}\n`.repeat(i % 7);
      bytes += content.length;
      writes.push({ source: source(`many/${i}.txt`, content), target: `/app/d${i % 50}/${i}.txt` });
    }
    expect(await syncWrite(root, writes)).toEqual({ files: 1000, bytes });
    for (let i = 0; i < 1000; i++) expect(readFileSync(`${root}/app/d${i % 50}/${i}.txt`, "utf8")).toBe(`file ${i}\n`.repeat(i % 7));
    expect(readdirSync(`${root}/app`)).toHaveLength(50);
    expect(temps(root)).toEqual([]);
  });

  test("targets are cleaned: '..' cannot climb above the root", async () => {
    await syncWrite(root, [{ source: source("f", "x"), target: "/../../../app/./f" }]);
    expect(readFileSync(`${root}/app/f`, "utf8")).toBe("x");
    expect(readdirSync(host).sort()).toEqual(["root", "sentinel", "src"]);
    expect(readdirSync(root)).toEqual(["app"]);
  });

  test("a write then a write over a directory it made in the same batch", async () => {
    // The later write replaces a symlink the earlier one's parent went through: it must land under the new directory.
    mkdirSync(`${root}/real`);
    symlinkSync("/real", `${root}/link`);
    source("dir/inner", "in the new dir");
    await syncWrite(root, [
      { source: source("f1", "one"), target: "/link/f1" },
      { source: `${src}/dir`, target: "/link" },
      { source: source("f2", "two"), target: "/link/f2" },
    ]);
    expect(readFileSync(`${root}/real/f1`, "utf8")).toBe("one");
    expect(lstatSync(`${root}/link`).isDirectory()).toBe(true);
    expect(readdirSync(`${root}/link`).sort()).toEqual(["f2", "inner"]);
    expect(existsSync(`${root}/real/f2`)).toBe(false);
  });
});

describe("syncWrite errors", () => {
  test("a target that is not absolute", async () => {
    const err = await failure(syncWrite(root, [{ source: source("f", "x"), target: "app/f" }]));
    expect(err.kind).toBe("InvalidArgument");
    expect(err.message).toContain('"app/f"');
    expect(err.hint).toMatch(/absolute|from its root/);
  });

  test("a file where the container has a directory names the path and says to remove it", async () => {
    mkdirSync(`${root}/app/conf`, { recursive: true });
    writeFileSync(`${root}/app/conf/inside`, "x");
    const err = await failure(syncWrite(root, [{ source: source("f", "x"), target: "/app/conf" }]));
    expect(err.kind).toBe("FailedPrecondition");
    expect(err.message).toContain("/app/conf");
    expect(err.message).toContain("directory");
    expect(err.hint).toContain("remove /app/conf");
    expect(readFileSync(`${root}/app/conf/inside`, "utf8")).toBe("x");
    expect(temps(root)).toEqual([]);
  });

  test("a symlink where the container has a directory", async () => {
    mkdirSync(`${root}/d`);
    symlinkSync("x", `${src}/l`);
    const err = await failure(syncWrite(root, [{ source: `${src}/l`, target: "/d" }]));
    expect(err.kind).toBe("FailedPrecondition");
    expect(err.message).toContain("/d");
    expect(temps(root)).toEqual([]);
  });

  test("a directory where the container has a file", async () => {
    writeFileSync(`${root}/d`, "file");
    mkdirSync(`${src}/d`);
    const err = await failure(syncWrite(root, [{ source: `${src}/d`, target: "/d" }]));
    expect(err.kind).toBe("FailedPrecondition");
    expect(err.message).toContain("/d");
    expect(err.hint).toContain("remove /d");
    expect(readFileSync(`${root}/d`, "utf8")).toBe("file");
  });

  test("a parent that is a file", async () => {
    writeFileSync(`${root}/app`, "file");
    const err = await failure(syncWrite(root, [{ source: source("f", "x"), target: "/app/src/f" }]));
    expect(err.kind).toBe("FailedPrecondition");
    expect(err.message).toContain("/app/src/f");
    expect(err.message).toMatch(/not a directory/);
  });

  test("a missing source is NotFound, naming it", async () => {
    const err = await failure(syncWrite(root, [{ source: `${src}/gone`, target: "/gone" }]));
    expect(err.kind).toBe("NotFound");
    expect(err.message).toContain(`${src}/gone`);
    expect(err.hint).toMatch(/remove/);
  });

  test("a root that does not exist: the container is not running", async () => {
    const err = await failure(syncWrite(`${host}/no-such-root`, [{ source: source("f", "x"), target: "/f" }]));
    expect(err.kind).toBe("Unavailable");
    expect(err.message).toContain("not running");
  });
});

describe("syncRemove", () => {
  test("a file, a symlink (not what it leads to), a directory tree, and missing paths", async () => {
    mkdirSync(`${root}/app/tree/a/b`, { recursive: true });
    writeFileSync(`${root}/app/tree/a/b/f`, "x");
    writeFileSync(`${root}/app/tree/g`, "x");
    symlinkSync("/", `${root}/app/tree/to-root`);
    mkdirSync(`${root}/data`);
    writeFileSync(`${root}/data/precious`, "p");
    symlinkSync("/data", `${root}/app/link`);
    writeFileSync(`${root}/app/file`, "x");
    expect(await syncRemove(root, ["/app/file"])).toBe(1);
    expect(await syncRemove(root, ["/app/link"])).toBe(1);
    expect(readFileSync(`${root}/data/precious`, "utf8")).toBe("p");
    // tree, a, b, f, g, to-root
    expect(await syncRemove(root, ["/app/tree"])).toBe(6);
    expect(readdirSync(`${root}/app`)).toEqual([]);
    expect(await syncRemove(root, ["/app/missing", "/nowhere/at/all", "/data/precious/under-a-file"])).toBe(0);
    expect(readFileSync(`${root}/data/precious`, "utf8")).toBe("p");
  });

  test("the root itself and relative paths are refused", async () => {
    expect((await failure(syncRemove(root, ["/"]))).kind).toBe("InvalidArgument");
    expect((await failure(syncRemove(root, ["app"]))).kind).toBe("InvalidArgument");
  });

  test("removing a directory, then writing under it (in that order) gives the new content only", async () => {
    mkdirSync(`${root}/app/src`, { recursive: true });
    writeFileSync(`${root}/app/src/stale.js`, "stale");
    source("new/index.js", "fresh");
    expect(await syncRemove(root, ["/app/src"])).toBe(2);
    await syncWrite(root, [{ source: `${src}/new`, target: "/app/src" }]);
    expect(readdirSync(`${root}/app/src`)).toEqual(["index.js"]);
    expect(readFileSync(`${root}/app/src/index.js`, "utf8")).toBe("fresh");
  });
});

// Links a hostile container may plant, by their target text.
const hostileLinks = (hostDir: () => string) => [
  { name: "root", text: () => "/" },
  { name: "etc", text: () => "/etc" },
  { name: "dotdot", text: () => "../../../../../.." },
  { name: "dotdot-sentinel", text: () => "../../../sentinel" },
  { name: "host-abs", text: () => hostDir() },
];

for (const [resolver, sys] of [
  ["openat2", libcSys],
  ["the hand walk", noOpenat2],
] as const) {
  describe(`hostile links in the container (${resolver})`, () => {
    const links = hostileLinks(() => sentinel);
    let before: string[];
    let marker: string;
    beforeEach(() => {
      mkdirSync(`${root}/app`);
      mkdirSync(`${root}/etc`);
      before = snapshot(sentinel);
      marker = `berth-sync-escape-${Math.random().toString(36).slice(2)}`;
    });
    afterEach(() => {
      expect(snapshot(sentinel)).toEqual(before);
      for (const p of [`/${marker}`, `/etc/${marker}`, `/tmp/${marker}`, `${host}/${marker}`, `${sentinel}/${marker}`]) expect(existsSync(p)).toBe(false);
    });

    /** Where `target` lands seen from inside the root; the write must land there or fail. */
    async function writeThrough(target: string, expected: string | "error") {
      const s = source(marker, "from sync");
      const r = await syncWrite(root, [{ source: s, target }], { sys }).then(
        () => "ok",
        (e: unknown) => {
          expect(isBerthError(e)).toBe(true);
          return "error";
        },
      );
      if (expected === "error") expect(r).toBe("error");
      else {
        expect(r).toBe("ok");
        expect(readFileSync(`${root}${expected}`, "utf8")).toBe("from sync");
      }
    }

    const inRoot: Record<string, string | "error"> = {
      root: "",
      etc: "/etc",
      dotdot: "",
      "dotdot-sentinel": "error", // ../sentinel is nothing in the root: not created through a link (as mkdir -p)
      "host-abs": "error", // leads to nothing inside the root
    };

    for (const l of links) {
      test(`a parent symlink to ${l.name} leads inside the root`, async () => {
        symlinkSync(l.text(), `${root}/app/p`);
        const at = inRoot[l.name]!;
        await writeThrough(`/app/p/${marker}`, at === "error" ? "error" : `${at}/${marker}`);
      });

      test(`a nested parent symlink to ${l.name}, with directories to create after it`, async () => {
        mkdirSync(`${root}/app/a`);
        symlinkSync(l.text(), `${root}/app/a/b`);
        const at = inRoot[l.name]!;
        const expected = at === "error" ? "error" : `${at}/c/d/${marker}`;
        await writeThrough(`/app/a/b/c/d/${marker}`, expected);
        if (expected !== "error") expect(statSync(`${root}${at}/c`).isDirectory()).toBe(true);
      });

      test(`a final symlink to ${l.name} is replaced by the file`, async () => {
        symlinkSync(l.text(), `${root}/app/${marker}`);
        await writeThrough(`/app/${marker}`, `/app/${marker}`);
        expect(lstatSync(`${root}/app/${marker}`).isFile()).toBe(true);
      });

      test(`a final symlink to ${l.name} is replaced by a directory copy, whose entries stay in the root`, async () => {
        symlinkSync(l.text(), `${root}/app/d`);
        source("tree/keep", "copied");
        source(`tree/sub/${marker}`, "copied 2");
        await syncWrite(root, [{ source: `${src}/tree`, target: "/app/d" }], { sys });
        expect(lstatSync(`${root}/app/d`).isDirectory()).toBe(true);
        expect(readFileSync(`${root}/app/d/keep`, "utf8")).toBe("copied");
        expect(readFileSync(`${root}/app/d/sub/${marker}`, "utf8")).toBe("copied 2");
      });

      test(`a symlink to ${l.name} inside a directory being copied into is replaced, not followed`, async () => {
        mkdirSync(`${root}/app/d`);
        symlinkSync(l.text(), `${root}/app/d/sub`);
        source(`tree/sub/keep`, "copied");
        await syncWrite(root, [{ source: `${src}/tree`, target: "/app/d" }], { sys });
        expect(lstatSync(`${root}/app/d/sub`).isDirectory()).toBe(true);
        expect(readFileSync(`${root}/app/d/sub/keep`, "utf8")).toBe("copied");
      });

      test(`removes through and of a symlink to ${l.name} stay in the root`, async () => {
        symlinkSync(l.text(), `${root}/app/p`);
        mkdirSync(`${root}/app/tree`);
        symlinkSync(l.text(), `${root}/app/tree/inner`);
        // Through the link: what it leads to in the root (nothing named keep there).
        expect(await syncRemove(root, ["/app/p/keep", "/app/p/sub"], { sys })).toBe(0);
        // The link itself, and a tree holding one.
        expect(await syncRemove(root, ["/app/p", "/app/tree"], { sys })).toBe(3);
        expect(readdirSync(`${root}/app`)).toEqual([]);
      });
    }

    test("a magic-looking link to /proc/self/root is only text inside the root", async () => {
      symlinkSync("/proc/self/root", `${root}/app/p`);
      await writeThrough(`/app/p/${marker}`, "error");
    });

    test("a symlink loop is an error naming the path", async () => {
      symlinkSync("/app/b", `${root}/app/a`);
      symlinkSync("/app/a", `${root}/app/b`);
      const err = await failure(syncWrite(root, [{ source: source("f", "x"), target: "/app/a/f" }], { sys }));
      expect(err.message).toContain("/app/a/f");
      expect(err.message).toMatch(/symbolic links/);
    });

    test("a directory swapped for a symlink to the host between calls", async () => {
      await syncWrite(root, [{ source: source("f1", "one"), target: "/app/d/f1" }], { sys });
      expect(readFileSync(`${root}/app/d/f1`, "utf8")).toBe("one");
      renameSync(`${root}/app/d`, `${root}/app/d.old`);
      symlinkSync(sentinel, `${root}/app/d`);
      await writeThrough(`/app/d/${marker}`, "error");
      expect(await syncRemove(root, ["/app/d/keep", "/app/d/sub"], { sys })).toBe(0);
      rmSync(`${root}/app/d`);
      symlinkSync("/", `${root}/app/d`);
      await writeThrough(`/app/d/${marker}`, `/${marker}`);
    });

    test("a directory swapped for symlinks to the host while writes and removes run", async () => {
      // A racing container: /app/d flips between a directory and links out of the root.
      const swapper = Bun.spawn(
        ["sh", "-c", `cd ${root}/app && while :; do rm -rf d; mkdir d; touch d/keep; rm -rf d; ln -s ${sentinel} d; rm -f d; ln -s / d; done`],
        { stdout: "ignore", stderr: "ignore" },
      );
      try {
        const s = source(marker, "from sync");
        mkdirSync(`${src}/tree/sub`, { recursive: true });
        writeFileSync(`${src}/tree/sub/${marker}`, "x");
        for (let i = 0; i < 300; i++) {
          await syncWrite(root, [{ source: s, target: `/app/d/${marker}` }, { source: s, target: `/app/d/sub/deeper/${marker}` }, { source: `${src}/tree`, target: "/app/d" }], { sys }).catch(
            () => undefined,
          );
          await syncRemove(root, ["/app/d/keep", "/app/d/sub", "/app/d"], { sys }).catch(() => undefined);
        }
      } finally {
        swapper.kill();
        await swapper.exited;
      }
      // Whatever landed is inside the root; the sentinel and the host are untouched (afterEach).
      rmSync(`${root}/app`, { recursive: true, force: true });
      rmSync(`${root}/${marker}`, { force: true });
    });
  });
}

// ---------------------------------------------------------------------------
// Real running containers, through /proc/<pid>/root.

describe("a running container", () => {
  let t: TestRoot;
  let hostSentinel: string;
  beforeAll(async () => {
    t = makeRoot();
    await importBusybox(t);
    for (const args of [
      ["--name", "sync-plain"],
      ["--name", "sync-ro", "--read-only", "--tmpfs", "/app"],
      ["--name", "sync-vol", "-v", "syncvol:/data"],
    ]) {
      const r = await berth(t, ["run", "-d", ...args, "bb", "sleep", "100000"]);
      if (r.code !== 0) throw new Error(`run ${args.join(" ")}: ${r.stderr}`);
    }
  }, 120_000);
  beforeEach(() => {
    hostSentinel = mkdtempSync("/tmp/berth-sync-host-");
    writeFileSync(`${hostSentinel}/keep`, "host data");
  });
  afterEach(() => {
    const entries = readdirSync(hostSentinel);
    const kept = readFileSync(`${hostSentinel}/keep`, "utf8");
    rmSync(hostSentinel, { recursive: true, force: true });
    expect(entries).toEqual(["keep"]);
    expect(kept).toBe("host data");
  });
  afterAll(async () => {
    // The three containers run through all the tests: what they leave is checked once they are removed.
    await removeRoot(t);
    expect(leaks(t)).toEqual([]);
  }, 120_000);

  async function rootOf(name: string): Promise<string> {
    const r = await berth(t, ["inspect", "-f", "{{.State.Pid}}", name]);
    expect(r.code).toBe(0);
    return containerRoot(Number(r.stdout.trim()));
  }
  async function sh(name: string, script: string): Promise<string> {
    const r = await berth(t, ["exec", name, "sh", "-c", script]);
    if (r.code !== 0) throw new Error(`exec ${script}: ${r.code} ${r.stderr}`);
    return r.stdout;
  }

  test("a file arrives with its content, mode and owner; missing parents are made", async () => {
    const s = source("hello.txt", "hello from the host\n", 0o640);
    const r = await syncWrite(await rootOf("sync-plain"), [{ source: s, target: "/srv/app/deep/hello.txt" }], { uid: 1000, gid: 1000 });
    expect(r).toEqual({ files: 1, bytes: 20 });
    expect(await sh("sync-plain", "cat /srv/app/deep/hello.txt")).toBe("hello from the host\n");
    expect(await sh("sync-plain", "stat -c '%a %u %g %F' /srv/app/deep/hello.txt /srv/app/deep /srv/app")).toBe(
      "640 1000 1000 regular file\n755 1000 1000 directory\n755 1000 1000 directory\n",
    );
    // Replaced in place: the container sees the new content at once.
    await syncWrite(await rootOf("sync-plain"), [{ source: source("hello.txt", "v2\n"), target: "/srv/app/deep/hello.txt" }]);
    expect(await sh("sync-plain", "cat /srv/app/deep/hello.txt; ls -a /srv/app/deep")).toBe("v2\n.\n..\nhello.txt\n");
  });

  test("a write into a tmpfs of a read-only container arrives; its read-only root is reported", async () => {
    const croot = await rootOf("sync-ro");
    await syncWrite(croot, [{ source: source("t.txt", "in tmpfs"), target: "/app/t.txt" }]);
    expect(await sh("sync-ro", "cat /app/t.txt; grep ' /app ' /proc/mounts | cut -d' ' -f3")).toBe("in tmpfstmpfs\n");
    const err = await failure(syncWrite(croot, [{ source: source("e.txt", "x"), target: "/etc/e.txt" }]));
    expect(err.kind).toBe("FailedPrecondition");
    expect(err.message).toContain("/etc/e.txt");
    expect(err.message).toContain("read-only");
    expect(err.hint).toContain("--read-only");
  });

  test("a write into a volume path arrives in the volume", async () => {
    await syncWrite(await rootOf("sync-vol"), [{ source: source("v.txt", "in the volume"), target: "/data/sub/v.txt" }]);
    expect(await sh("sync-vol", "cat /data/sub/v.txt")).toBe("in the volume");
    const mp = (await berth(t, ["volume", "inspect", "-f", "{{.Mountpoint}}", "syncvol"])).stdout.trim();
    expect(readFileSync(`${mp}/sub/v.txt`, "utf8")).toBe("in the volume");
  });

  test("symlinks made inside the container do not let a write escape to the host", async () => {
    const marker = `berth-sync-escape-${Math.random().toString(36).slice(2)}`;
    await sh(
      "sync-ro",
      `ln -s / /app/evil && ln -s /etc /app/evil-etc && ln -s ../../../../.. /app/evil-up && ln -s ${hostSentinel} /app/evil-host && ln -s ${hostSentinel}/keep /app/evil-final && ln -s /proc/1/root /app/magic && mkdir -p /app/m && ln -s /app /app/m/loop`,
    );
    const croot = await rootOf("sync-ro");
    const s = source(marker, "sync");
    // Parent links lead inside the container: its root and /etc are read-only there.
    for (const target of [`/app/evil/${marker}`, `/app/evil-etc/${marker}`, `/app/evil-up/${marker}`]) {
      expect((await failure(syncWrite(croot, [{ source: s, target }]))).message).toContain("read-only");
    }
    // A host path is nothing in the container.
    expect((await failure(syncWrite(croot, [{ source: s, target: `/app/evil-host/${marker}` }]))).kind).toBe("FailedPrecondition");
    // A /proc magic link is refused.
    expect((await failure(syncWrite(croot, [{ source: s, target: `/app/magic/${marker}` }]))).message).toMatch(/magic link|symbolic links/);
    // A link at the target is replaced.
    await syncWrite(croot, [{ source: s, target: "/app/evil-final" }]);
    expect(await sh("sync-ro", "stat -c %F /app/evil-final; cat /app/evil-final")).toBe("regular file\nsync");
    // A link leading back inside the container is followed there.
    await syncWrite(croot, [{ source: s, target: `/app/m/loop/${marker}` }]);
    expect(await sh("sync-ro", `cat /app/${marker}`)).toBe("sync");
    // Removes through them stay inside.
    expect(await syncRemove(croot, ["/app/evil-host/keep", `/app/evil/${marker}`])).toBe(0);
    expect(await syncRemove(croot, ["/app/evil", "/app/evil-host", "/app/m"])).toBe(4);
    for (const p of [`/${marker}`, `/etc/${marker}`, `${hostSentinel}/${marker}`]) expect(existsSync(p)).toBe(false);
    const left = (await sh("sync-ro", "ls /app")).split("\n").filter((n) => n !== "" && n !== "t.txt"); // t.txt: the tmpfs test's
    expect(left.sort()).toEqual([marker, "evil-etc", "evil-final", "evil-up", "magic"].sort());
  });

  test("a batch of 1,000 files arrives whole; removing the tree removes it all", async () => {
    const writes: SyncWrite[] = [];
    const sums: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const content = `${i}:${"x".repeat(i % 97)}\n`;
      const rel = `batch/d${i % 20}/f${String(i).padStart(4, "0")}.txt`;
      writes.push({ source: source(`b/${i}`, content), target: `/app/${rel}` });
      sums.push(`${createHash("md5").update(content).digest("hex")}  ./${rel.slice("batch/".length)}`);
    }
    const croot = await rootOf("sync-plain");
    const r = await syncWrite(croot, writes);
    expect(r.files).toBe(1000);
    expect((await sh("sync-plain", "find /app/batch -type f | wc -l")).trim()).toBe("1000");
    const inside = await sh("sync-plain", "cd /app/batch && find . -type f | sort | xargs md5sum");
    const byPath = (a: string, b: string) => (a.slice(34) < b.slice(34) ? -1 : 1);
    expect(inside.trim().split("\n")).toEqual(sums.sort(byPath));
    expect(await syncRemove(croot, ["/app/batch"])).toBe(1000 + 20 + 1);
    expect(await sh("sync-plain", "ls -A /app")).toBe("");
  });

  test("a remove of a directory then a write under it, in that order", async () => {
    const croot = await rootOf("sync-vol");
    await sh("sync-vol", "mkdir -p /data/src && echo stale > /data/src/stale.js");
    source("new/index.js", "fresh");
    expect(await syncRemove(croot, ["/data/src"])).toBe(2);
    await syncWrite(croot, [{ source: `${src}/new`, target: "/data/src" }], { uid: 1000, gid: 1000 });
    expect(await sh("sync-vol", "ls /data/src; cat /data/src/index.js; stat -c '%u:%g' /data/src/index.js")).toBe("index.js\nfresh1000:1000\n");
  });
});
