// berth tui's side of the API: following streams (stats, logs, events) over
// the daemon's socket, each closable, and the demultiplexing of log frames.
import type { Client } from "../cli/client.ts";
import { API_PREFIX, queryString } from "../cli/client.ts";

export interface Follow {
  close(): void;
  /** Resolves when the stream ends (closed, or the daemon ended it). */
  done: Promise<void>;
}

/** GET `path` and hand each chunk of the body to `on` until closed. */
export function follow(client: Client, path: string, query: Record<string, string | number | boolean>, on: (chunk: Uint8Array) => void, onError?: (err: Error) => void): Follow {
  const abort = new AbortController();
  const done = (async () => {
    try {
      const res = await fetch(`http://berth${API_PREFIX}${path}${queryString(query)}`, { unix: client.socket, signal: abort.signal } as RequestInit);
      if (!res.ok) {
        const text = await res.text();
        let message = text;
        try {
          message = JSON.parse(text).message ?? text;
        } catch {
          // plain text
        }
        throw new Error(message || `HTTP ${res.status}`);
      }
      for await (const chunk of res.body!) on(chunk);
    } catch (err) {
      if (!abort.signal.aborted) onError?.(err as Error);
    }
  })();
  return { close: () => abort.abort(), done };
}

/** Follow a stream of JSON lines (stats, events). */
export function followJsonLines<T>(client: Client, path: string, query: Record<string, string | number | boolean>, on: (v: T) => void, onError?: (err: Error) => void): Follow {
  const dec = new TextDecoder();
  let buf = "";
  return follow(
    client,
    path,
    query,
    (chunk) => {
      buf += dec.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        try {
          on(JSON.parse(line) as T);
        } catch {
          // a torn line: skip
        }
      }
    },
    onError,
  );
}

/** Docker's stdcopy frames, incrementally: push chunks, get payloads. */
export class Demux {
  private buf = Buffer.alloc(0);
  push(chunk: Uint8Array): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    const out: Buffer[] = [];
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      out.push(this.buf.subarray(8, 8 + size));
      this.buf = this.buf.subarray(8 + size);
    }
    return out;
  }
}
