// berthd's listeners, as dockerd's -H: unix sockets (root:root 0660, or
// root:<group> with -G) and TCP, which must be TLS with client
// certificates verified against --tlscacert. Connections are accepted here
// and handed to the HTTP server, each tagged with its peer (uid or cert CN).
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import net from "node:net";
import { dirname } from "node:path";
import tls from "node:tls";
import { invalidArgument } from "../errors.ts";
import { trace } from "../trace.ts";
import { groupId, peerCred, tagPeer } from "./peer.ts";

export type Host = { kind: "unix"; path: string } | { kind: "tcp"; host: string; port: number };

/** Docker's default TLS port (tcp://host without one). */
export const DEFAULT_TLS_PORT = 2376;

/** A -H value: unix:///path, /path, tcp://host:port, tcp://host (port 2376). */
export function parseHost(spec: string): Host {
  if (spec.startsWith("unix://")) {
    const path = spec.slice("unix://".length);
    if (!path.startsWith("/")) throw invalidArgument(`invalid -H ${spec}: a unix socket needs an absolute path (unix:///run/berth/berth.sock)`);
    return { kind: "unix", path };
  }
  if (spec.startsWith("/")) return { kind: "unix", path: spec };
  if (spec.startsWith("tcp://")) {
    const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]*)(?::(\d+))?\/?$/.exec(spec);
    const port = Number(m?.[2] ?? DEFAULT_TLS_PORT);
    if (!m || !m[1] || port > 65535) throw invalidArgument(`invalid -H ${spec}: use tcp://ADDRESS:PORT (for example tcp://127.0.0.1:2376)`);
    return { kind: "tcp", host: m[1].replace(/^\[|\]$/g, ""), port };
  }
  throw invalidArgument(`invalid -H ${spec}: berthd listens on unix:///path or tcp://ADDRESS:PORT`);
}

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface ListenOptions {
  hosts: Host[];
  /** -G: the group (name or gid) that may use the unix sockets. */
  group?: string;
  /** Required for a TCP host: --tlsverify's CA, certificate and key. */
  tls?: TlsFiles;
}

/** Checks that need nothing opened yet: run them before the engine starts. */
export function checkListenOptions(opts: ListenOptions): { gid: number; tls?: tls.TlsOptions } {
  let gid = 0;
  if (opts.group !== undefined) {
    const g = groupId(opts.group);
    if (g === undefined) throw invalidArgument(`group "${opts.group}" (-G) does not exist`, "create it with groupadd, or give a numeric gid");
    gid = g;
  }
  if (!opts.hosts.some((h) => h.kind === "tcp")) return { gid };
  if (!opts.tls) {
    throw invalidArgument(
      "a TCP listener (-H tcp://...) requires --tlsverify with --tlscacert, --tlscert and --tlskey: access to the API is root access to the host, so berthd serves TCP only to clients with a certificate signed by your CA",
    );
  }
  const read = (flag: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw invalidArgument(`cannot read ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const secure: tls.TlsOptions = {
    ca: read("--tlscacert", opts.tls.ca),
    cert: read("--tlscert", opts.tls.cert),
    key: read("--tlskey", opts.tls.key),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.2",
  };
  try {
    tls.createSecureContext(secure);
  } catch (err) {
    throw invalidArgument(`the TLS files (--tlscacert ${opts.tls.ca}, --tlscert ${opts.tls.cert}, --tlskey ${opts.tls.key}) are not usable: ${(err as Error).message}`);
  }
  return { gid, tls: secure };
}

export interface Listeners {
  close(): void;
  /** What berthd logs: "unix:///run/berth/berth.sock, tcp://127.0.0.1:2376". */
  describe(): string;
}

/** Listen on every host; connections go to `http` (its request and upgrade handlers). */
export async function listen(http: HttpServer, opts: ListenOptions): Promise<Listeners> {
  const { gid, tls: secure } = checkListenOptions(opts);
  const servers: net.Server[] = [];
  const unixPaths: string[] = [];
  const names: string[] = [];
  try {
    for (const h of opts.hosts) {
      if (h.kind === "unix") {
        // Half-open: `docker run` without -i shuts its side of the attach
        // connection at once and still reads the output.
        const server = net.createServer({ allowHalfOpen: true }, (conn) => {
          const fd = (conn as unknown as { _handle?: { fd?: number } })._handle?.fd;
          const peer = fd !== undefined && fd >= 0 ? peerCred(fd) : undefined;
          // Without credentials the client is nobody in particular: never root.
          tagPeer(conn, peer ?? { uid: 65534 });
          serve(http, conn);
        });
        mkdirSync(dirname(h.path), { recursive: true, mode: 0o711 });
        rmSync(h.path, { force: true }); // ours: the root's lock says no other daemon uses it
        await start(server, (cb) => server.listen(h.path, cb));
        // Only root (or the -G group) may connect: the API is root on the host.
        chownSync(h.path, 0, gid);
        chmodSync(h.path, 0o660);
        if (opts.group !== undefined && !(statSync(dirname(h.path)).mode & 0o001)) {
          console.error(`berthd: warning: group ${opts.group} cannot reach ${h.path}: ${dirname(h.path)} is not searchable by others (chmod o+x it)`);
        }
        servers.push(server);
        unixPaths.push(h.path);
        names.push(`unix://${h.path}`);
      } else {
        const server = tls.createServer({ ...secure!, allowHalfOpen: true }, (conn) => {
          const cn = conn.getPeerCertificate()?.subject?.CN;
          tagPeer(conn, { cn: Array.isArray(cn) ? cn[0] : (cn ?? "") });
          serve(http, conn);
        });
        server.on("tlsClientError", (err) => trace(`api: TLS client refused: ${err.message}`));
        await start(server, (cb) => server.listen(h.port, h.host, cb));
        servers.push(server);
        const port = (server.address() as net.AddressInfo).port;
        names.push(`tcp://${h.host.includes(":") ? `[${h.host}]` : h.host}:${port}`);
      }
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  return {
    close() {
      for (const s of servers) s.close();
      for (const p of unixPaths) rmSync(p, { force: true });
    },
    describe: () => names.join(", "),
  };
}

/**
 * How long a request head may take to arrive, from its first byte (Node's
 * headersTimeout; Bun's server has none): a client that sends half a request
 * and waits (slowloris) loses the connection. BERTH_API_HEADERS_TIMEOUT_MS
 * shortens it for tests.
 */
const HEADERS_TIMEOUT_MS = Number(process.env.BERTH_API_HEADERS_TIMEOUT_MS) || 60_000;

/** Per connection: the timer of a request head being received, and whether a request (or a hijack) has it. */
const heads = new WeakMap<object, { timer?: ReturnType<typeof setTimeout>; busy: boolean }>();

/** Hand a connection to the HTTP server. Its errors (EPIPE, ECONNRESET: a client gone) end only it, never the daemon. */
function serve(http: HttpServer, conn: net.Socket) {
  conn.on("error", (err) => trace(`api: connection error: ${err.message}`));
  if (!watching.has(http)) watchHeads(http);
  const head: { timer?: ReturnType<typeof setTimeout>; busy: boolean } = { busy: false };
  heads.set(conn, head);
  conn.on("data", () => {
    if (head.busy || head.timer) return;
    head.timer = setTimeout(() => {
      trace("api: a request head took too long: connection closed");
      conn.destroy();
    }, HEADERS_TIMEOUT_MS);
  });
  conn.on("close", () => clearTimeout(head.timer));
  http.emit("connection", conn);
}

const watching = new WeakSet<HttpServer>();

/** A request's head has come: no timer while it is served; a hijacked connection never gets one again. */
function watchHeads(http: HttpServer) {
  watching.add(http);
  const arrived = (socket: object, forever: boolean, res?: ServerResponse) => {
    const head = heads.get(socket);
    if (!head) return;
    clearTimeout(head.timer);
    head.timer = undefined;
    head.busy = true;
    if (!forever) res?.once("finish", () => (head.busy = false));
  };
  http.prependListener("request", (req: IncomingMessage, res: ServerResponse) => arrived(req.socket, false, res));
  http.prependListener("upgrade", (req: IncomingMessage) => arrived(req.socket, true));
}

function start(server: net.Server, listen: (cb: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    listen(() => {
      server.off("error", reject);
      resolve();
    });
  });
}
