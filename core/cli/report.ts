import { BerthError } from "../errors.ts";

/** Print an error the way users should see it: what, where, and what to do. */
export function reportError(err: unknown) {
  if (err instanceof BerthError) {
    process.stderr.write(`berth: ${err.message}\n${err.hint ? `Hint: ${err.hint}\n` : ""}`);
  } else {
    process.stderr.write(`berth: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
}
