// The embedded DNS server of bridge networks, on loopback only: its message
// codec, a server on 127.0.0.1 with a fake resolver, fake upstreams on other
// 127.0.0.x addresses, and busybox nslookup as a real client.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isKind } from "../core/errors.ts";
import { DnsServer, parseResolvConf, type Resolver } from "../core/network/dns.ts";
import { CLASS_IN, RCODE, TYPE, decodeMessage, encodeMessage, type Message } from "../core/network/dns-message.ts";

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");

function queryMessage(name: string, type: number = TYPE.A, opts: { id?: number; udpSize?: number } = {}): Message {
  return {
    id: opts.id ?? 0x1234,
    qr: false,
    opcode: 0,
    aa: false,
    tc: false,
    rd: true,
    ra: false,
    rcode: 0,
    questions: [{ name, type, class: CLASS_IN }],
    answers: [],
    authority: [],
    additional: [],
    ...(opts.udpSize ? { edns: { udpSize: opts.udpSize } } : {}),
  };
}
const query = (name: string, type?: number, opts?: { id?: number; udpSize?: number }) => encodeMessage(queryMessage(name, type, opts));

function frame(m: Uint8Array) {
  return Uint8Array.from([m.length >> 8, m.length & 0xff, ...m]);
}

function decodeError(bytes: Uint8Array): unknown {
  try {
    decodeMessage(bytes);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe("DNS messages", () => {
  const queryBytes = hex(`1234 0100 0001 0000 0000 0000  03${ascii("web")} 05${ascii("mynet")} 00  0001 0001`);

  it("writes and reads a query, byte for byte", () => {
    expect(query("web.mynet")).toEqual(queryBytes);
    expect(decodeMessage(queryBytes)).toEqual(queryMessage("web.mynet"));
  });

  it("writes an answer with the owner names compressed to the question's", () => {
    const answer = encodeMessage({
      ...queryMessage("web.mynet"),
      qr: true,
      aa: true,
      ra: true,
      answers: ["172.20.0.2", "172.20.0.3"].map((data) => ({ name: "web.mynet", type: TYPE.A, class: CLASS_IN, ttl: 600, data })),
    });
    expect(answer).toEqual(
      hex(`1234 8580 0001 0002 0000 0000  03${ascii("web")} 05${ascii("mynet")} 00  0001 0001
           c00c 0001 0001 00000258 0004 ac140002
           c00c 0001 0001 00000258 0004 ac140003`),
    );
    const back = decodeMessage(answer);
    expect(back.answers.map((a) => [a.name, a.ttl, a.data])).toEqual([
      ["web.mynet", 600, "172.20.0.2"],
      ["web.mynet", 600, "172.20.0.3"],
    ]);
    expect(back.qr && back.aa && back.ra && back.rd).toBe(true);
  });

  it("reads compressed names: a pointer into the middle of a name, a PTR target ending in a pointer", () => {
    const bytes = hex(`0001 8180 0001 0001 0000 0000  03${ascii("web")} 05${ascii("mynet")} 00 000c 0001
                       c010 000c 0001 0000003c 0005 02${ascii("db")} c00c`);
    const msg = decodeMessage(bytes);
    expect(msg.answers).toEqual([{ name: "mynet", type: TYPE.PTR, class: CLASS_IN, ttl: 60, data: "db.web.mynet" }]);
  });

  it("escapes label bytes that are dots, backslashes or not printable, and writes them back the same", () => {
    const bytes = hex(`0000 0000 0001 0000 0000 0000  03612e62 03782079 015c 00 0001 0001`);
    const msg = decodeMessage(bytes);
    expect(msg.questions[0]!.name).toBe("a\\.b.x\\032y.\\\\");
    expect(encodeMessage(msg)).toEqual(bytes);
  });

  it("reads the OPT record as edns, and writes it back", () => {
    const bytes = query("web", TYPE.A, { udpSize: 4096 });
    expect(bytes.subarray(-11)).toEqual(hex("00 0029 1000 00000000 0000"));
    const msg = decodeMessage(bytes);
    expect(msg.edns).toEqual({ udpSize: 4096 });
    expect(msg.additional).toEqual([]);
  });

  it("refuses malformed messages", () => {
    const header = "0001 0000 0001 0000 0000 0000";
    const cases = {
      "short header": hex("0001 0000 0001 0000 0000"),
      "question cut short": hex(`${header} 03${ascii("web")}`),
      "label past the end": hex(`${header} 05${ascii("ab")}`),
      "pointer to itself": hex(`${header} c00c 0001 0001`),
      "pointer forward": hex(`${header} c020 0001 0001`),
      "pointer loop": hex(`${header} 01${ascii("a")} c00c 0001 0001`),
      "label type 0x40": hex(`${header} 41${ascii("a")} 00 0001 0001`),
      "trailing bytes": hex(`${header} 00 0001 0001 ff`),
      "A record of 3 bytes": hex(`0001 8000 0000 0001 0000 0000 00 0001 0001 00000000 0003 010203`),
      "name over 255 bytes": hex(`${header} ${`3f${"61".repeat(63)}`.repeat(4)} 00 0001 0001`),
    };
    for (const [what, bytes] of Object.entries(cases)) {
      const err = decodeError(bytes);
      expect(isKind(err, "InvalidArgument") && /DNS message/.test(err.message), what).toBe(true);
    }
  });

  it("refuses to write a name with an empty or over-long label", () => {
    for (const name of ["a..b", "x".repeat(64), "é"]) expect(() => query(name)).toThrow(/DNS name/);
  });
});

/** A fake upstream DNS server on `ip`, UDP and TCP: answers 10.9.8.7 to anything, SERVFAIL, or nothing. */
async function fakeUpstream(ip: string, mode: "answer" | "servfail" | "silent") {
  const seen: { proto: "udp" | "tcp"; bytes: Uint8Array }[] = [];
  const respond = (bytes: Uint8Array) => {
    const q = decodeMessage(bytes);
    return encodeMessage({
      ...q,
      qr: true,
      ra: true,
      rcode: mode === "servfail" ? RCODE.SERVFAIL : RCODE.NOERROR,
      answers: mode === "servfail" ? [] : [{ name: q.questions[0]!.name, type: TYPE.A, class: CLASS_IN, ttl: 60, data: "10.9.8.7" }],
    });
  };
  const udp = await Bun.udpSocket({
    hostname: ip,
    port: 0,
    binaryType: "uint8array",
    socket: {
      data(sock, bytes, port, addr) {
        seen.push({ proto: "udp", bytes: bytes.slice() });
        if (mode !== "silent") sock.send(respond(bytes), port, addr);
      },
    },
  });
  const tcp = Bun.listen({
    hostname: ip,
    port: udp.port,
    socket: {
      binaryType: "uint8array",
      data(sock, chunk: Uint8Array) {
        // Loopback delivers a small framed query in one piece.
        const bytes = chunk.slice(2);
        seen.push({ proto: "tcp", bytes });
        if (mode !== "silent") sock.write(frame(respond(bytes)));
      },
    },
  });
  return { addr: `${ip}:${udp.port}`, seen, close: () => (udp.close(), tcp.stop(true)) };
}

/** Sends a datagram to 127.0.0.1:port from `from`; the first datagram back, or undefined after waitMs. */
async function ask(port: number, bytes: Uint8Array, { from = "127.0.0.1", waitMs = 3000 } = {}) {
  const { promise, resolve } = Promise.withResolvers<Uint8Array | undefined>();
  const sock = await Bun.udpSocket({ hostname: from, binaryType: "uint8array", socket: { data: (_s, b) => resolve(b.slice()) } });
  const timer = setTimeout(resolve, waitMs, undefined);
  sock.send(bytes, port, "127.0.0.1");
  try {
    return await promise;
  } finally {
    clearTimeout(timer);
    sock.close();
  }
}

async function askMessage(port: number, bytes: Uint8Array, opts?: { from?: string; waitMs?: number }) {
  const reply = await ask(port, bytes, opts);
  expect(reply, "an answer").toBeDefined();
  return { bytes: reply!, msg: decodeMessage(reply!) };
}

/** Writes `bytes` to a TCP connection to 127.0.0.1:port; the framed messages back until `want` came or it closed. */
async function askTcp(port: number, bytes: Uint8Array, want: number) {
  const { promise, resolve } = Promise.withResolvers<void>();
  const replies: Message[] = [];
  let input = new Uint8Array(0);
  let closed = false;
  const sock = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      binaryType: "uint8array",
      data(_s, chunk: Uint8Array) {
        input = Uint8Array.from([...input, ...chunk]);
        while (input.length >= 2 && input.length >= 2 + ((input[0]! << 8) | input[1]!)) {
          const end = 2 + ((input[0]! << 8) | input[1]!);
          replies.push(decodeMessage(input.subarray(2, end)));
          input = input.slice(end);
        }
        if (replies.length >= want) resolve();
      },
      close() {
        closed = true;
        resolve();
      },
    },
  });
  sock.write(bytes);
  const timer = setTimeout(resolve, 3000);
  await promise;
  clearTimeout(timer);
  const result = { replies, closed }; // before end(), which closes it
  sock.end();
  return result;
}

const closedUdpPort = async (ip: string) => {
  const s = await Bun.udpSocket({ hostname: ip, port: 0 });
  const port = s.port;
  s.close();
  return port;
};

describe("DNS server", () => {
  const names: Record<string, string[]> = {
    web: ["172.20.0.2"],
    db: ["172.20.0.3", "172.20.0.4", "172.20.0.5"],
    empty: [],
    many: Array.from({ length: 40 }, (_, i) => `172.20.1.${i + 1}`),
  };
  const calls: string[] = [];
  const resolver: Resolver = {
    lookup(name, clientIp) {
      calls.push(`${name} ${clientIp}`);
      // A name only the container at 127.0.0.9 sees.
      if (name === "secret") return clientIp === "127.0.0.9" ? ["172.20.0.9"] : undefined;
      return names[name];
    },
    reverse: (ip) => (ip === "172.20.0.2" ? "web.mynet" : undefined),
  };
  let good: Awaited<ReturnType<typeof fakeUpstream>>;
  let silent: Awaited<ReturnType<typeof fakeUpstream>>;
  let failing: Awaited<ReturnType<typeof fakeUpstream>>;
  let server: DnsServer;
  let port: number;

  beforeAll(async () => {
    good = await fakeUpstream("127.0.0.2", "answer");
    silent = await fakeUpstream("127.0.0.3", "silent");
    failing = await fakeUpstream("127.0.0.4", "servfail");
    server = new DnsServer(resolver, { upstreams: [good.addr] });
    port = await server.listen("127.0.0.1", 0);
  });
  afterAll(() => {
    server.close();
    for (const up of [good, silent, failing]) up.close();
  });

  it("answers A for a name of berth's, with the query's id and question, TTL 600", async () => {
    const { msg } = await askMessage(port, query("web", TYPE.A, { id: 0x4242 }));
    expect(msg).toMatchObject({ id: 0x4242, qr: true, aa: true, rd: true, ra: true, tc: false, rcode: RCODE.NOERROR });
    expect(msg.questions).toEqual([{ name: "web", type: TYPE.A, class: CLASS_IN }]);
    expect(msg.answers).toEqual([{ name: "web", type: TYPE.A, class: CLASS_IN, ttl: 600, data: "172.20.0.2" }]);
    expect(calls).toContain("web 127.0.0.1");
  });

  it("looks names up in lower case and answers with the name as asked", async () => {
    const { msg } = await askMessage(port, query("WeB"));
    expect(msg.answers.map((a) => [a.name, a.data])).toEqual([["WeB", "172.20.0.2"]]);
    expect(calls).toContain("web 127.0.0.1");
  });

  it("turns the addresses of a name one place at each query (round robin)", async () => {
    const orders: unknown[] = [];
    for (let i = 0; i < 4; i++) orders.push((await askMessage(port, query("db"))).msg.answers.map((a) => a.data));
    const [a, b, c] = names.db as [string, string, string];
    expect(orders).toEqual([
      [a, b, c],
      [b, c, a],
      [c, a, b],
      [a, b, c],
    ]);
  });

  it("answers AAAA for a name of berth's, and A for one without addresses, NOERROR and empty", async () => {
    for (const [name, type] of [["web", TYPE.AAAA], ["empty", TYPE.A]] as const) {
      const { msg } = await askMessage(port, query(name, type));
      expect(msg.rcode, name).toBe(RCODE.NOERROR);
      expect(msg.answers, name).toEqual([]);
    }
    expect(good.seen).toEqual([]); // none forwarded
  });

  it("answers PTR for a container's address", async () => {
    const { msg } = await askMessage(port, query("2.0.20.172.in-addr.arpa", TYPE.PTR));
    expect(msg.answers).toEqual([{ name: "2.0.20.172.in-addr.arpa", type: TYPE.PTR, class: CLASS_IN, ttl: 600, data: "web.mynet" }]);
  });

  it("passes the client's address to the resolver", async () => {
    const fromContainer = await askMessage(port, query("secret"), { from: "127.0.0.9" });
    expect(fromContainer.msg.answers.map((a) => a.data)).toEqual(["172.20.0.9"]);
    const fromOther = await askMessage(port, query("secret"));
    expect(fromOther.msg.answers.map((a) => a.data)).toEqual(["10.9.8.7"]); // forwarded
  });

  it("forwards other names verbatim, the client's id kept, and relays the upstream's answer", async () => {
    const sent = query("example.test", TYPE.A, { id: 0xbeef });
    const before = good.seen.length;
    const { msg } = await askMessage(port, sent);
    expect(good.seen.slice(before)).toEqual([{ proto: "udp", bytes: sent }]);
    expect(msg.id).toBe(0xbeef);
    expect(msg.answers.map((a) => [a.name, a.data])).toEqual([["example.test", "10.9.8.7"]]);
  });

  it("lives on when a client leaves before its answer (ICMP port unreachable comes back), and answers the next one", async () => {
    // An upstream that answers after 200 ms; the client's socket is closed by then
    // (a container stopped mid-query, as docker-compose restart does to one looping on wget).
    const slow = await Bun.udpSocket({
      hostname: "127.0.0.6",
      port: 0,
      binaryType: "uint8array",
      socket: { data: (sock, bytes, p, a) => void setTimeout(() => sock.send(encodeMessage({ ...decodeMessage(bytes), qr: true }), p, a), 200) },
    });
    const s = new DnsServer(resolver, { upstreams: [`127.0.0.6:${slow.port}`] });
    try {
      const p = await s.listen("127.0.0.1", 0);
      const gone = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
      gone.send(query("late.test"), p, "127.0.0.1");
      gone.close();
      await Bun.sleep(400); // the answer went out, the kernel's refusal came back
      const { msg } = await askMessage(p, query("web"));
      expect(msg.answers.map((a) => a.data)).toEqual(["172.20.0.2"]);
    } finally {
      s.close();
      slow.close();
    }
  });

  it("forwards a PTR query for an address that is not a container's, and other types", async () => {
    for (const [name, type] of [["9.9.9.10.in-addr.arpa", TYPE.PTR], ["example.test", 16 /* TXT */]] as const) {
      const sent = query(name, type);
      await askMessage(port, sent);
      expect(good.seen.at(-1)).toEqual({ proto: "udp", bytes: sent });
    }
  });

  it("tries the next upstream when one times out or fails, and answers SERVFAIL when all do", async () => {
    const refused = `127.0.0.5:${await closedUdpPort("127.0.0.5")}`;
    const s = new DnsServer(resolver, { upstreams: [silent.addr, failing.addr, good.addr], timeoutMs: 200 });
    const down = new DnsServer(resolver, { upstreams: [silent.addr, refused], timeoutMs: 200 });
    try {
      const p = await s.listen("127.0.0.1", 0);
      const [silentBefore, failingBefore] = [silent.seen.length, failing.seen.length];
      const { msg } = await askMessage(p, query("example.test"));
      expect(msg.answers.map((a) => a.data)).toEqual(["10.9.8.7"]);
      expect([silent.seen.length - silentBefore, failing.seen.length - failingBefore]).toEqual([1, 1]);

      const q = await down.listen("127.0.0.1", 0);
      const started = Date.now();
      const fail = await askMessage(q, query("example.test", TYPE.A, { id: 0x7777 }));
      expect(fail.msg).toMatchObject({ id: 0x7777, qr: true, rcode: RCODE.SERVFAIL, answers: [] });
      expect(fail.msg.questions).toEqual([{ name: "example.test", type: TYPE.A, class: CLASS_IN }]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(190); // the silent one was waited for
    } finally {
      s.close();
      down.close();
    }
  });

  it("truncates a UDP answer over 512 bytes without EDNS, sets TC, and fits the EDNS size otherwise", async () => {
    const plain = await askMessage(port, query("many"));
    expect(plain.bytes.length).toBeLessThanOrEqual(512);
    expect(plain.msg.tc).toBe(true);
    expect(plain.msg.answers.length).toBe(30); // (512 - 12 header - 10 question) / 16
    const edns = await askMessage(port, query("many", TYPE.A, { udpSize: 4096 }));
    expect(edns.msg.tc).toBe(false);
    expect(edns.msg.answers.length).toBe(40);
    expect(edns.msg.edns).toEqual({ udpSize: 1232 });
    const small = await askMessage(port, query("many", TYPE.A, { udpSize: 600 }));
    expect(small.bytes.length).toBeLessThanOrEqual(600);
    expect([small.msg.tc, small.msg.answers.length, small.msg.edns]).toEqual([true, 35, { udpSize: 1232 }]);
  });

  it("answers over TCP: queries several in one write, the large answer whole, other names forwarded over TCP", async () => {
    const before = good.seen.length;
    const { replies, closed } = await askTcp(
      port,
      Uint8Array.from([...frame(query("web", TYPE.A, { id: 1 })), ...frame(query("many", TYPE.A, { id: 2 })), ...frame(query("example.test", TYPE.A, { id: 3 }))]),
      3,
    );
    expect(closed).toBe(false);
    const byId = new Map(replies.map((r) => [r.id, r]));
    expect(byId.get(1)?.answers.map((a) => a.data)).toEqual(["172.20.0.2"]);
    expect([byId.get(2)?.tc, byId.get(2)?.answers.length]).toEqual([false, 40]);
    expect(byId.get(3)?.answers.map((a) => a.data)).toEqual(["10.9.8.7"]);
    expect(good.seen.slice(before).map((s) => s.proto)).toEqual(["tcp"]);
  });

  it("drops malformed datagrams and responses, and keeps serving", async () => {
    expect(await ask(port, hex("0102 03"), { waitMs: 300 })).toBeUndefined();
    const response = encodeMessage({ ...queryMessage("web"), qr: true });
    expect(await ask(port, response, { waitMs: 300 })).toBeUndefined();
    const { msg } = await askMessage(port, query("web", TYPE.A, { id: 9 }));
    expect(msg.id).toBe(9);
  });

  it("closes a TCP connection that sends a malformed message", async () => {
    const { replies, closed } = await askTcp(port, frame(hex("0102 03")), 1);
    expect([replies.length, closed]).toEqual([0, true]);
  });

  it("listens on several addresses, refuses one twice, and lets an address go", async () => {
    const s = new DnsServer(resolver, { upstreams: [] });
    try {
      const p = await s.listen("127.0.0.6", 0);
      await s.listen("127.0.0.7", p);
      await expect(s.listen("127.0.0.6", p)).rejects.toSatisfy((err) => isKind(err, "AlreadyExists"));
      // Another server cannot take the port the first holds.
      await expect(new DnsServer(resolver, { upstreams: [] }).listen("127.0.0.7", p)).rejects.toSatisfy((err) => isKind(err, "Unavailable"));
      s.unlisten("127.0.0.6");
      const again = await Bun.udpSocket({ hostname: "127.0.0.6", port: p });
      again.close();
      const other = Bun.listen({ hostname: "127.0.0.6", port: p, socket: { data() {} } });
      other.stop(true);
    } finally {
      s.close();
    }
  });

  it("refuses an upstream that is not an address", () => {
    expect(() => new DnsServer(resolver, { upstreams: ["dns.example"] })).toThrow(/not an IP address/);
  });

  // bin/setup installs Debian's busybox-static: a real client is always there.
  const busybox = Bun.which("busybox");
  it("answers busybox nslookup, a real client (A and AAAA, then a forwarded name)", async () => {
    expect(busybox, "busybox (Debian's busybox-static, which bin/setup installs)").toBeTruthy();
    const nslookup = async (name: string) => {
      const p = Bun.spawn([busybox!, "nslookup", name, `127.0.0.1:${port}`], { stdout: "pipe", stderr: "pipe" });
      const timer = setTimeout(() => p.kill(), 10_000);
      const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
      clearTimeout(timer);
      return { out, code };
    };
    // Absolute names: the host's search domains are not tried first.
    const web = await nslookup("web.");
    expect(web.code).toBe(0);
    expect(web.out).toMatch(/Name:\s+web\s+Address: 172\.20\.0\.2/);
    const fwd = await nslookup("example.test.");
    expect(fwd.out).toMatch(/Address: 10\.9\.8\.7/);
  });
});

describe("parseResolvConf", () => {
  it("keeps the nameservers a container can reach, the last search line and all options", () => {
    const conf = [
      "# generated by NetworkManager",
      "nameserver 127.0.0.53",
      "nameserver ::1",
      "nameserver 192.168.1.1",
      "nameserver 2001:db8::53 ; the ISP's",
      "nameserver fe80::1%eth0",
      "nameserver not-an-address",
      "domain home.example",
      "search corp.example lab.example",
      "options edns0 trust-ad",
      "options ndots:2",
      "",
    ].join("\n");
    expect(parseResolvConf(conf)).toEqual({
      nameservers: ["192.168.1.1", "2001:db8::53", "fe80::1%eth0"],
      search: ["corp.example", "lab.example"],
      options: ["edns0", "trust-ad", "ndots:2"],
    });
  });

  it("reads a single domain line as the search list, and an empty file as nothing", () => {
    expect(parseResolvConf("domain example.org\nnameserver 10.0.0.1").search).toEqual(["example.org"]);
    expect(parseResolvConf("")).toEqual({ nameservers: [], search: [], options: [] });
  });
});
