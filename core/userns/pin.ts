// The namespaces of a remapped container, made through berth-userns (a
// single-threaded helper: the daemon cannot enter or make a user namespace
// itself). A container's user namespace is pinned at a file only while it
// starts: its network namespace and its processes keep it alive after.
import { closeSync, openSync, writeFileSync } from "node:fs";
import { failedPrecondition } from "../errors.ts";
import { USERNS_HELPER } from "../location.ts";
import { removeNetns } from "../sys/netns.ts";
import { CLONE, type Sys } from "../sys/index.ts";
import { mapText, type Remap } from "./remap.ts";

function helper(args: string[]) {
  const p = Bun.spawnSync([USERNS_HELPER, ...args], { stdout: "ignore", stderr: "pipe" });
  if (p.exitCode !== 0) throw failedPrecondition(p.stderr.toString().trim() || `berth-userns ${args[0]} exited ${p.exitCode}`);
}

/** A new user namespace with the remap's ranges, pinned at `path`. */
export function pinUserns(sys: Sys, path: string, remap: Remap) {
  writeFileSync(path, "", { mode: 0o444 });
  try {
    helper(["user", path, mapText(remap.uids), mapText(remap.gids)]);
  } catch (err) {
    removeNetns(sys, path);
    throw err;
  }
}

/** Unpin a user namespace (the same as a network namespace's pin). */
export const unpinUserns = removeNetns;

/** A network namespace owned by the user namespace at `userns`, pinned at `path`, loopback up. */
export function createNetnsIn(sys: Sys, userns: string, path: string) {
  writeFileSync(path, "", { mode: 0o444 });
  try {
    helper(["net", userns, path]);
    // Host root may enter it: the daemon's main thread brings lo up, then comes back.
    const original = openSync("/proc/thread-self/ns/net", "r");
    const target = openSync(path, "r");
    try {
      sys.setns(target, CLONE.NEWNET);
      try {
        sys.linkUp("lo");
      } finally {
        sys.setns(original, CLONE.NEWNET);
      }
    } finally {
      closeSync(target);
      closeSync(original);
    }
  } catch (err) {
    removeNetns(sys, path);
    throw err;
  }
}

/** Idmapped mounts, through the user namespace at `userns`: each [source, target]. */
export function idmapMounts(userns: string, pairs: [string, string][]) {
  if (pairs.length) helper(["idmap", userns, ...pairs.flat()]);
}

