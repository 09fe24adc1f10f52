// The shape of `berth stop a b c`: act on each name in turn, print each
// name that worked, report each failure, fail if any failed.
import { print } from "./output.ts";
import { reportError } from "./report.ts";

export async function forEach(names: string[], act: (name: string) => Promise<unknown>, echo = true): Promise<number> {
  let failed = false;
  for (const name of names) {
    try {
      await act(name);
      if (echo) print(`${name}\n`);
    } catch (err) {
      reportError(err);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

export const enc = encodeURIComponent;
