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

export class Client {
  constructor(readonly socket: string) {}

  /** A request; non-2xx answers (other than 304) throw a BerthError with the daemon's message. */
  async call(method: string, path: string, opts: { query?: Query; json?: unknown; body?: RequestInit["body"]; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...opts.headers };
    let body = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers["Content-Type"] = "application/json";
    }
    let res: Response;
    try {
      res = await fetch(`http://berth${API_PREFIX}${path}${queryString(opts.query)}`, { method, unix: this.socket, body, headers } as RequestInit);
    } catch (err) {
      throw new BerthError("Unavailable", `cannot reach berthd at unix://${this.socket}: ${(err as Error).message}`, "is the daemon running? (berthd --root ...)");
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
      const res = await fetch(`http://berth/_ping`, { unix: this.socket } as RequestInit);
      return res.ok;
    } catch {
      return false;
    }
  }

  /** POST with `Upgrade: tcp`; resolves to the raw connection once the daemon answers 101. */
  async hijack(path: string, opts: { query?: Query; json?: unknown } = {}): Promise<import("node:net").Socket> {
    const { connect } = await import("node:net");
    const sock = connect(this.socket);
    const body = opts.json === undefined ? "" : JSON.stringify(opts.json);
    await new Promise<void>((resolve, reject) => {
      sock.once("connect", resolve);
      sock.once("error", (err) => reject(new BerthError("Unavailable", `cannot reach berthd at unix://${this.socket}: ${err.message}`)));
    });
    sock.write(
      `POST ${API_PREFIX}${path}${queryString(opts.query)} HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // Read the response head; anything after it is the stream's first bytes.
    let head = Buffer.alloc(0);
    const rest: Buffer = await new Promise((resolve, reject) => {
      const onData = (d: Buffer) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        sock.off("data", onData);
        sock.pause();
        resolve(head.subarray(end + 4));
        head = head.subarray(0, end);
      };
      sock.on("data", onData);
      sock.once("close", () => reject(new BerthError("Unavailable", "berthd closed the connection")));
    });
    const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head.toString())?.[1] ?? 0);
    if (status !== 101) {
      let text = rest.toString();
      await new Promise<void>((r) => {
        sock.on("data", (d) => (text += d.toString()));
        sock.once("end", r);
        sock.once("close", r);
        sock.resume();
      });
      let message = text;
      try {
        message = JSON.parse(text).message ?? text;
      } catch {
        // plain text
      }
      throw new BerthError(KIND_OF_STATUS[status] ?? "Internal", message);
    }
    if (rest.length) sock.unshift(rest);
    return sock;
  }
}
