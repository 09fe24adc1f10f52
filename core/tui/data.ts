// berth tui's side of the API: following streams (stats, logs, events) over
// the daemon's socket, each closable, and the demultiplexing of log frames.
import type { Client } from "../cli/client.ts";
import { API_PREFIX, queryString } from "../cli/client.ts";

type Query = Record<string, string | number | boolean | undefined>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function failure(res: Response): Promise<ApiError> {
  const text = await res.text();
  let message = text;
  try {
    message = JSON.parse(text).message ?? text;
  } catch {
    // plain text
  }
  return new ApiError(res.status, message.trim() || `HTTP ${res.status}`);
}

/**
 * The API at the CLI's socket, at the version both ends speak: 1.43, or an
 * older daemon's own (a Docker that answers "client version 1.43 is too
 * new. Maximum supported API version is 1.41" is then spoken to as 1.41).
 */
export class Api {
  prefix = API_PREFIX;
  constructor(readonly client: Client) {}

  get socket(): string {
    return this.client.socket;
  }

  /** The first request: starts --root's daemon when none runs (the CLI's Client does), and settles the version. */
  async negotiate(): Promise<void> {
    try {
      await this.client.json("GET", "/version");
    } catch (err) {
      const m = /Maximum supported API version is (\d+\.\d+)/i.exec((err as Error).message);
      if (!m) throw err;
      this.prefix = `/v${m[1]}`;
    }
  }

  url(path: string, query: Query = {}): string {
    return `http://berth${this.prefix}${path}${queryString(query)}`;
  }

  async call(method: string, path: string, query: Query = {}): Promise<Response> {
    const res = await fetch(this.url(path, query), { method, unix: this.socket } as RequestInit);
    if (res.status >= 400) throw await failure(res);
    return res;
  }

  async json<T = unknown>(method: string, path: string, query: Query = {}): Promise<T> {
    const res = await this.call(method, path, query);
    if (res.status === 204 || res.status === 304) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

export interface Follow {
  close(): void;
  /** Resolves when the stream ends (closed, or the daemon ended it). */
  done: Promise<void>;
}

/** GET `path` and hand each chunk of the body to `on` until closed. */
export function follow(api: Api, path: string, query: Query, on: (chunk: Uint8Array) => void, onError?: (err: Error) => void): Follow {
  const abort = new AbortController();
  const done = (async () => {
    try {
      const res = await fetch(api.url(path, query), { unix: api.socket, signal: abort.signal, timeout: false } as RequestInit);
      if (!res.ok) throw await failure(res);
      for await (const chunk of res.body!) on(chunk);
    } catch (err) {
      if (!abort.signal.aborted) onError?.(err as Error);
    }
  })();
  return { close: () => abort.abort(), done };
}

/** Follow a stream of JSON lines (stats, events). */
export function followJsonLines<T>(api: Api, path: string, query: Query, on: (v: T) => void, onError?: (err: Error) => void): Follow {
  const dec = new TextDecoder();
  let buf = "";
  return follow(
    api,
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
