// Filling an empty volume from the image at its mount path (Docker's copy-up).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync,
  readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync,
} from "node:fs";
import { populateVolume } from "../core/engine/volume-populate.ts";
import { libcSys } from "../core/sys/libc.ts";

describe("populateVolume", () => {
  let work: string;
  let rootfs: string;
  let n = 0;
  /** A fresh, empty volume directory (root-owned, 0755, as the local driver makes it). */
  const freshVolume = () => {
    const v = `${work}/vol-${n++}/_data`;
    mkdirSync(v, { recursive: true, mode: 0o755 });
    return v;
  };
  const tree = (dir: string): string[] => {
    const out: string[] = [];
    const walk = (d: string, rel: string) => {
      for (const e of readdirSync(d).sort()) {
        out.push(`${rel}${e}`);
        if (lstatSync(`${d}/${e}`).isDirectory()) walk(`${d}/${e}`, `${rel}${e}/`);
      }
    };
    walk(dir, "");
    return out;
  };

  beforeAll(() => {
    mkdirSync("/tmp/berth-tests", { recursive: true });
    work = mkdtempSync("/tmp/berth-tests/populate-");
    rootfs = `${work}/rootfs`;

    // /srv/data in the image: owned 999:998, mode 2770, with every kind of entry.
    const data = `${rootfs}/srv/data`;
    mkdirSync(`${data}/sub/deeper`, { recursive: true });
    writeFileSync(`${data}/file`, "content\n", { mode: 0o640 });
    chownSync(`${data}/file`, 1234, 5678);
    utimesSync(`${data}/file`, 1_000_000, 1_000_000);
    writeFileSync(`${data}/sub/deeper/x`, "x");
    chmodSync(`${data}/sub`, 0o711);
    chownSync(`${data}/sub`, 42, 43);
    symlinkSync("../../etc/passwd", `${data}/rel-link`);
    symlinkSync("/etc/shadow", `${data}/abs-link`);
    linkSync(`${data}/file`, `${data}/hard`);
    libcSys.lsetxattr(`${data}/file`, "user.berth", new TextEncoder().encode("xattr-value"));
    chownSync(data, 999, 998);
    chmodSync(data, 0o2770);

    // /srv/empty: an empty directory owned by a service user (a database's data dir).
    mkdirSync(`${rootfs}/srv/empty`);
    chownSync(`${rootfs}/srv/empty`, 70, 70);
    chmodSync(`${rootfs}/srv/empty`, 0o700);

    writeFileSync(`${rootfs}/srv/a-file`, "not a dir");

    // /escape -> the host's `outside`, absolute and relative: must resolve inside the rootfs.
    mkdirSync(`${work}/outside`);
    writeFileSync(`${work}/outside/host-secret`, "host");
    symlinkSync(`${work}/outside`, `${rootfs}/escape-abs`);
    symlinkSync("../outside", `${rootfs}/escape-rel`); // on the host: work/outside
    mkdirSync(`${rootfs}${work}/outside`, { recursive: true });
    writeFileSync(`${rootfs}${work}/outside/from-image`, "image");
    mkdirSync(`${rootfs}/outside`);
    writeFileSync(`${rootfs}/outside/from-image-rel`, "image");
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test("copies the content with owners, modes, times, symlinks, hard links and xattrs", async () => {
    const v = freshVolume();
    expect(await populateVolume(rootfs, "/srv/data", v)).toBe(true);
    expect(tree(v)).toEqual(["abs-link", "file", "hard", "rel-link", "sub", "sub/deeper", "sub/deeper/x"]);
    expect(readFileSync(`${v}/file`, "utf8")).toBe("content\n");
    const f = statSync(`${v}/file`);
    expect([f.uid, f.gid, f.mode & 0o7777, f.mtimeMs]).toEqual([1234, 5678, 0o640, 1_000_000_000]);
    const sub = statSync(`${v}/sub`);
    expect([sub.uid, sub.gid, sub.mode & 0o7777]).toEqual([42, 43, 0o711]);
    expect(readlinkSync(`${v}/rel-link`)).toBe("../../etc/passwd");
    expect(readlinkSync(`${v}/abs-link`)).toBe("/etc/shadow");
    expect(statSync(`${v}/hard`).ino).toBe(f.ino);
    expect(new TextDecoder().decode(libcSys.lgetxattr(`${v}/file`, "user.berth")!)).toBe("xattr-value");
    // The image is untouched.
    expect(tree(`${rootfs}/srv/data`)).toEqual(tree(v));
  });

  test("gives the volume the directory's own owner and mode", async () => {
    const v = freshVolume();
    await populateVolume(rootfs, "/srv/data", v);
    const st = statSync(v);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([999, 998, 0o2770]);
  });

  test("an empty directory in the image still gives the volume its owner and mode", async () => {
    const v = freshVolume();
    expect(await populateVolume(rootfs, "/srv/empty", v)).toBe(true);
    const st = statSync(v);
    expect([st.uid, st.gid, st.mode & 0o7777, readdirSync(v)]).toEqual([70, 70, 0o700, []]);
  });

  test("a volume that already has content is left as it is", async () => {
    const v = freshVolume();
    writeFileSync(`${v}/mine`, "mine");
    expect(await populateVolume(rootfs, "/srv/data", v)).toBe(false);
    expect(readdirSync(v)).toEqual(["mine"]);
    const st = statSync(v);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([0, 0, 0o755]);
  });

  test("a path missing from the image, or not a directory, copies nothing", async () => {
    for (const p of ["/srv/missing", "/no/such/dir", "/srv/a-file", "/srv/a-file/below"]) {
      const v = freshVolume();
      expect(await populateVolume(rootfs, p, v), p).toBe(false);
      expect(readdirSync(v), p).toEqual([]);
      const st = statSync(v);
      expect([st.uid, st.gid, st.mode & 0o7777], p).toEqual([0, 0, 0o755]);
    }
  });

  test("a symlink at the mount path is resolved inside the rootfs, never to the host", async () => {
    const abs = freshVolume();
    expect(await populateVolume(rootfs, "/escape-abs", abs)).toBe(true);
    expect(readdirSync(abs)).toEqual(["from-image"]);
    const rel = freshVolume();
    expect(await populateVolume(rootfs, "/escape-rel", rel)).toBe(true);
    expect(readdirSync(rel)).toEqual(["from-image-rel"]);
    // Through a symlinked parent as well.
    const parent = freshVolume();
    mkdirSync(`${rootfs}${work}/outside/nested`);
    writeFileSync(`${rootfs}${work}/outside/nested/inner`, "i");
    mkdirSync(`${work}/outside/nested`);
    expect(await populateVolume(rootfs, "/escape-abs/nested", parent)).toBe(true);
    expect(readdirSync(parent)).toEqual(["inner"]);
    // Nothing was read from or written to the host directory.
    expect(readdirSync(`${work}/outside`).sort()).toEqual(["host-secret", "nested"]);
    expect(readdirSync(`${work}/outside/nested`)).toEqual([]);
  });

  test("writes nothing outside the volume directory", async () => {
    const v = freshVolume();
    const siblingsBefore = readdirSync(`${v}/..`);
    const workBefore = readdirSync(work).sort();
    await populateVolume(rootfs, "/srv/data", v);
    expect(readdirSync(`${v}/..`)).toEqual(siblingsBefore);
    expect(readdirSync(work).sort()).toEqual(workBefore);
    expect(existsSync(`${v}/data`)).toBe(false); // the content, not the directory under its own name
  });
});
