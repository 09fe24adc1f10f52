// A look into an image's root filesystem while a build step needs it (is
// <dest> a directory? who is "app" in /etc/passwd? the files of COPY
// --from): a throwaway writable layer, mounted, removed afterwards. A crash
// in between leaves a writable layer of no container, which the next
// daemon start removes.
import { lstatSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { randomHex } from "../ids.ts";
import { resolveInRoot } from "../paths.ts";
import type { Engine } from "../engine/engine.ts";
import type { ImageRecord } from "../engine/types.ts";
import type { InImage, Owner } from "./copy.ts";
import { invalidArgument } from "../errors.ts";

/** Run `use` with the host path of `image`'s root filesystem (an empty directory for scratch). */
export async function withImageRoot<T>(engine: Engine, image: ImageRecord | null, use: (root: string) => Promise<T> | T): Promise<T> {
  if (!image) {
    const empty = mkdtempSync(`${engine.root}/tmp/scratch-`);
    try {
      return await use(empty);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  }
  const images = await engine.images();
  const storage = await engine.storage();
  const top = await images.ensureUnpacked(image);
  const id = `build-${randomHex(16)}`;
  await storage.createWritable(id, top);
  try {
    return await use(await storage.mount(id));
  } finally {
    await storage.removeWritable(id);
  }
}

/** What a path is inside a mounted root (symlinks followed inside it). */
export function inRoot(root: string): InImage {
  return (path) => {
    try {
      return lstatSync(resolveInRoot(root, path)).isDirectory() ? "dir" : "other";
    } catch {
      return null;
    }
  };
}

/**
 * --chown's "user[:group]" in a root: names from its /etc/passwd and
 * /etc/group, numbers as they are; a user without a group gets the same
 * number as its group (Docker's rule).
 */
export function chownOwner(spec: string, root: string): Owner {
  const [user = "", group] = spec.split(":", 2);
  const read = (f: string) => {
    try {
      return readFileSync(resolveInRoot(root, f), "utf8");
    } catch {
      return "";
    }
  };
  const lookup = (name: string, file: string, what: string): number => {
    if (/^\d+$/.test(name)) return Number(name);
    const line = read(file).split("\n").find((l) => l.split(":")[0] === name);
    if (!line) throw invalidArgument(`unable to convert ${what} "${name}" to an id: no such ${what} in ${file}`, "use a numeric id, or create the user first (RUN adduser ...)");
    return Number(line.split(":")[2]);
  };
  if (user === "") throw invalidArgument(`--chown: no user in "${spec}"`);
  const uid = lookup(user, "/etc/passwd", "user");
  return { uid, gid: group === undefined || group === "" ? uid : lookup(group, "/etc/group", "group") };
}
