// Network namespaces that outlive any process: bind-mounted nsfs files,
// as `ip netns add` makes them. The engine creates one per container
// before the container starts, so network drivers can configure it first.
import { closeSync, openSync, rmSync, writeFileSync } from "node:fs";
import { CLONE, MNT_DETACH, MS, type Sys } from "./index.ts";
import { SysError } from "../errors.ts";

/** Create a new network namespace with loopback up, pinned at `path`. */
export function createNetns(sys: Sys, path: string) {
  writeFileSync(path, "", { mode: 0o444 });
  // Namespaces are per thread: enter a new one on this (the main) thread,
  // pin it, and return to the original before anything else runs here.
  const original = openSync("/proc/thread-self/ns/net", "r");
  try {
    sys.unshare(CLONE.NEWNET);
    try {
      sys.mount("/proc/thread-self/ns/net", path, null, MS.BIND);
      sys.linkUp("lo");
    } finally {
      sys.setns(original, CLONE.NEWNET);
    }
  } catch (err) {
    removeNetns(sys, path);
    throw err;
  } finally {
    closeSync(original);
  }
}

/** Unpin and delete a namespace file; a missing one is fine. */
export function removeNetns(sys: Sys, path: string) {
  try {
    sys.umount(path, MNT_DETACH);
  } catch (err) {
    if (!(err instanceof SysError && (err.code === "EINVAL" || err.code === "ENOENT"))) throw err;
  }
  rmSync(path, { force: true });
}
