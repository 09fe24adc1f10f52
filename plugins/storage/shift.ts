// Shifted copies: a tree chowned by offset, for a remapped container whose
// storage has no shared layers to idmap (vfs: the container's root is its
// own full copy, so shifting it in place costs one walk and no space, and
// files the container makes are owned by the remapped ids on disk too).
import { lchownSync, lstatSync, readdirSync, chmodSync, readFileSync, writeFileSync } from "node:fs";
import type { IdMapping } from "../../core/contracts/storage.ts";
import { toHost, type IdRange } from "../../core/userns/remap.ts";

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;

/** Where `root` was shifted to, as `marker` records it (none: not shifted). */
function shiftedTo(marker: string): { uids: IdRange[]; gids: IdRange[] } | undefined {
  try {
    return JSON.parse(readFileSync(marker, "utf8"));
  } catch {
    return undefined;
  }
}

/** Container id of a host id under `ranges` (ids outside them stay). */
function fromHost(ranges: IdRange[], id: number): number {
  const r = ranges.find((x) => id >= x.host && id < x.host + x.size);
  return r ? r.container + (id - r.host) : id;
}

/** Shift `root` to `idmap`'s ranges, once (the marker file says how it is shifted now). */
export function shiftTree(root: string, marker: string, idmap: IdMapping) {
  const now = shiftedTo(marker);
  const want = { uids: idmap.uids, gids: idmap.gids };
  if (now && JSON.stringify(now) === JSON.stringify(want)) return;
  const uid = (id: number) => toHost(want.uids, now ? fromHost(now.uids, id) : id) ?? 65534;
  const gid = (id: number) => toHost(want.gids, now ? fromHost(now.gids, id) : id) ?? 65534;
  walk(root, (path) => {
    const st = lstatSync(path);
    lchownSync(path, uid(st.uid), gid(st.gid));
    // chown clears set-user/group-ID bits of files: put them back
    if (!st.isSymbolicLink() && st.mode & (S_ISUID | S_ISGID)) chmodSync(path, st.mode & 0o7777);
  });
  writeFileSync(marker, JSON.stringify(want));
}

function walk(path: string, fn: (path: string) => void) {
  fn(path);
  if (!lstatSync(path).isDirectory()) return;
  for (const name of readdirSync(path)) walk(`${path}/${name}`, fn);
}

/** How `marker` says its tree is shifted, as container ids of host ids (undefined: not shifted). */
export function unshifter(marker: string): ((uid: bigint, gid: bigint) => [bigint, bigint]) | undefined {
  const now = shiftedTo(marker);
  if (!now) return undefined;
  return (uid, gid) => [BigInt(fromHost(now.uids, Number(uid))), BigInt(fromHost(now.gids, Number(gid)))];
}
