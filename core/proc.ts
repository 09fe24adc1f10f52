// Reading processes from /proc.
import { readFileSync } from "node:fs";

/** The start time (clock ticks after boot, field 22 of /proc/PID/stat) of a live process. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z") return undefined; // a zombie has ended
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/** Is `pid` still the process that started at `startTime`? */
export function isSameProcess(pid: number, startTime: number | undefined): boolean {
  if (pid <= 0) return false;
  const now = processStartTime(pid);
  return now !== undefined && (startTime === undefined || now === startTime);
}
