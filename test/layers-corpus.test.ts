// A corpus of tricky and malicious image layers, applied by both storage
// drivers (overlay: whiteouts as overlayfs markers in a layer of its own,
// seen through a real overlay mount; vfs: whiteouts carried out on a full
// copy). Each case states the exact tree a container sees, or the exact
// error; both drivers must agree, and a refused layer leaves nothing behind.
//
// The second half unpacks multi-layer OCI images with `umoci unpack` and
// compares its rootfs with berth's, file by file.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync,
} from "node:fs";
import type { StorageDriver } from "../core/contracts/storage.ts";
import { BerthError } from "../core/errors.ts";
import { parseMountinfo } from "../core/host.ts";
import { libcSys } from "../core/sys/libc.ts";
import { layerDir } from "../plugins/storage/fsutil.ts";
import { pluginInstance } from "./helpers/plugins.ts";
import { chunked, tarBytes, type GlobalPax, type TarSpec } from "./helpers/tar-writer.ts";

type Kind = "overlay" | "vfs";
const KINDS: Kind[] = ["overlay", "vfs"];
/** A layer: entries for the tar writer, or raw tar bytes. */
type Layer = (TarSpec | GlobalPax)[] | Uint8Array;

let base: string;
/** A directory outside every root: nothing may ever appear in it. */
let outside: string;
const drivers = {} as Record<Kind, StorageDriver>;
const driverDir = (kind: Kind) => `${base}/${kind}/layers/${kind}`;
/** mtimes at or after this are "now": directories the unpacking made, whose time nobody chose. */
const NOW = Math.floor(Date.now() / 1000) - 600;

beforeAll(async () => {
  mkdirSync("/tmp/berth-tests", { recursive: true });
  base = mkdtempSync("/tmp/berth-tests/layers-corpus-");
  outside = `${base}/outside`;
  mkdirSync(outside);
  writeFileSync(`${outside}/secret`, "host secret\n");
  for (const k of KINDS) drivers[k] = await pluginInstance("storage", k, `${base}/${k}`);
});

afterAll(() => {
  const mounts = parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8")).filter((m) => m.mountpoint.startsWith(base));
  rmSync(base, { recursive: true, force: true });
  expect(mounts).toEqual([]);
});

const outsideUntouched = () => {
  expect(readdirSync(outside)).toEqual(["secret"]);
  expect(readFileSync(`${outside}/secret`, "utf8")).toBe("host secret\n");
  expect(lstatSync(`${outside}/secret`).nlink).toBe(1);
};

let seq = 0;
const newChain = () => `sha256:${createHash("sha256").update(`${process.pid}/${++seq}`).digest("hex")}`;
const tarOf = (l: Layer) => (l instanceof Uint8Array ? l : tarBytes(l));

/** Create the layers one on another; the chain IDs, bottom first. */
async function createStack(kind: Kind, layers: Layer[]): Promise<string[]> {
  const chains: string[] = [];
  for (const l of layers) {
    const c = newChain();
    await drivers[kind].createLayer(c, chains.at(-1) ?? null, chunked(tarOf(l), 4096));
    chains.push(c);
  }
  return chains;
}

/** Run `fn` on what a container of the stack sees: a real overlay mount, or the vfs layer's own tree. */
async function withView<T>(kind: Kind, layers: Layer[], fn: (root: string) => T): Promise<T> {
  const chains = await createStack(kind, layers);
  const top = chains.at(-1)!;
  if (kind === "vfs") return fn(`${driverDir("vfs")}/${layerDir(top)}`);
  const id = `corpus-${++seq}`;
  await drivers.overlay.createWritable(id, top);
  try {
    return fn(await drivers.overlay.mount(id));
  } finally {
    await drivers.overlay.removeWritable(id);
  }
}

// ---- Describing a tree ----------------------------------------------------

interface Node {
  type: "file" | "dir" | "symlink" | "char" | "block" | "fifo" | "socket";
  mode: number;
  uid: number;
  gid: number;
  size: number;
  sha?: string;
  text?: string;
  target?: string;
  rdev?: string;
  xattrs: [string, string][];
  mtime: number;
  inode: string;
}

const S_IFMT = 0o170000;
const TYPES: Record<number, Node["type"]> = {
  0o100000: "file", 0o040000: "dir", 0o120000: "symlink", 0o020000: "char", 0o060000: "block", 0o010000: "fifo", 0o140000: "socket",
};
const shown = (v: Uint8Array) => {
  const s = Buffer.from(v).toString("utf8");
  return /^[\x20-\x7e]*$/.test(s) ? s : `0x${Buffer.from(v).toString("hex")}`;
};

function node(path: string): Node {
  const st = lstatSync(path, { bigint: true });
  const type = TYPES[Number(st.mode) & S_IFMT]!;
  const n: Node = {
    type, mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), size: Number(st.size),
    xattrs: [], mtime: Number(st.mtimeNs / 1_000_000_000n), inode: `${st.dev}:${st.ino}`,
  };
  if (type === "file") {
    const data = readFileSync(path);
    n.sha = createHash("sha256").update(data).digest("hex");
    if (data.length <= 40 && /^[\x20-\x7e]*$/.test(data.toString("latin1"))) n.text = data.toString("latin1");
  }
  if (type === "symlink") n.target = readlinkSync(path);
  if (type === "char" || type === "block") {
    const r = st.rdev;
    const major = ((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn);
    const minor = (r & 0xffn) | ((r >> 12n) & ~0xffn);
    n.rdev = `${major}:${minor}`;
  }
  for (const name of libcSys.llistxattr(path).sort()) n.xattrs.push([name, shown(libcSys.lgetxattr(path, name) ?? new Uint8Array())]);
  return n;
}

/** Every path under `root` (not the root itself), sorted. */
function walk(root: string): Map<string, Node> {
  const out = new Map<string, Node>();
  const visit = (rel: string) => {
    for (const name of readdirSync(rel ? `${root}/${rel}` : root).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const n = node(`${root}/${r}`);
      out.set(r, n);
      if (n.type === "dir") visit(r);
    }
  };
  visit("");
  return out;
}

const perm = (m: number) => m.toString(8).padStart(4, "0");

/** One line per path: type, permissions, owner, content or target or device, xattrs. */
function line(n: Node): string {
  const own = `${n.uid}:${n.gid}`;
  const x = n.xattrs.length ? ` [${n.xattrs.map(([k, v]) => `${k}=${v}`).join(" ")}]` : "";
  switch (n.type) {
    case "file":
      return `file ${perm(n.mode)} ${own} ${n.text !== undefined ? JSON.stringify(n.text) : `${n.size} bytes sha256:${n.sha!.slice(0, 12)}`}${x}`;
    case "symlink":
      return `symlink ${own} -> ${n.target}${x}`;
    case "char":
    case "block":
      return `${n.type} ${n.rdev} ${perm(n.mode)} ${own}${x}`;
    default:
      return `${n.type} ${perm(n.mode)} ${own}${x}`;
  }
}

/** The tree as `path: line`. */
function tree(root: string): Record<string, string> {
  return Object.fromEntries([...walk(root)].map(([p, n]) => [p, line(n)]));
}

/** Groups of paths that are one inode (hard links), each sorted. */
function linkGroups(nodes: Map<string, Node>): string[][] {
  const by = new Map<string, string[]>();
  for (const [p, n] of nodes) if (n.type !== "dir") by.set(n.inode, [...(by.get(n.inode) ?? []), p]);
  return [...by.values()].filter((g) => g.length > 1).map((g) => g.sort()).sort();
}

/** Everything compared between two views: lines, mtimes (to the second; "now" for times nobody chose) and hard link groups. */
function full(root: string) {
  const nodes = walk(root);
  const entries = Object.fromEntries([...nodes].map(([p, n]) => [p, `${line(n)} mtime=${n.mtime >= NOW ? "now" : n.mtime}`]));
  return { entries, links: linkGroups(nodes) };
}

interface Seen {
  tree: Record<string, string>;
  links: string[][];
  mtime: (paths: string[]) => Record<string, number>;
}

/**
 * Apply the stack with both drivers; both views must be the same, file by
 * file (lines, mtimes, hard links). Returns what was seen: the vfs tree,
 * the overlay one being equal.
 */
async function both(layers: Layer[]): Promise<Seen> {
  const seen = {} as Record<Kind, { full: ReturnType<typeof full>; tree: Record<string, string>; times: Map<string, number> }>;
  for (const kind of KINDS) {
    seen[kind] = await withView(kind, layers, (root) => ({
      full: full(root), tree: tree(root), times: new Map([...walk(root)].map(([p, n]) => [p, n.mtime])),
    }));
  }
  expect(seen.overlay.full, "the overlay mount and the vfs copy differ").toEqual(seen.vfs.full);
  const v = seen.vfs;
  return { tree: v.tree, links: v.full.links, mtime: (paths) => Object.fromEntries(paths.map((p) => [p, v.times.get(p)!])) };
}

/** No temporary build directory left in a driver. */
const leftovers = (kind: Kind) => readdirSync(driverDir(kind)).filter((n) => n.startsWith(".tmp"));

/**
 * The last layer of the stack must be refused by both drivers with this
 * error kind and message; it leaves no layer and no temporary directory,
 * and the layers below stay usable.
 */
async function refused(layers: Layer[], message: RegExp, kind = "InvalidArgument") {
  for (const d of KINDS) {
    const below = await createStack(d, layers.slice(0, -1));
    const chain = newChain();
    const err = await drivers[d].createLayer(chain, below.at(-1) ?? null, chunked(tarOf(layers.at(-1)!), 4096)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, `${d}: the layer was not refused`).toBeInstanceOf(BerthError);
    expect((err as Error).message, d).toMatch(message);
    expect((err as BerthError).kind, `${d}: ${(err as Error).message}`).toBe(kind);
    expect(drivers[d].hasLayer(chain), d).toBe(false);
    expect(existsSync(`${driverDir(d)}/${layerDir(chain)}`), d).toBe(false);
    expect(leftovers(d), d).toEqual([]);
    if (below.length) expect(drivers[d].hasLayer(below.at(-1)!)).toBe(true);
  }
  outsideUntouched();
}

/** Escape a string for a RegExp. */
const re = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));

/** In-root directories leading to `abs` (an absolute host path), as tree lines. */
const dirsTo = (abs: string) => {
  const parts = abs.split("/").filter(Boolean);
  return Object.fromEntries(parts.map((_, i) => [parts.slice(0, i + 1).join("/"), "dir 0755 0:0"]));
};

const T = 1_700_000_000; // the tar writer's default mtime
const dir = (name: string, more: Partial<TarSpec> = {}): TarSpec => ({ name: name.endsWith("/") ? name : `${name}/`, type: "5", ...more });
const file = (name: string, body = "", more: Partial<TarSpec> = {}): TarSpec => ({ name, body, ...more });
const sym = (name: string, linkname: string, more: Partial<TarSpec> = {}): TarSpec => ({ name, type: "2", linkname, ...more });
const hard = (name: string, linkname: string, more: Partial<TarSpec> = {}): TarSpec => ({ name, type: "1", linkname, ...more });
const wh = (name: string): TarSpec => ({ name });

// ---- The corpus -----------------------------------------------------------

describe("names that leave the root", () => {
  for (const name of ["../x", "a/../../x", "./../x", "..", "a/b/../../../x"]) {
    test(`"${name}" is refused`, async () => {
      await refused([[file("ok", "1"), file(name, "escaped")]], re(`layer entry "${name}" points outside the root filesystem`));
      expect(existsSync(`${base}/x`)).toBe(false);
    });
  }

  for (const name of ["/x", "//x", "/tmp/berth-tests/planted"]) {
    test(`the absolute name "${name}" is refused`, async () => {
      await refused([[file(name, "escaped")]], re(`layer entry "${name}" has an absolute path, which points outside the root filesystem`));
      expect(existsSync("/x") || existsSync("/tmp/berth-tests/planted")).toBe(false);
    });
  }

  test("the same names in a PAX path or a GNU long name are refused", async () => {
    await refused([[file("harmless", "x", { pax: { path: "../../pax-escape" } })]], /layer entry "\.\.\/\.\.\/pax-escape" points outside/);
    const long = `${"d/".repeat(60)}${"../".repeat(62)}gnu-escape`;
    await refused([[file(long, "x", { gnuLong: true, format: "gnu" })]], re(`layer entry "${long}" points outside`));
  });

  test("a NUL byte in a PAX path is refused (it would cut the name short)", async () => {
    await refused([[file("x", "", { pax: { path: "etc/passwd\0.txt" } })]], /layer entry "etc\/passwd\0\.txt" has a NUL byte in its name/);
  });

  test("a name that goes up but stays inside is taken as its clean form", async () => {
    const seen = await both([[file("a/../b", "b"), dir("c/d"), file("c/d/../../e", "e"), file("./f/./g", "g")]]);
    expect(seen.tree).toEqual({
      b: 'file 0644 0:0 "b"', c: "dir 0755 0:0", "c/d": "dir 0755 0:0", e: 'file 0644 0:0 "e"', f: "dir 0755 0:0", "f/g": 'file 0644 0:0 "g"',
    });
  });

  test("the root entry may only be a directory", async () => {
    await refused([[file("./", "", { type: "0" })]], /layer entry "\.\/" would replace the root directory with a file/);
    await refused([[sym(".", "/tmp")]], /layer entry "\." would replace the root directory with a symlink/);
  });
});

describe("symlinks", () => {
  test("a symlink to an outside directory, then a file written through it in the same layer: it lands inside the root", async () => {
    const seen = await both([[sym("evil", outside), file("evil/planted", "p")]]);
    expect(seen.tree).toEqual({ evil: `symlink 0:0 -> ${outside}`, ...dirsTo(outside), [`${outside.slice(1)}/planted`]: 'file 0644 0:0 "p"' });
    outsideUntouched();
  });

  test("the same across layers: the link comes from a lower layer", async () => {
    const seen = await both([[sym("evil", outside)], [file("evil/planted", "p")]]);
    expect(seen.tree).toEqual({ evil: `symlink 0:0 -> ${outside}`, ...dirsTo(outside), [`${outside.slice(1)}/planted`]: 'file 0644 0:0 "p"' });
    outsideUntouched();
  });

  test("relative links that climb out stop at the root, in the same layer and across layers", async () => {
    const seen = await both([
      [dir("a"), dir("a/b"), sym("a/b/up", "../../../../../.."), file("a/b/up/same", "s")],
      [sym("up2", "../../../../.."), file("up2/across", "c"), file("a/b/up/deep/f", "d")],
    ]);
    expect(seen.tree).toEqual({
      a: "dir 0755 0:0", "a/b": "dir 0755 0:0", "a/b/up": "symlink 0:0 -> ../../../../../..", up2: "symlink 0:0 -> ../../../../..",
      same: 'file 0644 0:0 "s"', across: 'file 0644 0:0 "c"', deep: "dir 0755 0:0", "deep/f": 'file 0644 0:0 "d"',
    });
  });

  test("a directory replaced by a symlink in an upper layer: later layers write where it points", async () => {
    const seen = await both([[dir("d"), file("d/old", "o"), dir("target")], [sym("d", "/target")], [file("d/new", "n")]]);
    expect(seen.tree).toEqual({ d: "symlink 0:0 -> /target", target: "dir 0755 0:0", "target/new": 'file 0644 0:0 "n"' });
  });

  test("chains of links are followed across layers (lib64 -> /lib -> usr/lib)", async () => {
    const seen = await both([[dir("usr"), dir("usr/lib"), sym("lib", "usr/lib")], [sym("lib64", "/lib")], [file("lib64/libc.so", "c")]]);
    expect(seen.tree).toEqual({
      lib: "symlink 0:0 -> usr/lib", lib64: "symlink 0:0 -> /lib", usr: "dir 0755 0:0", "usr/lib": "dir 0755 0:0", "usr/lib/libc.so": 'file 0644 0:0 "c"',
    });
  });

  test("a lower layer's link, followed, then replaced or whited out in the same layer: later entries see the change", async () => {
    const lower: Layer = [dir("usr"), dir("usr/lib"), sym("lib", "usr/lib"), sym("bin", "usr/lib")];
    const seen = await both([lower, [file("lib/a", "a"), dir("lib"), file("lib/b", "b"), file("bin/c", "c"), wh(".wh.bin"), file("bin/d", "d")]]);
    expect(seen.tree).toEqual({
      bin: "dir 0755 0:0", "bin/d": 'file 0644 0:0 "d"', lib: "dir 0755 0:0", "lib/b": 'file 0644 0:0 "b"',
      usr: "dir 0755 0:0", "usr/lib": "dir 0755 0:0", "usr/lib/a": 'file 0644 0:0 "a"', "usr/lib/c": 'file 0644 0:0 "c"',
    });
  });

  test("a link to its own directory (s -> .) is a way to the same place", async () => {
    const seen = await both([[sym("s", "."), file("s/s/s/x", "x")]]);
    expect(seen.tree).toEqual({ s: "symlink 0:0 -> .", x: 'file 0644 0:0 "x"' });
  });

  test("loops are refused: in the same layer, across layers, a link to itself", async () => {
    await refused([[sym("l1", "l2"), sym("l2", "/l1"), file("l1/x")]], /layer entry "l1\/x": too many levels of symbolic links \(ELOOP\) resolving "\/l\d" inside the layer/);
    await refused([[sym("l1", "l2"), sym("l2", "l1")], [file("l1/x")]], /layer entry "l1\/x": too many levels of symbolic links/);
    await refused([[sym("self", "self")], [dir("self/sub")]], /layer entry "self\/sub\/": too many levels of symbolic links/);
  });

  test("an entry at a symlink's own path replaces the link and never writes through it", async () => {
    const seen = await both([
      [sym("f", `${outside}/secret`), sym("d", outside), sym("n", `${outside}/secret`)],
      [file("f", "replaced", { mode: 0o777 }), dir("d", { mode: 0o700 }), { name: "n", type: "6" }],
    ]);
    expect(seen.tree).toEqual({ f: 'file 0777 0:0 "replaced"', d: "dir 0700 0:0", n: "fifo 0644 0:0" });
    outsideUntouched();
  });
});

describe("hard links", () => {
  test("to ../ outside the root: refused", async () => {
    await refused([[hard("pw", "../../../../etc/passwd")]], /layer entry "pw" is a hard link to "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd", which points outside the root filesystem/);
  });

  test("an absolute link name is a path in the root", async () => {
    const seen = await both([[dir("etc"), file("etc/passwd", "root"), hard("pw", "/etc/passwd"), hard("pw2", "etc/../etc/passwd")]]);
    expect(seen.tree).toEqual({ etc: "dir 0755 0:0", "etc/passwd": 'file 0644 0:0 "root"', pw: 'file 0644 0:0 "root"', pw2: 'file 0644 0:0 "root"' });
    expect(seen.links).toEqual([["etc/passwd", "pw", "pw2"]]);
  });

  test("through a symlink to outside: resolved in the root, where there is nothing", async () => {
    await refused([[sym("s", outside), hard("h", "s/secret")]], /layer entry "h" is a hard link to "s\/secret", which does not exist in this layer/);
    await refused([[sym("s", outside)], [hard("h", "s/secret")]], /layer entry "h" is a hard link to "s\/secret", which does not exist in this layer/);
  });

  test("through a symlink inside the root (bin -> usr/bin)", async () => {
    const seen = await both([[dir("usr"), dir("usr/bin"), file("usr/bin/ls", "ls", { mode: 0o755 }), sym("bin", "/usr/bin"), dir("sbin"), hard("sbin/dir", "bin/ls", { mode: 0o755 })]]);
    expect(seen.links).toEqual([["sbin/dir", "usr/bin/ls"]]);
  });

  test("to a file of a lower layer: refused by both drivers (a layer's hard links stay in the layer)", async () => {
    await refused([[file("a", "lower")], [hard("h", "a")]], /layer entry "h" is a hard link to "a", which does not exist in this layer/);
  });

  test("to a file a whiteout removed: refused", async () => {
    await refused([[file("a", "lower")], [wh(".wh.a"), hard("h", "a")]], /layer entry "h" is a hard link to "a", which does not exist in this layer/);
  });

  test("to a file of this layer that a later whiteout names: the whiteout hides only the lower file", async () => {
    const seen = await both([[file("a", "lower")], [file("a", "upper"), wh(".wh.a"), hard("h", "a")]]);
    expect(seen.tree).toEqual({ a: 'file 0644 0:0 "upper"', h: 'file 0644 0:0 "upper"' });
    expect(seen.links).toEqual([["a", "h"]]);
  });

  test("to a directory, to the root, to nothing: refused", async () => {
    await refused([[dir("d"), hard("h", "d")]], /layer entry "h" is a hard link to "d", which is a directory/);
    await refused([[hard("h", "./")]], /layer entry "h" is a hard link to the root directory/);
    await refused([[hard("h", "nothing")]], /layer entry "h" is a hard link to "nothing", which does not exist in this layer/);
  });

  test("a link keeps the old inode when its target is replaced later in the layer; a link to itself is a no-op", async () => {
    const seen = await both([[file("a", "1"), hard("h", "a"), file("a", "2"), hard("a", "a")]]);
    expect(seen.tree).toEqual({ a: 'file 0644 0:0 "2"', h: 'file 0644 0:0 "1"' });
    expect(seen.links).toEqual([]);
  });

  test("links to symlinks, devices and fifos are links to those, not to their targets", async () => {
    const seen = await both([[sym("s", `${outside}/secret`), { name: "null", type: "3", devmajor: 1, devminor: 3, mode: 0o666 }, { name: "p", type: "6" }, hard("hs", "s"), hard("hn", "null", { mode: 0o666 }), hard("hp", "p")]]);
    expect(seen.links).toEqual([["hn", "null"], ["hp", "p"], ["hs", "s"]]);
    expect(seen.tree.hs).toBe(`symlink 0:0 -> ${outside}/secret`);
    outsideUntouched();
  });
});

describe("whiteouts", () => {
  const lower: Layer = [dir("dir"), file("dir/a", "a"), dir("dir/sub"), file("dir/sub/b", "b"), file("keep", "k")];

  test("a whiteout of a parent directory, then files under it in a later layer", async () => {
    const seen = await both([lower, [wh(".wh.dir")], [dir("dir", { mode: 0o700 }), file("dir/c", "c")]]);
    expect(seen.tree).toEqual({ dir: "dir 0700 0:0", "dir/c": 'file 0644 0:0 "c"', keep: 'file 0644 0:0 "k"' });
    const implicit = await both([lower, [wh(".wh.dir")], [file("dir/c", "c")]]);
    expect(implicit.tree).toEqual({ dir: "dir 0755 0:0", "dir/c": 'file 0644 0:0 "c"', keep: 'file 0644 0:0 "k"' });
  });

  test("a whiteout of a directory, then the directory again in the same layer: only the new contents", async () => {
    const seen = await both([lower, [wh(".wh.dir"), file("dir/c", "c")]]);
    expect(seen.tree).toEqual({ dir: "dir 0755 0:0", "dir/c": 'file 0644 0:0 "c"', keep: 'file 0644 0:0 "k"' });
    const explicit = await both([lower, [wh(".wh.dir"), dir("dir", { mode: 0o750 }), file("dir/c", "c")]]);
    expect(explicit.tree).toEqual({ dir: "dir 0750 0:0", "dir/c": 'file 0644 0:0 "c"', keep: 'file 0644 0:0 "k"' });
  });

  test("a whiteout after this layer's own entry hides only the lower one (OCI: whiteouts apply to lower layers)", async () => {
    const seen = await both([lower, [dir("dir", { mode: 0o711 }), file("dir/c", "c"), wh(".wh.dir"), file("keep", "new"), wh(".wh.keep")]]);
    expect(seen.tree).toEqual({ dir: "dir 0711 0:0", "dir/c": 'file 0644 0:0 "c"', keep: 'file 0644 0:0 "new"' });
  });

  test("a whiteout of something that does not exist changes nothing", async () => {
    const seen = await both([[file("a", "a")], [wh(".wh.nothing"), wh("nodir/.wh.x"), wh("a/.wh.under-a-file"), wh("nodir2/.wh..wh..opq")]]);
    expect(seen.tree).toEqual({ a: 'file 0644 0:0 "a"' });
  });

  test("an opaque directory in a middle layer, an upper layer adding to it", async () => {
    const seen = await both([lower, [dir("dir"), wh("dir/.wh..wh..opq"), file("dir/new", "n")], [dir("dir/sub"), file("dir/sub/y", "y")]]);
    expect(seen.tree).toEqual({
      dir: "dir 0755 0:0", "dir/new": 'file 0644 0:0 "n"', "dir/sub": "dir 0755 0:0", "dir/sub/y": 'file 0644 0:0 "y"', keep: 'file 0644 0:0 "k"',
    });
  });

  test("an opaque directory in the top layer over two merged ones", async () => {
    const seen = await both([lower, [file("dir/from2", "2")], [wh("dir/.wh..wh..opq"), file("dir/only", "o")]]);
    expect(seen.tree).toEqual({ dir: "dir 0755 0:0", "dir/only": 'file 0644 0:0 "o"', keep: 'file 0644 0:0 "k"' });
  });

  test("an opaque marker after this layer's files, deep ones included, keeps them", async () => {
    const seen = await both([lower, [file("dir/sub/new", "n"), wh("dir/.wh..wh..opq")]]);
    expect(seen.tree).toEqual({ dir: "dir 0755 0:0", "dir/sub": "dir 0755 0:0", "dir/sub/new": 'file 0644 0:0 "n"', keep: 'file 0644 0:0 "k"' });
  });

  test(".wh..wh..opq in the root hides every lower layer", async () => {
    const seen = await both([lower, [file("l2", "2")], [wh(".wh..wh..opq"), dir("dir"), file("dir/c", "c")]]);
    expect(seen.tree).toEqual({ dir: "dir 0755 0:0", "dir/c": 'file 0644 0:0 "c"' });
    const after = await both([lower, [wh(".wh..wh..opq"), file("only", "o")], [file("dir/again", "a")]]);
    expect(after.tree).toEqual({ dir: "dir 0755 0:0", "dir/again": 'file 0644 0:0 "a"', only: 'file 0644 0:0 "o"' });
  });

  test("whiteouts inside a lower directory, then of the directory itself, or an opaque marker over them", async () => {
    const gone = await both([lower, [wh("dir/.wh.a"), wh("dir/sub/.wh.b"), wh(".wh.dir")]]);
    expect(gone.tree).toEqual({ keep: 'file 0644 0:0 "k"' });
    const emptied = await both([lower, [wh("dir/sub/.wh.b"), wh("dir/.wh..wh..opq")]]);
    expect(emptied.tree).toEqual({ dir: "dir 0755 0:0", keep: 'file 0644 0:0 "k"' });
  });

  test("a whiteout through a lower layer's symlink to outside removes nothing outside", async () => {
    const seen = await both([[sym("evil", outside)], [wh("evil/.wh.secret"), wh("evil/.wh..wh..opq")]]);
    expect(seen.tree).toEqual({ evil: `symlink 0:0 -> ${outside}` });
    outsideUntouched();
  });

  test("whiteouts of '', '.' and '..' are refused", async () => {
    for (const name of ["dir/.wh.", "dir/.wh..", "dir/.wh..."]) {
      await refused([lower, [wh(name)]], re(`layer entry "${name}" is a whiteout of an invalid name`));
    }
  });

  test("the whiteout markers never show, whatever their type", async () => {
    const seen = await both([lower, [{ name: "dir/.wh.a", type: "5" }, { name: ".wh.keep", type: "2", linkname: "x" }, { name: "dir/.wh..wh..opq/", type: "5" }]]);
    expect(seen.tree).toEqual({ dir: "dir 0755 0:0" });
  });
});

describe("a file replaced by a directory and the reverse", () => {
  test("across layers", async () => {
    const seen = await both([
      [file("f", "file"), dir("d"), file("d/x", "x"), sym("s", "d"), dir("e"), file("e/y")],
      [dir("f", { mode: 0o700 }), file("f/in", "in"), file("d", "now a file"), dir("s"), file("s/z", "z"), sym("e", "d")],
    ]);
    expect(seen.tree).toEqual({
      d: 'file 0644 0:0 "now a file"', e: "symlink 0:0 -> d", f: "dir 0700 0:0", "f/in": 'file 0644 0:0 "in"', s: "dir 0755 0:0", "s/z": 'file 0644 0:0 "z"',
    });
  });

  test("a lower directory replaced by a file, then by a directory again, in one layer: its old contents are gone", async () => {
    const seen = await both([[dir("d"), file("d/old", "o")], [file("d", "f"), dir("d"), file("d/new", "n")]]);
    expect(seen.tree).toEqual({ d: "dir 0755 0:0", "d/new": 'file 0644 0:0 "n"' });
  });

  test("a directory under a lower file is refused", async () => {
    await refused([[file("f", "x")], [file("f/under", "u")]], /layer entry "f\/under": "\/f" is not a directory/);
  });
});

describe("duplicate entries: the last wins", () => {
  test("in one layer", async () => {
    const seen = await both([[
      file("f", "one"), file("f", "two", { mode: 0o600 }),
      dir("d", { mode: 0o700, mtime: 1_000_000_000 }), file("d/x", "x"), dir("d", { mode: 0o750, mtime: 1_100_000_000 }),
      sym("l", "a"), file("l", "file"),
      file("g", "g"), dir("g"), file("g/h", "h"),
      { name: "n", type: "3", devmajor: 1, devminor: 3 }, { name: "n", type: "6", mode: 0o600 },
      file("x", "x", { pax: { "SCHILY.xattr.user.a": "1" } }), file("x", "x", { pax: { "SCHILY.xattr.user.b": "2" } }),
    ]]);
    expect(seen.tree).toEqual({
      f: 'file 0600 0:0 "two"', d: "dir 0750 0:0", "d/x": 'file 0644 0:0 "x"', l: 'file 0644 0:0 "file"', g: "dir 0755 0:0", "g/h": 'file 0644 0:0 "h"',
      n: "fifo 0600 0:0", x: 'file 0644 0:0 "x" [user.b=2]',
    });
    expect(seen.mtime(["d"])).toEqual({ d: 1_100_000_000 });
  });

  test("a directory listed again in an upper layer takes that entry's attributes, xattrs included", async () => {
    const seen = await both([
      [dir("d", { mode: 0o700, uid: 5, gid: 6, mtime: 1_000_000_000, pax: { "SCHILY.xattr.user.old": "o" } }), file("d/x", "x")],
      [dir("d", { mode: 0o755, uid: 7, gid: 8, mtime: 1_100_000_000, pax: { "SCHILY.xattr.user.new": "n" } })],
    ]);
    expect(seen.tree).toEqual({ d: "dir 0755 7:8 [user.new=n]", "d/x": 'file 0644 0:0 "x"' });
    expect(seen.mtime(["d"])).toEqual({ d: 1_100_000_000 });
  });
});

describe("devices", () => {
  test("character and block devices, fifos: numbers, modes and owners", async () => {
    const seen = await both([[
      dir("dev"),
      { name: "dev/null", type: "3", devmajor: 1, devminor: 3, mode: 0o666 },
      { name: "dev/sda", type: "4", devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
      { name: "dev/loop300", type: "4", devmajor: 7, devminor: 300, mode: 0o660 },
      { name: "dev/big", type: "3", devmajor: 4095, devminor: 1_048_575, mode: 0o600 },
      { name: "dev/fifo", type: "6", mode: 0o620, uid: 5, gid: 5 },
    ]]);
    expect(seen.tree).toEqual({
      dev: "dir 0755 0:0", "dev/big": "char 4095:1048575 0600 0:0", "dev/fifo": "fifo 0620 5:5", "dev/loop300": "block 7:300 0660 0:0",
      "dev/null": "char 1:3 0666 0:0", "dev/sda": "block 8:0 0660 0:6",
    });
  });

  test("a device replaces a lower file", async () => {
    const seen = await both([[file("x", "file")], [{ name: "x", type: "3", devmajor: 1, devminor: 5, mode: 0o644 }]]);
    expect(seen.tree).toEqual({ x: "char 1:5 0644 0:0" });
  });

  test("a character device 0:0 (overlayfs' whiteout format) is refused: deletions are .wh. entries", async () => {
    await refused([[file("a", "a")], [{ name: "a", type: "3", devmajor: 0, devminor: 0 }]], /layer entry "a" is a character device 0:0/);
  });
});

describe("extended attributes", () => {
  const cap = new Uint8Array([0x01, 0, 0, 0x02, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  test("user.* (binary values too) and security.capability are set; trusted.overlay.* is never taken from a tar", async () => {
    const seen = await both([
      [dir("d"), file("d/old", "o")],
      [
        file("ping", "p", { mode: 0o755, pax: { "SCHILY.xattr.security.capability": cap, "SCHILY.xattr.user.bin": new Uint8Array([0, 1, 0xff, 0x0a]), "SCHILY.xattr.user.txt": "v" } }),
        dir("d", { pax: { "SCHILY.xattr.trusted.overlay.opaque": "y", "SCHILY.xattr.user.d": "dir" } }),
        file("d/new", "n", { pax: { "LIBARCHIVE.xattr.trusted.overlay.opaque": "eQ==", "LIBARCHIVE.xattr.user.lib": "bGli" } }),
        file("suid", "s", { mode: 0o4755, pax: { "SCHILY.xattr.security.capability": cap } }),
      ],
    ]);
    expect(seen.tree).toEqual({
      d: "dir 0755 0:0 [user.d=dir]",
      "d/new": 'file 0644 0:0 "n" [user.lib=lib]',
      "d/old": 'file 0644 0:0 "o"',
      ping: `file 0755 0:0 "p" [security.capability=0x${Buffer.from(cap).toString("hex")} user.bin=0x0001ff0a user.txt=v]`,
      suid: `file 4755 0:0 "s" [security.capability=0x${Buffer.from(cap).toString("hex")}]`,
    });
  });
});

describe("modes and owners", () => {
  test("setuid, setgid and sticky bits survive the chown; odd modes are exact", async () => {
    const seen = await both([[
      file("suid", "", { mode: 0o4755 }), file("sgid", "", { mode: 0o2755, gid: 50 }), file("both", "", { mode: 0o6755, uid: 1000, gid: 1000 }),
      file("sgid-noexec", "", { mode: 0o2644, gid: 50 }), dir("tmp", { mode: 0o1777 }), dir("shared", { mode: 0o2775, uid: 1000, gid: 1000 }),
      file("none", "", { mode: 0 }), dir("locked", { mode: 0 }), file("locked/inside", "i", { mode: 0o400 }),
    ]]);
    expect(seen.tree).toEqual({
      both: 'file 6755 1000:1000 ""', locked: "dir 0000 0:0", "locked/inside": 'file 0400 0:0 "i"', none: 'file 0000 0:0 ""', sgid: 'file 2755 0:50 ""',
      "sgid-noexec": 'file 2644 0:50 ""', shared: "dir 2775 1000:1000", suid: 'file 4755 0:0 ""', tmp: "dir 1777 0:0",
    });
  });

  test("owners are the numeric ids; user and group names are ignored", async () => {
    const seen = await both([[
      file("f", "", { uid: 1234, gid: 5678, uname: "root", gname: "root" }), file("nobody", "", { uid: 65534, gid: 65534, uname: "daemon" }),
      file("big", "", { uid: 2_000_000_000, gid: 4_000_000_000, base256: ["uid", "gid"] }), file("pax", "", { pax: { uid: "3000000000", gid: "123" } }),
      sym("l", "f", { uid: 7, gid: 8 }), dir("d", { uid: 9, gid: 10 }), { name: "p", type: "6", uid: 11, gid: 12 },
    ]]);
    expect(seen.tree).toEqual({
      big: 'file 0644 2000000000:4000000000 ""', d: "dir 0755 9:10", f: 'file 0644 1234:5678 ""', l: "symlink 7:8 -> f", nobody: 'file 0644 65534:65534 ""',
      p: "fifo 0644 11:12", pax: 'file 0644 3000000000:123 ""',
    });
  });

  test("a lower directory's mode and owner stay when an upper layer only adds to it", async () => {
    const seen = await both([[dir("d", { mode: 0o700, uid: 5, gid: 6, pax: { "SCHILY.xattr.user.k": "v" } })], [file("d/new", "n"), file("d/deeper/f", "f")]]);
    expect(seen.tree).toEqual({ d: "dir 0700 5:6 [user.k=v]", "d/deeper": "dir 0755 0:0", "d/deeper/f": 'file 0644 0:0 "f"', "d/new": 'file 0644 0:0 "n"' });
  });
});

describe("modification times", () => {
  test("files, links, devices and directories, directories set after their children; PAX fractions to the second", async () => {
    const seen = await both([[
      dir("d", { mtime: 1_000_000_000 }), dir("d/sub", { mtime: 1_100_000_000 }), file("d/sub/f", "f", { mtime: 1_200_000_000 }),
      sym("d/l", "sub", { mtime: 1_300_000_000 }), file("d/frac", "", { pax: { mtime: "1400000000.75" } }),
      { name: "d/p", type: "6", mtime: 1_500_000_000 }, file("d/old", "", { mtime: 1 }), file("d/b256", "", { mtime: 8_589_934_592, base256: ["mtime"] }),
    ]]);
    expect(seen.mtime(["d", "d/sub", "d/sub/f", "d/l", "d/frac", "d/p", "d/old", "d/b256"])).toEqual({
      d: 1_000_000_000, "d/sub": 1_100_000_000, "d/sub/f": 1_200_000_000, "d/l": 1_300_000_000, "d/frac": 1_400_000_000, "d/p": 1_500_000_000, "d/old": 1,
      "d/b256": 8_589_934_592,
    });
  });

  test("a lower directory keeps its time when an upper layer adds to it or removes from it", async () => {
    const seen = await both([
      [dir("d", { mtime: 1_000_000_000 }), file("d/gone", ""), dir("e", { mtime: 1_100_000_000 }), file("e/x", "")],
      [file("d/new", ""), wh("e/.wh.x"), wh("e/.wh.never-there")],
    ]);
    expect(seen.mtime(["d", "e"])).toEqual({ d: 1_000_000_000, e: 1_100_000_000 });
  });
});

describe("sparse files", () => {
  let src: string;
  const tars: Record<string, Uint8Array> = {};
  beforeAll(() => {
    // 10 GiB apparent size, a few bytes of data at 5 GB: GNU tar stores it in kilobytes.
    src = mkdtempSync(`${base}/sparse-`);
    execFileSync("truncate", ["-s", "10G", `${src}/big`]);
    execFileSync("dd", [`of=${src}/big`, "bs=1", "seek=5000000000", "conv=notrunc", "status=none"], { input: "hello\n" });
    expect(lstatSync(`${src}/big`).blocks).toBeLessThan(64);
    for (const [name, args] of [["gnu", ["--format=gnu"]], ["pax-0.0", ["--format=posix", "--sparse-version=0.0"]], ["pax-0.1", ["--format=posix", "--sparse-version=0.1"]], ["pax-1.0", ["--format=posix", "--sparse-version=1.0"]]] as const) {
      tars[name] = new Uint8Array(execFileSync("tar", ["--sparse", ...args, "-C", src, "-cf", "-", "big"], { maxBuffer: 1 << 20 }));
      expect(tars[name]!.length).toBeLessThan(64 * 1024);
    }
    rmSync(src, { recursive: true, force: true });
  });

  // Sparse entries are refused (OCI: "Sparse files SHOULD NOT be used"; no image builder writes them):
  // clearly, naming the real file, and before anything of the file is written.
  for (const fmt of ["gnu", "pax-0.0", "pax-0.1", "pax-1.0"]) {
    test(`a 10 GiB GNU sparse file (${fmt}) is refused as a sparse file, naming it`, async () => {
      await refused([[file("before", "b")], tars[fmt]!], /entry "big".* a (GNU )?sparse file, which is not supported/, "NotSupported");
    });
  }
});

describe("long names", () => {
  const deep = Array.from({ length: 8 }, (_, i) => `${String(i).repeat(99)}`).join("/"); // 799 bytes
  test("PAX paths and link paths of hundreds of bytes; GNU long names", async () => {
    const target = "t".repeat(1000);
    const seen = await both([[
      file(`${deep}/f`, "pax", { pax: { path: `${deep}/f` } }),
      sym("s", target, { pax: { linkpath: target } }),
      hard("h", `${deep}/f`, { pax: { linkpath: `${deep}/f` } }),
      file(`${deep}/g`, "gnu", { gnuLong: true, format: "gnu" }),
    ]]);
    expect(seen.tree[`${deep}/f`]).toBe('file 0644 0:0 "pax"');
    expect(seen.tree[`${deep}/g`]).toBe('file 0644 0:0 "gnu"');
    expect(seen.tree.s).toBe(`symlink 0:0 -> ${target}`);
    expect(seen.links).toEqual([[`${deep}/f`, "h"]]);
    expect(Object.keys(seen.tree)).toHaveLength(8 + 4);
  });

  test("a name component longer than 255 bytes, a link target longer than 4095: refused, naming the entry", async () => {
    const name = `d/${"n".repeat(300)}`;
    await refused([[file("ok"), file(name, "x", { pax: { path: name } })]], re(`layer entry "${name}": `));
    const target = "t".repeat(5000);
    await refused([[sym("s", target, { pax: { linkpath: target } })]], /layer entry "s": \w+ t+….*: ENAMETOOLONG/);
  });
});

/** Replace the bytes of `from` (ASCII) by `to` in the name and link name fields of every header, fixing the checksums. */
function rawBytes(tar: Uint8Array, from: string, to: Uint8Array): Uint8Array {
  const out = new Uint8Array(tar);
  const f = Buffer.from(from);
  for (let off = 0; off + 512 <= out.length; ) {
    const h = out.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    for (const [start, len] of [[0, 100], [157, 100]] as const) {
      const at = Buffer.from(h.subarray(start, start + len)).indexOf(f);
      if (at >= 0) h.set(to, start + at);
    }
    h.fill(0x20, 148, 156);
    const sum = h.reduce((s, b) => s + b, 0);
    h.set(Buffer.from(`${sum.toString(8).padStart(6, "0")}\0 `), 148);
    const size = parseInt(Buffer.from(h.subarray(124, 136)).toString().replace(/\0.*$/, "").trim() || "0", 8);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

describe("names that are not UTF-8", () => {
  // A lossy decoding would give another name (U+FFFD), and make different names one.
  test("a name with a Latin-1 byte is refused, naming it with the byte escaped", async () => {
    await refused([[file("ok")], rawBytes(tarBytes([file("caf#", "x")]), "#", new Uint8Array([0xe9]))], /entry "caf\\xe9" at offset 0 has a name that is not valid UTF-8/, "NotSupported");
  });

  test("so is a PAX path, and a symlink target", async () => {
    await refused([[file("x", "", { pax: { path: new Uint8Array([0x61, 0xff, 0x62]) } })]], /entry "a\\xffb" at offset 0 has a name that is not valid UTF-8/, "NotSupported");
    await refused([rawBytes(tarBytes([sym("link", "t#")]), "#", new Uint8Array([0xc3]))], /entry "link" at offset 0 has a link target that is not valid UTF-8: "t\\xc3"/, "NotSupported");
  });

  test("valid UTF-8 beyond ASCII is kept as it is", async () => {
    const seen = await both([[file("café/naïve ☃", "x"), sym("λ", "café/naïve ☃")]]);
    expect(seen.tree).toEqual({ "café": "dir 0755 0:0", "café/naïve ☃": 'file 0644 0:0 "x"', "λ": "symlink 0:0 -> café/naïve ☃" });
  });
});

describe("truncated archives", () => {
  const whole = tarBytes([dir("d"), file("d/a", "a"), file("big", "b".repeat(5000)), file("long", "l", { pax: { path: `${"p".repeat(200)}/x` } }), file("z", "z")]);
  const cuts: [string, number, RegExp][] = [
    ["in a body", 1536 + 512 + 2000, /truncated tar archive: entry "big" \(header at offset 1536\) ends 3000 bytes early/],
    ["in a header", 1536 + 100, /truncated tar archive: the header at offset 1536 ends 412 bytes early/],
    ["after a PAX header", 7168 + 1024, /truncated tar archive: the entry at offset 7168 ends 512 bytes early/],
    ["in a PAX header's records", 7168 + 600, /truncated tar archive: the PAX header at offset 7168 ends \d+ bytes early/],
  ];
  for (const [what, at, message] of cuts) {
    test(`cut ${what}: refused, and no half layer is left`, async () => {
      await refused([[file("lower", "l")], whole.subarray(0, at)], message);
    });
  }

  test("an archive that stops at an entry boundary without the end marker is complete (as Go's archive/tar reads it)", async () => {
    const seen = await both([tarBytes([file("a", "a"), file("b", "b")], { end: false })]);
    expect(seen.tree).toEqual({ a: 'file 0644 0:0 "a"', b: 'file 0644 0:0 "b"' });
  });
});

// ---- Comparison with umoci ------------------------------------------------

/** An OCI image layout with these uncompressed layers, tagged "t". */
function ociLayout(dir: string, layers: Uint8Array[]) {
  mkdirSync(`${dir}/blobs/sha256`, { recursive: true });
  const blob = (data: Uint8Array | string, mediaType: string) => {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    const hex = createHash("sha256").update(bytes).digest("hex");
    writeFileSync(`${dir}/blobs/sha256/${hex}`, bytes);
    return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
  };
  const layerDescs = layers.map((l) => blob(l, "application/vnd.oci.image.layer.v1.tar"));
  const config = blob(
    JSON.stringify({
      created: "2023-11-14T22:13:20Z", architecture: "amd64", os: "linux", config: {},
      rootfs: { type: "layers", diff_ids: layerDescs.map((d) => d.digest) }, history: layers.map(() => ({ created: "2023-11-14T22:13:20Z" })),
    }),
    "application/vnd.oci.image.config.v1+json",
  );
  const manifest = blob(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config, layers: layerDescs }), "application/vnd.oci.image.manifest.v1+json");
  writeFileSync(`${dir}/index.json`, JSON.stringify({ schemaVersion: 2, manifests: [{ ...manifest, annotations: { "org.opencontainers.image.ref.name": "t" } }] }));
  writeFileSync(`${dir}/oci-layout`, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
}

/** Unpack with umoci; `fn` sees the rootfs. */
function withUmoci<T>(layers: Uint8Array[], fn: (rootfs: string) => T): T {
  const work = mkdtempSync(`${base}/umoci-`);
  try {
    ociLayout(`${work}/image`, layers);
    execFileSync("umoci", ["unpack", "--image", `${work}/image:t`, `${work}/bundle`], { stdio: ["ignore", "ignore", "pipe"] });
    return fn(`${work}/bundle/rootfs`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

describe("berth and umoci unpack the same images the same", () => {
  const cap = new Uint8Array([0x01, 0, 0, 0x02, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const images: Record<string, Layer[]> = {
    "a base system with links, modes, owners, devices, xattrs and times": [[
      dir("./", { mtime: 1_000_000_000 }),
      dir("bin", { mtime: 1_000_000_001 }), file("bin/busybox", "#!busybox", { mode: 0o755, mtime: 1_000_000_002 }),
      hard("bin/sh", "bin/busybox", { mode: 0o755, mtime: 1_000_000_002 }), hard("bin/ls", "bin/busybox", { mode: 0o755, mtime: 1_000_000_002 }),
      file("bin/ping", "ping", { mode: 0o755, pax: { "SCHILY.xattr.security.capability": cap, "SCHILY.xattr.user.note": new Uint8Array([0, 0xff]) } }),
      file("bin/su", "su", { mode: 0o4755 }), file("bin/wall", "wall", { mode: 0o2755, gid: 5 }),
      dir("etc", { mode: 0o755, mtime: 1_000_000_003 }), file("etc/shadow", "root:*:", { mode: 0o640, gid: 42 }), dir("etc/conf.d", { mode: 0o2750, uid: 1000, gid: 1001 }),
      file("etc/conf.d/app.conf", "k=v\n", { uid: 1000, gid: 1001, mtime: 1_234_567_890 }),
      sym("etc/localtime", "/usr/share/zoneinfo/UTC", { mtime: 1_111_111_111 }), dir("tmp", { mode: 0o1777 }),
      dir("dev"), { name: "dev/null", type: "3", devmajor: 1, devminor: 3, mode: 0o666 }, { name: "dev/loop0", type: "4", devmajor: 7, devminor: 0, mode: 0o660, gid: 6 },
      { name: "dev/initctl", type: "6", mode: 0o600 },
      dir("usr"), dir("usr/lib"), file("usr/lib/libc.so", "libc"), sym("lib", "usr/lib"), sym("lib64", "/lib"), dir("home", { pax: { "SCHILY.xattr.user.dir": "d" } }),
    ]],
    "whiteouts and opaque directories over three layers": [
      [
        dir("./"), dir("etc"), file("etc/a", "a"), file("etc/b", "b"), dir("etc/sub"), file("etc/sub/deep", "d"), dir("var"), dir("var/cache"), file("var/cache/x", "x"),
        dir("opt"), file("opt/o1", "1"), dir("opt/tree"), file("opt/tree/t", "t"), file("gone", "g"), dir("gonedir", { mtime: 999 }), file("gonedir/f", "f"),
      ],
      [
        dir("./"), dir("etc"), wh("etc/.wh.a"), file("etc/c", "c"), dir("var"), dir("var/cache"), wh("var/cache/.wh..wh..opq"), file("var/cache/y", "y"),
        wh(".wh.gone"), wh(".wh.gonedir"), dir("gonedir", { mode: 0o700 }), file("gonedir/new", "n"), wh(".wh.never-existed"),
      ],
      [
        dir("./"), dir("opt"), file("opt/o2", "2"), dir("opt/tree"), file("opt/tree/u", "u"), wh("opt/.wh..wh..opq"),
        dir("etc"), dir("etc/sub"), wh("etc/sub/.wh.deep"), file("etc/sub/new", "n"), dir("var"), dir("var/cache"), file("var/cache/z", "z"),
      ],
    ],
    "types replaced across layers, hard links, symlinks and times": [
      [
        dir("./", { mtime: 1_500_000_000 }), file("f", "file", { mtime: 1_500_000_001 }), dir("d", { mtime: 1_500_000_002 }), file("d/x", "x"),
        sym("s", "d"), file("data", "data", { mode: 0o600, uid: 3, gid: 4 }), hard("data.link", "data", { mode: 0o600, uid: 3, gid: 4 }), dir("keep", { mode: 0o711, uid: 9, mtime: 1_500_000_003 }),
      ],
      [
        dir("./", { mtime: 1_600_000_000 }), dir("f", { mode: 0o700, mtime: 1_600_000_001 }), file("f/in", "in", { mtime: 1_600_000_002 }),
        file("d", "now a file", { mtime: 1_600_000_003 }), dir("s", { mtime: 1_600_000_004 }), file("s/z", "z"),
        file("data", "new data", { mode: 0o644 }), hard("data.new-link", "data"), sym("abs", "/etc/passwd", { mtime: 1_600_000_005 }),
        dir("keep", { mode: 0o711, uid: 9, mtime: 1_500_000_003 }), file("keep/added", "a", { mtime: 1_600_000_006 }),
      ],
    ],
    "upper layers that add to lower directories without listing them, through lower symlinks, and relist them": [
      [
        dir("./"), dir("d", { mode: 0o700, uid: 5, gid: 6, mtime: 1_000_000_000, pax: { "SCHILY.xattr.user.k": "v" } }), file("d/x", "x"),
        dir("e", { mtime: 1_100_000_000, pax: { "SCHILY.xattr.user.old": "o" } }), file("e/y", "y"), file("e/z", "z"),
        dir("usr", { mtime: 1_200_000_000 }), dir("usr/lib", { mtime: 1_300_000_000 }), sym("lib", "usr/lib"),
      ],
      [
        file("d/new", "n"), wh("d/.wh.x"), dir("e", { mode: 0o750, mtime: 1_400_000_000, pax: { "SCHILY.xattr.user.new": "n" } }), wh("e/.wh.y"),
        file("lib/libz.so", "z"),
      ],
    ],
  };

  /**
   * The one legitimate difference: umoci restores the time of a whiteout's
   * own directory only, so a directory that an opaque marker coming after
   * it (opt/.wh..wh..opq after opt/tree/) empties of lower files keeps the
   * time of the removal, not its entry's. Berth gives it its entry's time.
   */
  const umociTimeOfRemoval: Record<string, string[]> = { "whiteouts and opaque directories over three layers": ["opt/tree"] };

  test("where berth refuses what umoci unpacks, by design", async () => {
    const nonUtf8 = rawBytes(tarBytes([dir("./"), file("caf#", "x")]), "#", new Uint8Array([0xe9]));
    const cases: [Layer[], (rootfs: string) => void, RegExp, string][] = [
      // A hard link to a file of a lower layer: umoci links it; an overlay layer cannot hold such a link, so both berth drivers refuse it.
      [[[dir("./"), file("a", "lower")], [dir("./"), hard("h", "a")]], (r) => expect(lstatSync(`${r}/h`).ino).toBe(lstatSync(`${r}/a`).ino),
        /layer entry "h" is a hard link to "a", which does not exist in this layer/, "InvalidArgument"],
      // A 0:0 character device: umoci makes it; under overlayfs it would be a whiteout.
      [[[dir("./"), file("a", "a")], [dir("./"), { name: "a", type: "3", devmajor: 0, devminor: 0 }]], (r) => expect(lstatSync(`${r}/a`).isCharacterDevice()).toBe(true),
        /layer entry "a" is a character device 0:0/, "InvalidArgument"],
      // A name that is not UTF-8: umoci keeps its bytes; berth's paths are text.
      [[nonUtf8], (r) => expect(readdirSync(r, { encoding: "buffer" }).map((b) => b.toString("hex"))).toEqual(["636166e9"]),
        /entry "caf\\xe9" at offset \d+ has a name that is not valid UTF-8/, "NotSupported"],
    ];
    for (const [layers, umociHas, message, kind] of cases) {
      withUmoci(layers.map(tarOf), umociHas);
      await refused(layers, message, kind);
    }
  });

  for (const [name, layers] of Object.entries(images)) {
    test(name, async () => {
      const tars = layers.map(tarOf);
      const umoci = withUmoci(tars, (rootfs) => ({ ...full(rootfs), root: line(node(rootfs)), rootMtime: node(rootfs).mtime }));
      for (const p of umociTimeOfRemoval[name] ?? []) {
        expect(umoci.entries[p], `umoci's ${p}`).toMatch(/ mtime=now$/);
        umoci.entries[p] = umoci.entries[p]!.replace(/ mtime=now$/, ` mtime=${T}`);
      }
      const vfs = await withView("vfs", tars, (root) => ({ ...full(root), root: line(node(root)), rootMtime: node(root).mtime }));
      const overlay = await withView("overlay", tars, (root) => full(root));
      // Nothing else is excluded: umoci (as root, not rootless) adds no xattrs of its own, and sets the same times.
      expect(vfs.entries).toEqual(umoci.entries);
      expect(vfs.links).toEqual(umoci.links);
      expect(vfs.root).toBe(umoci.root);
      if (umoci.rootMtime < NOW) expect(vfs.rootMtime).toBe(umoci.rootMtime);
      // The overlay mount's root is the container's own writable directory: only the rest is compared.
      expect(overlay).toEqual({ entries: vfs.entries, links: vfs.links });
      expect(Object.keys(vfs.entries).length).toBeGreaterThan(5);
    });
  }
});
