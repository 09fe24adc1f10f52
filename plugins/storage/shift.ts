// Shifted copies: a tree chowned by offset, for a remapped container whose
// storage has no shared layers to idmap (vfs: the container's root is its
// own full copy, so shifting it in place costs one walk and no space, and
// files the container makes are owned by the remapped ids on disk too).
import { lchownSync, lstatSync, readdirSync, chmodSync, readFileSync, writeFileSync } from "node:fs";
import type { IdMapping } from "../../core/contracts/storage.ts";
import { fromHost, toHost, type IdRange } from "../../core/userns/remap.ts";

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


/** Shift `root` to `idmap`'s ranges, once (the marker file says how it is shifted now). */
export function shiftTree(root: string, marker: string, idmap: IdMapping) {
  const now = shiftedTo(marker);
  const want = { uids: idmap.uids, gids: idmap.gids };
  if (now && JSON.stringify(now) === JSON.stringify(want)) return;
  // Not shifted yet, an id already in the range (docker cp into a created container wrote it so) stays.
  const inRange = (ranges: IdRange[], id: number) => ranges.some((r) => id >= r.host && id < r.host + r.size);
  const shift = (ranges: IdRange[], old: IdRange[] | undefined, id: number) =>
    !old && inRange(ranges, id) ? id : (toHost(ranges, old ? fromHost(old, id) : id) ?? toHost(ranges, 65534) ?? id);
  const uid = (id: number) => shift(want.uids, now?.uids, id);
  const gid = (id: number) => shift(want.gids, now?.gids, id);
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
