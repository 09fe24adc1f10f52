// `berth cp` and `docker cp` (against berthd) must never leave the
// container's root: not while the container races them, swapping a
// directory for a symlink to a host path (CVE-2018-15664) as fast as
// renameat2(RENAME_EXCHANGE) goes, and not through symlinks to absolute host
// paths, ".." components or hostile tar streams. A host sentinel directory
// (the symlinks' target) must stay as it was, its secret never read.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { BERTH, berth, docker, importBusybox, leaks, makeRoot, removeRoot, type Result, type TestRoot } from "./helpers/berth.ts";
import { buildEscapeTools } from "./helpers/escape.ts";
import { tarBytes } from "./helpers/tar-writer.ts";

let t: TestRoot;
let tools: string;
let sentinel: string; // a host directory, what the container's symlinks point at
let scratch: string; // host side of the copies
const SECRET = `HOST-SECRET-${Math.random().toString(36).slice(2)}`;
const MARK = `race-${Math.random().toString(36).slice(2, 8)}`;

/** Everything under a host directory, with sizes: any change shows. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = `${d}/${e.name}`;
      out.push(`${rel}${e.name}${e.isDirectory() ? "/" : ` ${statSync(p).size} nlink=${statSync(p).nlink}`}`);
      if (e.isDirectory()) walk(p, `${rel}${e.name}/`);
    }
  };
  walk(dir, "");
  return out.sort();
}

/** Names at the host's / that carry this run's mark (where a write through a symlink to / would land). */
const strayAtRoot = () => readdirSync("/").filter((n) => n.includes(MARK));

let sentinelBefore: string[];

beforeAll(async () => {
  tools = buildEscapeTools();
  t = makeRoot();
  await importBusybox(t);
  sentinel = mkdtempSync("/tmp/berth-cp-sentinel-");
  writeFileSync(`${sentinel}/secret`, SECRET);
  mkdirSync(`${sentinel}/sub`);
  writeFileSync(`${sentinel}/sub/secret`, SECRET);
  sentinelBefore = listing(sentinel);
  scratch = mkdtempSync("/tmp/berth-cp-scratch-");
}, 120_000);

afterEach(() => {
  expect(listing(sentinel), "the host sentinel directory").toEqual(sentinelBefore);
  expect(strayAtRoot(), "files at the host's /").toEqual([]);
});

afterAll(async () => {
  for (const n of strayAtRoot()) rmSync(`/${n}`, { recursive: true, force: true });
  await removeRoot(t);
  expect(leaks(t)).toEqual([]);
  rmSync(sentinel, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

const ok = async (args: string[]) => {
  const r = await berth(t, args);
  expect(r.code, `berth ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
};

/**
 * Every regular file under a host path (a file or a directory), read;
 * symlinks are not followed (a copied symlink is the container's text,
 * not a read of where it points).
 */
function contents(path: string): string[] {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st || st.isSymbolicLink()) return [];
  if (!st.isDirectory()) return [readFileSync(path, "utf8")];
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(`${e.parentPath}/${e.name}`, "utf8"));
}

let outs = 0;
/** A fresh host path for a copy out. */
const freshOut = () => `${scratch}/out-${++outs}`;

describe("cp while the container swaps a directory and a symlink to a host path", () => {
  const clients: [string, (args: string[], stdin?: string) => Promise<Result>][] = [
    ["berth cp", (args) => berth(t, ["cp", ...args])],
    ["docker cp", (args) => docker(t, ["cp", ...args])],
  ];

  beforeAll(async () => {
    // /w/d (a directory, with a file "secret") and /w/l (a symlink to the host's sentinel) change places
    // all the time; so do /w/e and /w/m (a symlink to /).
    const setup = [
      "mkdir -p /w/d/sub /w/e",
      "echo container > /w/d/secret && echo container > /w/d/sub/secret && echo container > /w/e/secret",
      `ln -s ${sentinel} /w/l && ln -s / /w/m`,
      "/t/swap /w/e /w/m 600 & exec /t/swap /w/d /w/l 600",
    ].join(" && ");
    await ok(["run", "-d", "--name", "racer", "-v", `${tools}:/t:ro`, "bb", "sh", "-c", setup]);
    for (let i = 0; i < 50 && (await berth(t, ["exec", "racer", "test", "-L", "/w/l", "-o", "-L", "/w/d"])).code !== 0; i++) await Bun.sleep(50);
    const src = `${scratch}/in/${MARK}`;
    mkdirSync(src, { recursive: true });
    for (let i = 0; i < 20; i++) writeFileSync(`${src}/${MARK}-${i}`, `from the host ${i}\n`);
    writeFileSync(`${scratch}/in/${MARK}-file`, "one file\n");
  });

  for (const [client, cp] of clients) {
    test(`${client} into the swapped paths, 30 times each: nothing lands outside the container`, async () => {
      const codes: number[] = [];
      for (let i = 0; i < 30; i++) {
        for (const dest of ["racer:/w/d/", "racer:/w/e/", "racer:/w/d/sub", "racer:/w/e"]) {
          codes.push((await cp([`${scratch}/in/${MARK}`, dest])).code);
          codes.push((await cp([`${scratch}/in/${MARK}-file`, dest])).code);
        }
      }
      // Many copies find a directory, the others the symlink (followed inside the container, where nothing is).
      expect(codes.filter((c) => c === 0).length, "copies that went through").toBeGreaterThan(0);
      // Whatever went through is in the container.
      const inside = await ok(["exec", "racer", "sh", "-c", `find / -xdev -name '${MARK}*' | wc -l`]);
      expect(Number(inside.trim())).toBeGreaterThan(0);
    }, 300_000);

    test(`${client} out of the swapped paths, 30 times each: the host's files are never read`, async () => {
      let copied = 0;
      const leaked: string[] = [];
      for (let i = 0; i < 30; i++) {
        for (const src of ["racer:/w/d/secret", "racer:/w/d", "racer:/w/d/sub/secret", "racer:/w/e/secret", "racer:/w/e/"]) {
          const out = freshOut();
          const r = await cp([src, out]);
          if (r.code === 0) copied++;
          if (contents(out).some((c) => c.includes(SECRET))) leaked.push(src);
          rmSync(out, { recursive: true, force: true });
        }
      }
      expect(leaked, "copies out that held the host's secret").toEqual([]);
      expect(copied).toBeGreaterThan(0);
    }, 300_000);
  }

  test("berth cp into a container while another container swaps a directory of a volume they share: nothing lands outside", async () => {
    // The target is frozen while cp writes into it; the racer, sharing the volume, is not.
    await ok(["run", "-d", "--name", "target", "-v", `${MARK}-vol:/v`, "bb", "sleep", "3600"]);
    await ok(["run", "-d", "--name", "vol-racer", "-v", `${MARK}-vol:/v`, "-v", `${tools}:/t:ro`, "bb", "sh", "-c", `mkdir -p /v/d && ln -s ${sentinel} /v/l && exec /t/swap /v/d /v/l 600`]);
    for (let i = 0; i < 50 && (await berth(t, ["exec", "target", "test", "-L", "/v/l", "-o", "-L", "/v/d"])).code !== 0; i++) await Bun.sleep(50);
    let went = 0;
    // 30 copies, and more (up to 200) until one lands: under load the swap may win every time.
    for (let i = 0; i < 200 && (i < 30 || went === 0); i++) if ((await berth(t, ["cp", `${scratch}/in/${MARK}`, "target:/v/d/"])).code === 0) went++;
    expect(went, "copies that went through").toBeGreaterThan(0);
    await ok(["rm", "-f", "target", "vol-racer"]);
  }, 300_000);

  test("the swapper ran the whole time", async () => {
    const top = await ok(["top", "racer"]);
    expect(top.match(/\/t\/swap/g)?.length).toBe(2);
    await ok(["rm", "-f", "racer"]);
  });
});

describe("static paths that point out of the container", () => {
  beforeAll(async () => {
    const setup = [
      "mkdir -p /w/dir && echo container > /w/dir/secret",
      `ln -s ${sentinel} /w/abs && ln -s ${sentinel}/secret /w/abs-file && ln -s ../../../../../../.. /w/up && ln -s / /w/root`,
      "exec sleep 3600",
    ].join(" && ");
    await ok(["run", "-d", "--name", "static", "bb", "sh", "-c", setup]);
    for (let i = 0; i < 50 && (await berth(t, ["exec", "static", "test", "-L", "/w/root"])).code; i++) await Bun.sleep(50);
  });
  afterAll(() => berth(t, ["rm", "-f", "static"]));

  const cat = async (path: string) => (await ok(["exec", "static", "cat", path])).trim();

  test("out through a symlink to an absolute host path: not found in the container, the host file unread", async () => {
    for (const src of ["static:/w/abs/secret", "static:/w/abs/", "static:/w/abs-file", "static:/w/abs/."]) {
      const out = freshOut();
      const r = await berth(t, ["cp", src, out]);
      for (const c of contents(out)) expect(c).not.toContain(SECRET);
      // A symlink copied as itself is fine (a link, not its target).
      if (r.code === 0) expect(statSync(out, { throwIfNoEntry: false }) === undefined || !contents(out).join("").includes(SECRET)).toBe(true);
      else expect(r.stderr).toMatch(/Could not find the file/);
      rmSync(out, { recursive: true, force: true });
    }
  });

  test("out through .. components and a symlink to ../../..: the container's own files", async () => {
    for (const src of ["static:/../../../../etc/hostname", "static:/w/up/etc/hostname", "static:/w/root/etc/hostname", "static:/w/../../etc/hostname"]) {
      const out = freshOut();
      await ok(["cp", src, out]);
      expect(readFileSync(out, "utf8").trim(), src).toBe(await cat("/etc/hostname"));
      expect(readFileSync(out, "utf8")).not.toBe(readFileSync("/etc/hostname", "utf8"));
      rmSync(out, { force: true });
    }
  });

  test("into a symlink to an absolute host path, through .. and ../../..: inside the container or refused", async () => {
    writeFileSync(`${scratch}/${MARK}-in`, "in\n");
    for (const dest of ["static:/w/abs/", "static:/w/abs", "static:/w/abs-file", "static:/../../../../tmp/", "static:/w/up/tmp/", "static:/w/root/tmp/"]) {
      const r = await berth(t, ["cp", `${scratch}/${MARK}-in`, dest]);
      if (r.code !== 0) expect(r.stderr, dest).toMatch(/Could not find the file|not a directory|no such file|does not exist/i);
    }
    // Where the copies through .. and the symlinks to / went: the container's /tmp.
    expect(await cat(`/tmp/${MARK}-in`)).toBe("in");
    expect(existsSync(`/tmp/${MARK}-in`)).toBe(false);
  });

  test("a tar stream on stdin with ../ names, absolute names, a symlink then a file through it, a hard link to a host path", async () => {
    const hostile: [string, Uint8Array][] = [
      ["../ names", tarBytes([{ name: `../../../../../..${sentinel}/${MARK}-dotdot`, body: "x" }])],
      ["an absolute name", tarBytes([{ name: `${sentinel}/${MARK}-abs`, body: "x" }])],
      ["a symlink, then a file through it", tarBytes([{ name: "ln", type: "2", linkname: sentinel }, { name: `ln/${MARK}-through`, body: "x" }])],
      ["a symlink to /, then a file through it", tarBytes([{ name: "rootln", type: "2", linkname: "/" }, { name: `rootln/${MARK}-through-root`, body: "x" }])],
      ["a hard link to a host path", tarBytes([{ name: `${MARK}-hard`, type: "1", linkname: `${sentinel}/secret` }])],
      ["a hard link through ..", tarBytes([{ name: `${MARK}-hard2`, type: "1", linkname: `../../../../../..${sentinel}/secret` }])],
    ];
    for (const [what, tar] of hostile) {
      await ok(["exec", "static", "sh", "-c", "rm -rf /w/in && mkdir /w/in"]);
      const p = Bun.spawn([BERTH, ...t.flags, "cp", "-", "static:/w/in"], { stdin: tar, stdout: "pipe", stderr: "pipe" });
      const [code, stderr] = await Promise.all([p.exited, new Response(p.stderr).text()]);
      // Either refused with a reason, or unpacked inside /w/in.
      if (code !== 0) expect(stderr, what).toMatch(/\S/);
      expect(statSync(`${sentinel}/secret`).nlink, `${what}: the host secret's link count`).toBe(1);
      expect(listing(sentinel), what).toEqual(sentinelBefore);
    }
  });
});
