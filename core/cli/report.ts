import { isBerthError } from "../errors.ts";
import { printErr } from "./output.ts";

/** Print an error the way users should see it: what, where, and what to do. */
export function reportError(err: unknown) {
  if (isBerthError(err)) {
    printErr(`berth: ${err.message}\n${err.hint ? `Hint: ${err.hint}\n` : ""}`);
  } else {
    printErr(`berth: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
}
