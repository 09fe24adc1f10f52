// berthd's HTTP server: the Docker Engine API (its listeners: listen.ts). Paths work
// with and without the /v1.xx prefix; errors carry Docker's status codes and
// {"message": ...} bodies; attach and exec start take over the connection
// ("hijack") when the client asks for `Upgrade: tcp`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { BerthError, type ErrorKind } from "../errors.ts";
import type { Engine } from "../engine/engine.ts";
import { trace } from "../trace.ts";
import { runAs, type Requester } from "../owner.ts";
import { peerOf, userName, type Peer } from "./peer.ts";
import { validateBody, type SchemaName } from "./validate.ts";

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
  /** Who sent the request: the unix client's uid or the TLS client's CN. */
  peer: Peer;
  /** The parsed JSON body ({} when empty), checked against schemas/api/<schema>.json when given. */
  body<T = Record<string, unknown>>(schema?: SchemaName): Promise<T>;
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
      if (m) return { handler: r.handler, params: Object.fromEntries(r.keys.map((k, i) => [k, pathParam(m[i + 1]!)])) };
    }
    return undefined;
  }
}

/** A path segment, %-decoded; bad escapes and control characters are a 400, not a lookup. */
function pathParam(raw: string): string {
  let v: string;
  try {
    v = decodeURIComponent(raw);
  } catch {
    throw new BerthError("InvalidArgument", `invalid %-escape in the path: ${JSON.stringify(raw.slice(0, 100))}`);
  }
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new BerthError("InvalidArgument", `invalid character in the path: ${JSON.stringify(v.slice(0, 100))}`);
  return v;
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

/**
 * The most a JSON body may hold. Docker sets no limit; the largest real
 * bodies (a create with many mounts and env, a compose load) are tens of KiB.
 * Streamed bodies (image load, build context, archive PUT) are not bounded.
 */
export const MAX_JSON_BODY = 10 * 1024 * 1024;

/** An oversized or broken body: answered, then the connection closed (the rest of the body is not read). */
function badBody(res: ServerResponse, message: string): BerthError {
  if (!res.headersSent) res.setHeader("Connection", "close");
  res.once("finish", () => res.socket?.destroy());
  return new BerthError("InvalidArgument", message);
}

function makeCtx(engine: Engine, req: IncomingMessage, res: ServerResponse, params: Record<string, string>, version: string, query: URLSearchParams): Ctx {
  let bodyPromise: Promise<Buffer> | undefined;
  const readAll = () =>
    (bodyPromise ??= (async () => {
      const length = Number(req.headers["content-length"] ?? 0);
      if (length > MAX_JSON_BODY) throw badBody(res, `request body too large: ${length} bytes; a JSON body may have at most ${MAX_JSON_BODY} bytes`);
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const c of req) {
          size += (c as Buffer).length;
          if (size > MAX_JSON_BODY) throw badBody(res, `request body too large: over ${MAX_JSON_BODY} bytes; a JSON body may have at most ${MAX_JSON_BODY} bytes`);
          chunks.push(c as Buffer);
        }
      } catch (err) {
        if (err instanceof BerthError) throw err;
        throw new BerthError("InvalidArgument", `the request body ended early: ${(err as Error).message}`); // the client went away
      }
      return Buffer.concat(chunks);
    })());
  return {
    engine,
    req,
    res,
    params,
    query,
    version,
    peer: peerOf(req.socket) ?? { uid: 65534 },
    async body<T>(schema?: SchemaName) {
      const raw = await readAll();
      if (raw.length === 0) return {} as T;
      // Docker's CheckForJSON, except that berth lets a body without a Content-Type pass.
      const type = req.headers["content-type"];
      if (schema && type && !/^application\/(.+\+)?json\b/i.test(type)) {
        throw new BerthError("InvalidArgument", `unsupported Content-Type header (${type}): must be 'application/json'`);
      }
      let text: string;
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
      } catch {
        throw new BerthError("InvalidArgument", "invalid JSON in the request body: it is not UTF-8");
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new BerthError("InvalidArgument", `invalid JSON in the request body: ${(err as Error).message}`);
      }
      return schema ? validateBody<T>(schema, parsed) : (parsed as T);
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

/** The request's client as the engine sees it: its Owner, and whether it is root. */
function requesterOf(peer: Peer, scoped: boolean): Requester {
  if (peer.uid !== undefined) return { owner: { Uid: peer.uid, User: userName(peer.uid) }, root: peer.uid === 0, scoped };
  return { owner: { User: peer.cn ?? "", CN: peer.cn ?? "" }, root: false, scoped };
}

export interface ServerOptions {
  /** berthd --owner-scope: clients other than root see only their own objects. */
  ownerScope?: boolean;
}

export function createApiServer(engine: Engine, router: Router, opts: ServerOptions = {}): Server {
  const scoped = !!opts.ownerScope;
  const server = createServer(async (req, res) => {
    trace(`api: ${req.method} ${req.url}`);
    commonHeaders(res);
    const { path, version, query } = parse(req.url ?? "/");
    if (Number(version.split(".")[1]) < Number(MIN_API_VERSION.split(".")[1])) {
      return json(res, 400, { message: `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version` });
    }
    try {
      const route = router.match(req.method ?? "GET", path);
      if (!route) return json(res, 404, { message: `page not found: ${req.method} ${path}` });
      const ctx = makeCtx(engine, req, res, route.params, version, query);
      await runAs(requesterOf(ctx.peer, scoped), () => route.handler(ctx));
    } catch (err) {
      sendError(res, err);
    }
  });
  // attach and exec start: Docker's hijacked connection.
  server.on("upgrade", async (req: IncomingMessage, socket: Duplex, head?: Buffer) => {
    const { path, version, query } = parse(req.url ?? "/");
    let paused: boolean;
    try {
      paused = await skipBody(socket, head, Number(req.headers["content-length"] ?? 0) || 0);
    } catch {
      return void socket.destroy();
    }
    const fail = (status: number, message: string) => {
      const body = JSON.stringify({ message });
      socket.end(`HTTP/1.1 ${status} ${status === 404 ? "Not Found" : "Error"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    let route;
    try {
      route = router.match(req.method ?? "POST", path);
    } catch (err) {
      return fail(errorStatus(err), errorMessage(err));
    }
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
      // When skipBody had to read (and so pause) it: it flows again from the next tick, once the caller listens.
      if (paused) {
        paused = false;
        socket.resume();
      }
      return socket;
    };
    try {
      await runAs(requesterOf(ctx.peer, scoped), () => route.handler(ctx));
    } catch (err) {
      if (upgraded) socket.destroy();
      else fail(errorStatus(err), err instanceof BerthError ? err.message : String(err));
    }
  });
  server.keepAliveTimeout = 60_000;
  return server;
}

const BODY_TIMEOUT_MS = 60_000;

/**
 * A hijacking request's own body (exec start's {"Detach":false,"Tty":false})
 * comes before the stream, with the head or in packets of its own: take it
 * off, and give back what follows it (stdin the client sent at once).
 * Says whether it read (and so paused) the socket: a socket never read
 * keeps what comes until its consumer listens, however late (an attach
 * waits for its container's start).
 * (berthd hands the HTTP server its connections, see listen.ts: the parser
 * leaves a hijacking request's body to the upgrade.)
 */
async function skipBody(socket: Duplex, head: Buffer | undefined, length: number): Promise<boolean> {
  let have = head?.length ? Buffer.from(head) : Buffer.alloc(0);
  const read = have.length < length;
  if (read) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error("the request body did not come")), BODY_TIMEOUT_MS);
      const onData = (chunk: Buffer) => {
        have = Buffer.concat([have, chunk]);
        if (have.length >= length) done();
      };
      const onEnd = () => done(new Error("the connection ended inside the request body"));
      const done = (err?: Error) => {
        clearTimeout(timer);
        socket.off("data", onData).off("end", onEnd).off("error", onEnd);
        socket.pause();
        if (err) reject(err);
        else resolve();
      };
      socket.on("data", onData).on("end", onEnd).on("error", onEnd);
    });
  }
  const rest = have.subarray(length);
  if (rest.length) socket.unshift(rest);
  return read;
}
