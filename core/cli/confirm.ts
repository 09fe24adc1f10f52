// Docker's confirmation prompt for destructive commands without --force.
import { print } from "./output.ts";

/** Print `warning` and Docker's question; true only when the answer on stdin is y or yes. */
export async function confirm(warning: string): Promise<boolean> {
  print(`${warning}\nAre you sure you want to continue? [y/N] `);
  const reader = Bun.stdin.stream().getReader();
  let line = "";
  try {
    while (!line.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      line += new TextDecoder().decode(value);
    }
  } finally {
    reader.releaseLock();
  }
  return /^y(es)?$/i.test(line.split("\n")[0]!.trim());
}
