// The embedded DNS server of bridge networks. berthd listens with it on each
// bridge's gateway address, port 53, UDP and TCP, and the containers'
// /etc/resolv.conf names that address: container names are answered from
// berth's records, everything else is forwarded verbatim to the host's
// resolvers. Bun's own sockets, not node:dgram/node:net: cheaper to load.
import { alreadyExists, errnoCode, invalidArgument, unavailable } from "../errors.ts";
import { CLASS_IN, RCODE, TYPE, decodeMessage, encodeMessage, type Message, type ResourceRecord } from "./dns-message.ts";

export interface Resolver {
  /**
   * The IPv4 addresses of `name` (lower-case, no trailing dot) as the client
   * at `clientIp` sees them; undefined: not berth's, forward the query. A
   * name berth knows without addresses has an empty list.
   */
  lookup(name: string, clientIp: string): string[] | undefined;
  /** The name of a container at `ip` the client can see; undefined: forward the query. */
  reverse?(ip: string, clientIp: string): string | undefined;
}

export interface DnsOptions {
  /** The resolvers to forward to, tried in order: "ip", "ip:port" or "[ipv6]:port". */
  upstreams: string[];
  /** How long each upstream has to answer. */
  timeoutMs?: number;
}

/** Docker's embedded DNS gives its answers this TTL. */
const TTL = 600;
/** Two tries of 2 s fit glibc's and musl's 5 s before their own retry. */
const DEFAULT_TIMEOUT_MS = 2000;
/** Forwards under way at most: above it the oldest is dropped (its client asks again). */
const MAX_INFLIGHT = 1024;
/** Names whose round-robin turn is remembered at most. */
const MAX_TURNS = 1024;
/** The UDP answer size without EDNS (RFC 1035 §4.2.1). */
const UDP_PLAIN = 512;
/** The UDP size our OPT records advertise: DNS flag day 2020's, unfragmented on any path. */
const UDP_EDNS = 1232;
const TCP_MAX = 65535;
/** Idle TCP connections are closed after this many seconds (RFC 7766 §6.2.3). */
const TCP_IDLE_S = 10;
/** Answers waiting for a TCP client that does not read, at most: then it is disconnected. */
const TCP_BACKLOG = 256 * 1024;
/** Upstream answers that may be that server's trouble alone: the next one is asked, as Docker does. */
const TRY_NEXT = new Set<number>([RCODE.SERVFAIL, RCODE.REFUSED]);

interface Upstream {
  host: string;
  port: number;
}

interface Listener {
  udp: Bun.udp.Socket<"uint8array">;
  tcp: Bun.TCPSocketListener<Conn>;
}

/** A TCP client: the bytes of its next query so far, the answers it has not taken yet. */
interface Conn {
  input: Uint8Array;
  output: Uint8Array;
}

const EMPTY: Uint8Array = new Uint8Array(0);

export class DnsServer {
  private readonly upstreams: Upstream[];
  private readonly timeoutMs: number;
  private readonly listeners = new Map<string, Listener>();
  private readonly inflight = new Set<AbortController>();
  /** The next round-robin turn per name, the least recently asked first. */
  private readonly turns = new Map<string, number>();

  constructor(
    private readonly resolver: Resolver,
    opts: DnsOptions,
  ) {
    this.upstreams = opts.upstreams.map(parseUpstream);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Listens on ip:port, UDP and TCP; port 0 picks a port free for both. Resolves to the port. */
  async listen(ip: string, port = 53): Promise<number> {
    if (this.listeners.has(ip)) throw alreadyExists(`DNS server: already listening on ${ip}`);
    let udp: Bun.udp.Socket<"uint8array">;
    try {
      udp = await Bun.udpSocket({
        hostname: ip,
        port,
        binaryType: "uint8array",
        socket: {
          data: (sock, packet, srcPort, srcIp, flags) => {
            if (!flags.truncated) void this.onDatagram(sock, packet, srcPort, srcIp);
          },
          // An answer to a client gone meanwhile (a container stopped mid-query)
          // comes back as ICMP port unreachable: without a handler Bun throws
          // it from the event loop and the daemon dies.
          error: () => {},
        },
      });
    } catch (err) {
      throw cannotListen(ip, port, "udp", err);
    }
    let tcp: Bun.TCPSocketListener<Conn>;
    try {
      tcp = Bun.listen<Conn>({ hostname: ip, port: udp.port, socket: this.tcpHandler() });
    } catch (err) {
      udp.close();
      throw cannotListen(ip, udp.port, "tcp", err);
    }
    this.listeners.set(ip, { udp, tcp });
    return udp.port;
  }

  unlisten(ip: string): void {
    const l = this.listeners.get(ip);
    if (!l) return;
    this.listeners.delete(ip);
    l.udp.close();
    l.tcp.stop(true);
  }

  close(): void {
    for (const ip of [...this.listeners.keys()]) this.unlisten(ip);
    for (const ctl of this.inflight) ctl.abort();
    this.inflight.clear();
  }

  private async onDatagram(sock: Bun.udp.Socket<"uint8array">, packet: Uint8Array, port: number, ip: string) {
    const reply = await this.answer(packet, ip, false).catch(() => undefined); // malformed: dropped
    if (!reply || sock.closed) return;
    try {
      sock.send(reply, port, ip);
    } catch {
      // A source no answer can go to (a forged broadcast one: EACCES): dropped too.
    }
  }

  private tcpHandler(): Bun.SocketHandler<Conn> {
    return {
      binaryType: "uint8array",
      open: (sock) => {
        sock.data = { input: EMPTY, output: EMPTY };
        sock.timeout(TCP_IDLE_S);
      },
      data: (sock, chunk: Uint8Array) => {
        const conn = sock.data;
        sock.timeout(TCP_IDLE_S);
        conn.input = concat(conn.input, chunk);
        // Queries may come several in one segment; their answers go out as they are ready (RFC 7766 §7).
        for (let got = unframe(conn.input); got; got = unframe(conn.input)) {
          conn.input = got.rest;
          this.answer(got.message, sock.remoteAddress, true).then(
            (reply) => reply && sendTcp(sock, frame(reply)),
            () => sock.end(), // malformed: a stream cannot resynchronize
          );
        }
      },
      drain: (sock) => {
        const conn = sock.data;
        if (conn.output.length === 0) return;
        const n = sock.write(conn.output);
        if (n > 0) conn.output = conn.output.subarray(n);
      },
    };
  }

  /** The reply to a query from `clientIp`; undefined if its forward was dropped. Throws on a malformed query. */
  private async answer(packet: Uint8Array, clientIp: string, tcp: boolean): Promise<Uint8Array | undefined> {
    const query = decodeMessage(packet);
    if (query.qr) throw invalidArgument("DNS server: a response where a query belongs"); // never reflect one
    const answers = this.local(query, clientIp);
    if (!answers) return this.forward(packet, query, tcp);
    const limit = tcp ? TCP_MAX : Math.max(UDP_PLAIN, query.edns?.udpSize ?? 0);
    return encodeMessage(reply(query, RCODE.NOERROR, answers), limit);
  }

  /** The answers to a question about a name of berth's; undefined for one to forward. */
  private local(query: Message, clientIp: string): ResourceRecord[] | undefined {
    const q = query.questions[0];
    if (query.opcode !== 0 || query.questions.length !== 1 || !q || q.class !== CLASS_IN) return undefined;
    const name = q.name.toLowerCase();
    const ip = q.type === TYPE.PTR ? reverseAddress(name) : undefined;
    if (ip !== undefined) {
      const host = this.resolver.reverse?.(ip, clientIp);
      return host === undefined ? undefined : [{ name: q.name, type: TYPE.PTR, class: CLASS_IN, ttl: TTL, data: host }];
    }
    const ips = this.resolver.lookup(name, clientIp);
    if (ips === undefined) return undefined;
    // A name of berth's has no other records (AAAA: berth is IPv4 only): an
    // empty NOERROR, as from Docker. Forwarded, it would come back NXDOMAIN,
    // which denies the name for every type (RFC 2308): musl then fails the
    // A lookup asked alongside.
    if (q.type !== TYPE.A) return [];
    return this.rotate(name, ips).map((data) => ({ name: q.name, type: TYPE.A, class: CLASS_IN, ttl: TTL, data }));
  }

  /** `ips` turned one place further at each query for `name`, so the clients of several containers behind one name spread over them. */
  private rotate(name: string, ips: string[]): string[] {
    if (ips.length < 2) return ips;
    const turn = this.turns.get(name) ?? 0;
    this.turns.delete(name); // re-inserted last: the map stays ordered by last use
    this.turns.set(name, (turn + 1) % ips.length);
    if (this.turns.size > MAX_TURNS) this.turns.delete(this.turns.keys().next().value!);
    const k = turn % ips.length;
    return [...ips.slice(k), ...ips.slice(0, k)];
  }

  /** `packet` sent verbatim to the upstreams in turn, until one answers; SERVFAIL if none does, undefined if dropped. */
  private async forward(packet: Uint8Array, query: Message, tcp: boolean): Promise<Uint8Array | undefined> {
    const ctl = new AbortController();
    this.inflight.add(ctl);
    if (this.inflight.size > MAX_INFLIGHT) {
      const oldest = this.inflight.values().next().value!;
      oldest.abort();
      this.inflight.delete(oldest);
    }
    try {
      for (const up of this.upstreams) {
        const answer = await exchange(packet, up, tcp, this.timeoutMs, ctl.signal);
        if (ctl.signal.aborted) return undefined;
        if (answer && !TRY_NEXT.has(answer[3]! & 0xf)) return answer;
      }
      return encodeMessage(reply(query, RCODE.SERVFAIL, []));
    } finally {
      this.inflight.delete(ctl);
    }
  }
}

/** Our reply to `query`: authoritative when it answers (berth's names are berth's to tell). */
function reply(query: Message, rcode: number, answers: ResourceRecord[]): Message {
  return {
    id: query.id,
    qr: true,
    opcode: query.opcode,
    aa: rcode === RCODE.NOERROR,
    tc: false,
    rd: query.rd,
    ra: true,
    rcode,
    questions: query.questions,
    answers,
    authority: [],
    additional: [],
    edns: query.edns && { udpSize: UDP_EDNS },
  };
}

/** One try of one upstream: its answer, or undefined on timeout, error or abort. */
function exchange(packet: Uint8Array, up: Upstream, tcp: boolean, timeoutMs: number, signal: AbortSignal): Promise<Uint8Array | undefined> {
  const { promise, resolve } = Promise.withResolvers<Uint8Array | undefined>();
  const id = (packet[0]! << 8) | packet[1]!;
  const done = (answer?: Uint8Array) => {
    // Only the answer to this query: the id kept, QR set.
    resolve(answer && answer.length >= 12 && ((answer[0]! << 8) | answer[1]!) === id && answer[2]! & 0x80 ? answer : undefined);
  };
  const fail = () => resolve(undefined);
  const timer = setTimeout(fail, timeoutMs);
  signal.addEventListener("abort", fail);
  const opened = (tcp ? askTcp : askUdp)(packet, up, done).catch(() => {
    fail();
    return undefined;
  });
  return promise.finally(() => {
    clearTimeout(timer);
    signal.removeEventListener("abort", fail);
    void opened.then((sock) => sock?.end());
  });
}

/** A socket of its own per query: a random source port, and the kernel lets in only the upstream's datagrams. */
async function askUdp(packet: Uint8Array, up: Upstream, done: (answer?: Uint8Array) => void) {
  const sock = await Bun.udpSocket({
    hostname: up.host.includes(":") ? "::" : "0.0.0.0",
    binaryType: "uint8array",
    connect: { hostname: up.host, port: up.port },
    socket: {
      data: (_sock, answer) => done(answer),
      error: () => done(), // ICMP port unreachable: next upstream at once
    },
  });
  sock.send(packet);
  return { end: () => sock.close() };
}

async function askTcp(packet: Uint8Array, up: Upstream, done: (answer?: Uint8Array) => void) {
  let input = EMPTY;
  const sock = await Bun.connect({
    hostname: up.host,
    port: up.port,
    socket: {
      binaryType: "uint8array",
      data: (_sock, chunk: Uint8Array) => {
        input = concat(input, chunk);
        const got = unframe(input);
        if (got) done(got.message);
      },
      close: () => done(),
      error: () => done(),
    },
  });
  const out = frame(packet);
  // A new socket's buffer takes a query whole; if not, this upstream failed.
  if (sock.write(out) !== out.length) done();
  return sock;
}

function sendTcp(sock: Bun.Socket<Conn>, bytes: Uint8Array): void {
  const conn = sock.data;
  if (conn.output.length === 0) {
    const n = sock.write(bytes);
    if (n < 0) return; // closed
    bytes = bytes.subarray(n);
  }
  conn.output = concat(conn.output, bytes);
  if (conn.output.length > TCP_BACKLOG) sock.end();
}

/** A message with its 2-byte length before it, as on TCP (RFC 1035 §4.2.2). */
function frame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + message.length);
  out[0] = message.length >> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

/** The first length-prefixed message of `input` and the bytes after it; undefined while incomplete. */
function unframe(input: Uint8Array): { message: Uint8Array; rest: Uint8Array } | undefined {
  if (input.length < 2) return undefined;
  const end = 2 + ((input[0]! << 8) | input[1]!);
  return input.length < end ? undefined : { message: input.subarray(2, end), rest: input.subarray(end) };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The IPv4 address a reverse name ("4.3.2.1.in-addr.arpa") stands for; undefined for any other name. */
function reverseAddress(name: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name);
  const octets = m?.slice(1).map(Number).reverse();
  return octets?.every((o) => o <= 255) ? octets.join(".") : undefined;
}

function parseUpstream(spec: string): Upstream {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(spec) ?? /^([^:]+):(\d+)$/.exec(spec);
  const host = m ? m[1]! : spec;
  const port = m ? Number(m[2]) : 53;
  if (!isIp(host) || port < 1 || port > 65535) {
    throw invalidArgument(`DNS server: upstream "${spec}" is not an IP address and optional port`, 'write "ip", "ip:port" or "[ipv6]:port"');
  }
  return { host, port };
}

function cannotListen(ip: string, port: number, proto: string, err: unknown) {
  const why = errnoCode(err) ?? (err as Error).message;
  return unavailable(
    `DNS server: cannot listen on ${ip}:${port}/${proto}: ${why}`,
    why === "EADDRINUSE" ? `another DNS server (dnsmasq? systemd-resolved?) holds ${ip}:${port}` : undefined,
  );
}

/**
 * The nameservers of a resolv.conf(5) text but the loopback ones, which a
 * container cannot reach (127.0.0.53 is systemd-resolved's stub); its search
 * domains (the last "search" or "domain" line wins, as in glibc) and options.
 */
export function parseResolvConf(text: string): { nameservers: string[]; search: string[]; options: string[] } {
  const nameservers: string[] = [];
  let search: string[] = [];
  const options: string[] = [];
  for (const line of text.split("\n")) {
    const [key, ...args] = line.replace(/[#;].*/, "").trim().split(/\s+/);
    const ns = args[0];
    if (key === "nameserver" && ns && isIp(ns) && !isLoopback(ns)) nameservers.push(ns);
    else if (key === "search" || key === "domain") search = args;
    else if (key === "options") options.push(...args);
  }
  return { nameservers, search, options };
}

function isIp(s: string): boolean {
  if (s.includes(":")) return /^[0-9a-f:.]+(%[\w.-]+)?$/i.test(s);
  const octets = s.split(".");
  return octets.length === 4 && octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255);
}

function isLoopback(ip: string): boolean {
  return ip.startsWith("127.") || /^(0*:)*:?0*1$/.test(ip);
}
