// Moving container I/O between the terminal and a hijacked connection:
// demultiplexing Docker's frames, raw terminal mode and resizes.
import type { RawStream } from "./client.ts";
import { print, printErr } from "./output.ts";

/** Read Docker stdcopy frames from `src` and hand each payload to its stream. */
export async function demux(src: AsyncIterable<Uint8Array>, out: (b: Uint8Array) => void, err: (b: Uint8Array) => void) {
  let buf = Buffer.alloc(0);
  for await (const chunk of src) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : Buffer.from(chunk);
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      const payload = buf.subarray(8, 8 + size);
      if (buf[0] === 2) err(payload);
      else out(payload);
      buf = buf.subarray(8 + size);
    }
  }
}

const toStdout = (b: Uint8Array) => print(b);
const toStderr = (b: Uint8Array) => printErr(b);

/** Copy a container's output to this process's stdout and stderr (raw with a tty). */
export async function pumpOutput(sock: RawStream, tty: boolean): Promise<void> {
  if (tty) {
    for await (const chunk of sock) toStdout(chunk);
    return;
  }
  await demux(sock, toStdout, toStderr).catch(() => {});
}

/**
 * Wire the terminal to a container: stdin to the connection (raw mode with
 * a tty), window size changes to `resize`. Returns a function that restores
 * the terminal.
 */
export function connectTerminal(sock: RawStream, opts: { stdin: boolean; tty: boolean; resize?: (rows: number, cols: number) => void }): () => void {
  // process.stdin and process.stdout cost ~15 ms to set up in Bun: only when there is a terminal or input.
  if (!opts.stdin && !opts.tty) return () => {};
  const stdin = process.stdin;
  let restore = () => {};
  if (opts.tty && stdin.isTTY) {
    stdin.setRawMode(true);
    restore = () => stdin.setRawMode(false);
  }
  if (opts.resize && process.stdout.isTTY) {
    const send = () => opts.resize!(process.stdout.rows, process.stdout.columns);
    send();
    process.on("SIGWINCH", send);
  }
  if (opts.stdin) {
    stdin.on("data", (d: Buffer) => sock.write(d));
    stdin.on("end", () => sock.end());
    stdin.resume();
  }
  return () => {
    restore();
    stdin.pause();
  };
}

/** The non-empty lines of a streamed body (JSON lines: events, watch logs), as they come. */
export async function* lines(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  let pending = "";
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    const parts = pending.split("\n");
    pending = parts.pop()!;
    for (const l of parts) if (l.trim()) yield l;
  }
  if (pending.trim()) yield pending;
}
