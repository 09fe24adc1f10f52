// berthd's HTTP server: the Docker Engine API on a unix socket. Paths work
// with and without the /v1.xx prefix; errors carry Docker's status codes and
// {"message": ...} bodies; attach and exec start take over the connection
// ("hijack") when the client asks for `Upgrade: tcp`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { BerthError, type ErrorKind } from "../errors.ts";
import type { Engine } from "../engine/engine.ts";
import { trace } from "../trace.ts";

export const API_VERSION = "1.43";
export const MIN_API_VERSION = "1.24";

export interface Ctx {
  engine: Engine;
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The API version the client asked for (from /v1.xx), or ours. */
  version: string;
  /** The parsed JSON body ({} when empty). */
  body<T = Record<string, unknown>>(): Promise<T>;
  /** The raw request body. */
  stream(): AsyncIterable<Uint8Array>;
  /** For attach and exec start: take over the connection (sends the 101); `tty` picks raw over multiplexed. */
  hijack?: (tty: boolean) => Duplex;
}

export type Handler = (ctx: Ctx) => unknown | Promise<unknown>;
type Route = { method: string; pattern: RegExp; keys: string[]; handler: Handler };

const STATUS: Record<ErrorKind, number> = {
  NotModified: 304,
  NotFound: 404,
  AlreadyExists: 409,
  InvalidArgument: 400,
  NotSupported: 501,
  FailedPrecondition: 409,
  Conflict: 409,
  PermissionDenied: 403,
  Unavailable: 503,
  Internal: 500,
};

export class Router {
  private readonly routes: Route[] = [];

  on(method: string, path: string, handler: Handler) {
    const keys: string[] = [];
    // "{name}" matches one segment; "{name*}" the rest (image names have slashes).
    const pattern = new RegExp(
      `^${path.replace(/\{(\w+)(\*)?\}/g, (_, k: string, rest?: string) => (keys.push(k), rest ? "(.+?)" : "([^/]+)"))}$`,
    );
    this.routes.push({ method, pattern, keys, handler });
  }

  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | undefined {
    for (const r of this.routes) {
      if (r.method !== method && !(method === "HEAD" && r.method === "GET")) continue;
      const m = r.pattern.exec(path);
      if (m) return { handler: r.handler, params: Object.fromEntries(r.keys.map((k, i) => [k, decodeURIComponent(m[i + 1]!)])) };
    }
    return undefined;
  }
}

export function json(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

export function errorStatus(err: unknown): number {
  return err instanceof BerthError ? STATUS[err.kind] : 500;
}

/** What a client is told of an error (and the daemon's log of an unexpected one). */
export function errorMessage(err: unknown): string {
  if (err instanceof BerthError) return err.message + (err.hint ? ` (${err.hint})` : "");
  console.error("berthd:", err);
  return `internal error: ${err instanceof Error ? err.message : String(err)}`;
}

function sendError(res: ServerResponse, err: unknown) {
  const status = errorStatus(err);
  if (res.headersSent) return void res.destroy();
  if (status === 304) {
    res.writeHead(304);
    return void res.end();
  }
  json(res, status, { message: errorMessage(err) });
}

const VERSIONED = /^\/v(\d+\.\d+)(\/.*)$/;

function commonHeaders(res: { setHeader(k: string, v: string): void }) {
  res.setHeader("Api-Version", API_VERSION);
  res.setHeader("Docker-Experimental", "false");
  res.setHeader("Ostype", "linux");
  res.setHeader("Server", `berth/${API_VERSION} (linux)`);
}

function makeCtx(engine: Engine, req: IncomingMessage, res: ServerResponse, params: Record<string, string>, version: string, query: URLSearchParams): Ctx {
  let bodyPromise: Promise<Buffer> | undefined;
  const readAll = () =>
    (bodyPromise ??= (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    })());
  return {
    engine,
    req,
    res,
    params,
    query,
    version,
    async body<T>() {
      const raw = await readAll();
      if (raw.length === 0) return {} as T;
      try {
        return JSON.parse(raw.toString("utf8")) as T;
      } catch (err) {
        throw new BerthError("InvalidArgument", `invalid JSON in the request body: ${(err as Error).message}`);
      }
    },
    stream: () => req as unknown as AsyncIterable<Uint8Array>,
  };
}

function parse(url: string): { path: string; version: string; query: URLSearchParams } {
  const q = url.indexOf("?");
  let path = q < 0 ? url : url.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
  let version = API_VERSION;
  const v = VERSIONED.exec(path);
  if (v) {
    version = v[1]!;
    path = v[2]!;
  }
  return { path: path.replace(/\/+$/, "") || "/", version, query };
}

export function createApiServer(engine: Engine, router: Router): Server {
  const server = createServer(async (req, res) => {
    trace(`api: ${req.method} ${req.url}`);
    commonHeaders(res);
    const { path, version, query } = parse(req.url ?? "/");
    if (Number(version.split(".")[1]) < Number(MIN_API_VERSION.split(".")[1])) {
      return json(res, 400, { message: `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version` });
    }
    const route = router.match(req.method ?? "GET", path);
    if (!route) return json(res, 404, { message: `page not found: ${req.method} ${path}` });
    try {
      await route.handler(makeCtx(engine, req, res, route.params, version, query));
    } catch (err) {
      sendError(res, err);
    }
  });
  // attach and exec start: Docker's hijacked connection.
  server.on("upgrade", async (req: IncomingMessage, socket: Duplex) => {
    const { path, version, query } = parse(req.url ?? "/");
    const route = router.match(req.method ?? "POST", path);
    const fail = (status: number, message: string) => {
      const body = JSON.stringify({ message });
      socket.end(`HTTP/1.1 ${status} ${status === 404 ? "Not Found" : "Error"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    if (!route) return fail(404, `page not found: ${req.method} ${path}`);
    let upgraded = false;
    const fakeRes = {
      headersSent: false,
      setHeader() {},
      writeHead() {},
      end() {},
    } as unknown as ServerResponse;
    const ctx = makeCtx(engine, req, fakeRes, route.params, version, query);
    ctx.hijack = (tty: boolean) => {
      if (!upgraded) {
        upgraded = true;
        socket.write(
          `HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.${tty ? "raw" : "multiplexed"}-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ${API_VERSION}\r\n\r\n`,
        );
      }
      return socket;
    };
    try {
      await route.handler(ctx);
    } catch (err) {
      if (upgraded) socket.destroy();
      else fail(errorStatus(err), err instanceof BerthError ? err.message : String(err));
    }
  });
  server.keepAliveTimeout = 60_000;
  return server;
}
