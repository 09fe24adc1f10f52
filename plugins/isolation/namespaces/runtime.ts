// The runtime a container's init runs as: the host's Bun, seen through a
// read-only bind mount. The init is inside the container until it execve's
// the command, and a command can be /proc/self/exe (or a #!/proc/self/exe
// script) which re-executes that runtime there, dumpable, in the container's
// hands. Opened for writing through /proc/<pid>/exe, a file reached by a
// read-only mount answers EROFS: the host's runtime cannot be overwritten,
// even once no Bun runs (CVE-2019-5736; runc runs a sealed copy instead).
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from "node:fs";
import { parseMountinfo } from "../../../core/host.ts";
import { MS, type Sys } from "../../../core/sys/index.ts";

/** Bind `binary` read-only at `<dir>/bun` (once per daemon root; an existing, current one is kept). Returns the path to run. */
export function readOnlyRuntime(binary: string, dir: string, sys: Sys): string {
  const target = `${dir}/bun`;
  // Searchable by all: under --userns-remap the monitor runs it as a remapped root.
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  chmodSync(dir, 0o711);
  const mounted = parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8")).some((m) => m.mountpoint === target);
  if (mounted) {
    // Left by an earlier daemon: keep it if it still shows this binary, else mount again.
    const same = statSync(target).ino === statSync(binary).ino && statSync(target).dev === statSync(binary).dev;
    if (same) return target;
    sys.umount(target, 2 /* MNT_DETACH */);
  }
  if (!existsSync(target)) closeSync(openSync(target, "w", 0o500));
  sys.mount(binary, target, null, MS.BIND);
  sys.mount(null, target, null, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV);
  return target;
}

/** The daemon stops: take its view away (a daemon killed outright leaves it for the next to reuse). */
export function releaseRuntime(dir: string, sys: Sys): void {
  const target = `${dir}/bun`;
  if (parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8")).some((m) => m.mountpoint === target)) sys.umount(target, 2 /* MNT_DETACH */);
}
