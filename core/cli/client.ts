// The CLI's side of the API: HTTP over berthd's unix socket. Errors come
// back as BerthErrors of the kind matching the status (404 NotFound, ...);
// attach and exec use a hijacked connection (Upgrade: tcp).
import { BerthError, type ErrorKind } from "../errors.ts";

export const API_PREFIX = "/v1.43";

type Query = Record<string, string | number | boolean | string[] | undefined | null>;

const KIND_OF_STATUS: Record<number, ErrorKind> = {
  304: "NotModified",
  400: "InvalidArgument",
  403: "PermissionDenied",
  404: "NotFound",
  409: "Conflict",
  501: "NotSupported",
  503: "Unavailable",
};

export function queryString(q: Query = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === false) continue;
    if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else p.set(k, v === true ? "1" : String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

/** A daemon over TCP (-H tcp://...), with TLS as docker's --tls/--tlsverify. */
export interface Remote {
  host: string;
  port: number;
  /** TLS settings (the PEM contents); none for plain HTTP. */
  tls?: { ca?: string; cert?: string; key?: string; verify: boolean };
}

export class Client {
  /**
   * @param socket the daemon's unix socket ("" with `remote`)
   * @param startDaemon called when nothing answers on the socket, to start
   *   the daemon there (the CLI's first use); the request is then retried.
   * @param remote a daemon over TCP instead of the socket
   */
  constructor(
    readonly socket: string,
    private startDaemon?: () => Promise<void>,
    readonly remote?: Remote,
  ) {}

  /** Where requests go: "unix:///path" or "tcp://host:port". */
  get address(): string {
    return this.remote ? `tcp://${this.remote.host.includes(":") ? `[${this.remote.host}]` : this.remote.host}:${this.remote.port}` : `unix://${this.socket}`;
  }

  private get base(): string {
    if (!this.remote) return "http://berth";
    const host = this.remote.host.includes(":") ? `[${this.remote.host}]` : this.remote.host;
    return `${this.remote.tls ? "https" : "http"}://${host}:${this.remote.port}`;
  }

  /** fetch's options for the daemon's transport. */
  private get transport(): Record<string, unknown> {
    if (!this.remote) return { unix: this.socket };
    return this.remote.tls ? { tls: tlsOptions(this.remote.tls) } : {};
  }

  private async ensureDaemon(err: unknown): Promise<void> {
    const starter = this.startDaemon;
    if (!starter) {
      const hint = this.remote ? "is berthd listening there, and are --tlscacert, --tlscert and --tlskey right?" : "is the daemon running? (berthd --root ...)";
      throw new BerthError("Unavailable", `cannot reach berthd at ${this.address}: ${(err as Error).message}`, hint);
    }
    this.startDaemon = undefined; // once
    await starter();
  }

  /** A request; non-2xx answers (other than 304) throw a BerthError with the daemon's message. */
  async call(method: string, path: string, opts: { query?: Query; json?: unknown; body?: RequestInit["body"]; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...opts.headers };
    let body = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers["Content-Type"] = "application/json";
    }
    const url = `${this.base}${API_PREFIX}${path}${queryString(opts.query)}`;
    let res: Response;
    // No idle limit (Bun's fetch gives up after 5 silent minutes): wait, logs -f and events may be quiet for hours.
    try {
      res = await fetch(url, { method, ...this.transport, body, headers, timeout: false } as RequestInit);
    } catch (err) {
      await this.ensureDaemon(err);
      res = await fetch(url, { method, ...this.transport, body, headers, timeout: false } as RequestInit);
    }
    if (res.status >= 400) {
      const text = await res.text();
      let message = text;
      try {
        message = JSON.parse(text).message ?? text;
      } catch {
        // not JSON: keep the text
      }
      throw new BerthError(KIND_OF_STATUS[res.status] ?? "Internal", message || `HTTP ${res.status}`);
    }
    return res;
  }

  async json<T = unknown>(method: string, path: string, opts: Parameters<Client["call"]>[2] = {}): Promise<T> {
    const res = await this.call(method, path, opts);
    if (res.status === 204 || res.status === 304) return undefined as T;
    return (await res.json()) as T;
  }

  /** Is a daemon answering on the socket? */
  async ping(): Promise<boolean> {
    try {
      const res = await fetch(`${this.base}/_ping`, this.transport as RequestInit);
      return res.ok;
    } catch {
      return false;
    }
  }

  /** POST with `Upgrade: tcp`; resolves to the raw connection once the daemon answers 101. */
  async hijack(path: string, opts: { query?: Query; json?: unknown } = {}): Promise<RawStream> {
    const body = opts.json === undefined ? "" : JSON.stringify(opts.json);
    const connect = () => (this.remote ? RawStream.connectRemote(this.remote) : RawStream.connect(this.socket));
    const stream = await connect().catch(async (err) => {
      await this.ensureDaemon(err);
      return connect();
    });
    stream.write(
      `POST ${API_PREFIX}${path}${queryString(opts.query)} HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    const { status, rest } = await stream.readHead();
    if (status !== 101) {
      let text = Buffer.from(rest).toString();
      for await (const chunk of stream) text += Buffer.from(chunk).toString();
      let message = text;
      try {
        message = JSON.parse(text.slice(text.indexOf("{"))).message ?? text;
      } catch {
        // plain text
      }
      throw new BerthError(KIND_OF_STATUS[status] ?? "Internal", message);
    }
    return stream;
  }
}

/** Bun's TLS options of a Remote; without --tlsverify the daemon's certificate is not checked (docker's --tls). */
function tlsOptions(t: NonNullable<Remote["tls"]>): Record<string, unknown> {
  return { ca: t.ca, cert: t.cert, key: t.key, rejectUnauthorized: t.verify };
}

/**
 * A raw connection on Bun's native sockets (node:net costs ~12 ms to load,
 * a sixth of `berth run`): write bytes, read them as an async iterable.
 */
export class RawStream implements AsyncIterable<Uint8Array> {
  private socket!: import("bun").Socket<undefined>;
  private chunks: Uint8Array[] = [];
  private wake?: () => void;
  private ended = false;
  private pending: Uint8Array[] = [];

  static connect(path: string): Promise<RawStream> {
    return RawStream.open({ unix: path }, `unix://${path}`);
  }

  static connectRemote(remote: Remote): Promise<RawStream> {
    const where = { hostname: remote.host, port: remote.port, ...(remote.tls ? { tls: tlsOptions(remote.tls) } : {}) };
    return RawStream.open(where, `tcp://${remote.host}:${remote.port}`);
  }

  private static async open(where: Record<string, unknown>, name: string): Promise<RawStream> {
    const s = new RawStream();
    try {
      s.socket = await Bun.connect({
        ...(where as { unix: string }),
        socket: {
          data: (_sock, data) => s.push(new Uint8Array(data)),
          close: () => s.finish(),
          end: () => s.finish(),
          error: () => s.finish(),
          drain: (sock) => s.flush(sock),
        },
      });
    } catch (err) {
      throw new BerthError("Unavailable", `cannot reach berthd at ${name}: ${(err as Error).message}`);
    }
    return s;
  }

  private push(data: Uint8Array) {
    this.chunks.push(data);
    this.wake?.();
  }

  private finish() {
    this.ended = true;
    this.wake?.();
  }

  private flush(sock: import("bun").Socket<undefined>) {
    while (this.pending.length) {
      const next = this.pending[0]!;
      const n = sock.write(next);
      if (n < next.length) {
        this.pending[0] = next.subarray(n);
        return;
      }
      this.pending.shift();
    }
  }

  write(data: string | Uint8Array) {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    if (this.pending.length) return void this.pending.push(bytes);
    const n = this.socket.write(bytes);
    if (n < bytes.length) this.pending.push(bytes.subarray(n));
  }

  /** Close our side for writing (stdin ended). */
  end() {
    if (this.pending.length) setTimeout(() => this.end(), 5);
    else this.socket.shutdown();
  }

  destroy() {
    this.socket.end();
  }

  /** The HTTP response head: its status, and whatever of the stream came with it. */
  async readHead(): Promise<{ status: number; rest: Uint8Array }> {
    let head = Buffer.alloc(0);
    for (;;) {
      const chunk = await this.next();
      if (!chunk) throw new BerthError("Unavailable", "berthd closed the connection");
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) continue;
      const rest = head.subarray(end + 4);
      if (rest.length) this.chunks.unshift(rest);
      return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head.toString("latin1"))?.[1] ?? 0), rest };
    }
  }

  private async next(): Promise<Uint8Array | undefined> {
    while (this.chunks.length === 0) {
      if (this.ended) return undefined;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
    return this.chunks.shift();
  }

  async *[Symbol.asyncIterator]() {
    for (;;) {
      const c = await this.next();
      if (!c) return;
      yield c;
    }
  }
}
