// Resolving a path inside a root directory as if that directory were "/".
// Used wherever berth touches a container's filesystem from the host
// (mount points, layer entries, copies), so that a symlink planted in the
// container can never lead outside of it.
import { lstatSync, readlinkSync } from "node:fs";
import { BerthError } from "./errors.ts";

const MAX_HOPS = 40;

/**
 * The host path of `path` inside `root`. Symlinks met on the way are
 * resolved within root: absolute targets restart at root, ".." stops at
 * root. The last component is followed too unless `followFinal` is false.
 * Components that do not exist are kept as they are.
 */
export function resolveInRoot(root: string, path: string, followFinal = true): string {
  const rootClean = root.replace(/\/+$/, "") || "/";
  let pending = splitPath(path);
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const candidate = join(rootClean, [...resolved, part]);
    const isLast = pending.length === 0;
    if (isLast && !followFinal) {
      resolved.push(part);
      break;
    }
    let target: string | undefined;
    try {
      if (lstatSync(candidate).isSymbolicLink()) target = readlinkSync(candidate);
    } catch {
      // Missing: keep the rest literally.
    }
    if (target === undefined) {
      resolved.push(part);
      continue;
    }
    if (++hops > MAX_HOPS) {
      throw new BerthError("InvalidArgument", `too many levels of symbolic links resolving ${path} in ${root}`);
    }
    if (target.startsWith("/")) resolved.length = 0;
    pending = [...splitPath(target), ...pending];
  }
  return join(rootClean, resolved);
}

/** Path components without "", "." (leading "/" ignored). */
export function splitPath(p: string): string[] {
  return p.split("/").filter((c) => c !== "" && c !== ".");
}

function join(root: string, parts: string[]): string {
  if (parts.length === 0) return root;
  return `${root === "/" ? "" : root}/${parts.join("/")}`;
}
