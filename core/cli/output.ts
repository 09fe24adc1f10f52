// Writing to the terminal. Synchronous writes to fd 1 and 2: process.stdout
// costs ~25 ms to set up in Bun, a tenth of `berth run`'s budget.
import { readlinkSync, writeSync } from "node:fs";

/** Write all of `text` to `fd`, retrying on a non-blocking pipe's EAGAIN; a closed reader ends it quietly. */
export function writeAll(fd: number, text: string | Uint8Array) {
  const buf = typeof text === "string" ? Buffer.from(text) : text;
  for (let off = 0; off < buf.length; ) {
    try {
      off += writeSync(fd, buf, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EAGAIN") continue; // non-blocking pipe: retry
      if ((err as NodeJS.ErrnoException).code === "EPIPE") return; // reader went away (| head)
      throw err;
    }
  }
}

export const print = (text: string | Uint8Array) => writeAll(1, text);
export const printErr = (text: string | Uint8Array) => writeAll(2, text);

/** Is `fd` a terminal? (node:tty costs ~7 ms to load; /proc says as much.) */
export function isTerminal(fd: number): boolean {
  try {
    return /^\/dev\/(pts\/\d+|tty\w*|console)$/.test(readlinkSync(`/proc/self/fd/${fd}`));
  } catch {
    return false;
  }
}
