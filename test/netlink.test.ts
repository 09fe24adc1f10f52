import { test, expect, describe, beforeAll, afterAll } from "vitest";
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readlinkSync, rmSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { BerthError } from "../core/errors.ts";
import { libcSys } from "../core/sys/libc.ts";
import { createNetns, removeNetns } from "../core/sys/netns.ts";
import {
  Netlink, inNetns, type NetlinkSocket, type Message, type Link, type Route,
  NLMSG, NLM_F, RTM, IFLA, IFLA_INFO, VETH_INFO, IFA, RTA, RT_TABLE_MAIN, RT_TABLE_LOCAL,
  encodeAttrs, encodeMessage, decodeAttrs, decodeMessages, decodeStatus, decodeLink, decodeRoute,
  ifinfomsg, ifaddrmsg, rtmsg, strAttr, u32Attr, nestAttr,
} from "../core/sys/netlink.ts";

function caught(fn: () => unknown): BerthError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BerthError);
    return err as BerthError;
  }
  throw new Error("expected an error");
}

// ---- Kernel-free tests: encoders, decoders, and the client on a fake socket ----

/** Answers built as the kernel builds them. */
const kernel = {
  ack(seq: number, errno = 0, reason?: string) {
    const status = new Uint8Array(20); // int error, then our request's nlmsghdr (NETLINK_CAP_ACK)
    new DataView(status.buffer).setInt32(0, -errno, true);
    const tlvs = reason ? [strAttr(1, reason)] : [];
    const flags = NLM_F.CAPPED | (reason ? NLM_F.ACK_TLVS : 0);
    return encodeMessage(NLMSG.ERROR, flags, seq, status, tlvs);
  },
  done(seq: number, flags = 0) {
    return encodeMessage(NLMSG.DONE, 0x2 | flags, seq, new Uint8Array(4));
  },
  link(seq: number, index: number, name: string, flags = 0) {
    return encodeMessage(RTM.NEWLINK, 0x2 | flags, seq, ifinfomsg({ index, flags: 1 }), [
      strAttr(IFLA.IFNAME, name), u32Attr(IFLA.MTU, 1500), [IFLA.ADDRESS, new Uint8Array([2, 0, 0, 0, 0, index])],
    ]);
  },
};

const concat = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((p) => [...p]));

/** Records requests; `answer` returns the datagrams the kernel would send back. */
class FakeSocket implements NetlinkSocket {
  sent: Message[] = [];
  private queue: Uint8Array[] = [];
  // One buffer for every datagram, as the real socket has.
  private buf = new Uint8Array(4096);
  constructor(private answer: (req: Message, n: number) => Uint8Array[] = (req) => [kernel.ack(req.seq)]) {}
  send(msg: Uint8Array) {
    const [req] = decodeMessages(msg.slice());
    this.sent.push(req!);
    this.queue.push(...this.answer(req!, this.sent.length));
  }
  recv() {
    const next = this.queue.shift();
    if (!next) throw new Error("recv with nothing queued: the client would block");
    this.buf.fill(0xee);
    this.buf.set(next);
    return this.buf.subarray(0, next.length);
  }
  close() {}
}

describe("encoding", () => {
  test("attributes: 4-byte header, payload, zero padding to 4 bytes; rta_len leaves the padding out", () => {
    expect([...encodeAttrs([u32Attr(IFLA.MTU, 1500), strAttr(IFLA.IFNAME, "veth0")])]).toEqual([
      8, 0, 4, 0, 0xdc, 0x05, 0, 0,
      10, 0, 3, 0, 0x76, 0x65, 0x74, 0x68, 0x30, 0, 0, 0,
    ]);
    // A payload that is already aligned gets no padding.
    expect(encodeAttrs([strAttr(IFLA.IFNAME, "br0")]).length).toBe(8);
  });

  test("a whole RTM_DELLINK message, byte for byte", () => {
    const msg = encodeMessage(RTM.DELLINK, NLM_F.REQUEST | NLM_F.ACK, 7, ifinfomsg(), [strAttr(IFLA.IFNAME, "br0")]);
    expect([...msg]).toEqual([
      40, 0, 0, 0, /* nlmsg_type */ 17, 0, /* flags */ 5, 0, /* seq */ 7, 0, 0, 0, /* pid */ 0, 0, 0, 0,
      /* ifinfomsg */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      8, 0, 3, 0, 0x62, 0x72, 0x30, 0,
    ]);
  });

  test("family headers: ifinfomsg flags/change, ifaddrmsg, rtmsg", () => {
    expect([...ifinfomsg({ index: 258, flags: 1, change: 1 })]).toEqual([0, 0, 0, 0, 2, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
    expect([...ifaddrmsg(16, 3)]).toEqual([2, 16, 0, 0, 3, 0, 0, 0]);
    expect([...rtmsg({ table: 254, protocol: 3, type: 1 })]).toEqual([2, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0]);
  });

  test("nested attributes: the outer length covers the padded inner ones", () => {
    const nest = encodeAttrs([nestAttr(IFLA.LINKINFO, [strAttr(IFLA_INFO.KIND, "veth"), u32Attr(IFLA_INFO.DATA, 9)])]);
    // outer header 4 + "veth\0" (4 + 5, padded to 12) + u32 (8) = 24
    expect(nest.length).toBe(24);
    expect(new DataView(nest.buffer).getUint16(0, true)).toBe(24);
    const inner = decodeAttrs(decodeAttrs(nest).get(IFLA.LINKINFO)!);
    expect(new TextDecoder().decode(inner.get(IFLA_INFO.KIND))).toBe("veth\0");
    expect(new DataView(inner.get(IFLA_INFO.DATA)!.buffer, inner.get(IFLA_INFO.DATA)!.byteOffset).getUint32(0, true)).toBe(9);
  });
});

describe("decoding", () => {
  test("several messages in one datagram, each aligned", () => {
    const buf = concat(kernel.link(5, 1, "lo"), kernel.link(5, 2, "eth12"), kernel.done(5));
    const msgs = decodeMessages(buf);
    expect(msgs.map((m) => m.type)).toEqual([RTM.NEWLINK, RTM.NEWLINK, NLMSG.DONE]);
    expect(decodeLink(msgs[1]!.data)).toEqual({ index: 2, name: "eth12", up: true, mtu: 1500, mac: "02:00:00:00:00:02" });
  });

  test("a truncated message or attribute is an Internal error, not garbage", () => {
    const msg = kernel.link(1, 1, "lo");
    expect(caught(() => decodeMessages(msg.subarray(0, msg.length - 4))).kind).toBe("Internal");
    expect(caught(() => decodeAttrs(new Uint8Array([12, 0, 3, 0, 1, 2]))).kind).toBe("Internal");
  });

  test("attribute types lose NLA_F_NESTED and NLA_F_NET_BYTEORDER", () => {
    const attrs = decodeAttrs(encodeAttrs([[IFLA.LINKINFO | 0x8000, new Uint8Array(0)], [IFLA.MTU | 0x4000, new Uint8Array(4)]]));
    expect([...attrs.keys()]).toEqual([IFLA.LINKINFO, IFLA.MTU]);
  });

  test("errors: errno and the kernel's reason, with the request capped or echoed whole", () => {
    const [capped] = decodeMessages(kernel.ack(3, 22, "mtu greater than device maximum"));
    expect(decodeStatus(capped!)).toEqual({ errno: 22, reason: "mtu greater than device maximum" });
    const request = encodeMessage(RTM.NEWLINK, 1, 3, ifinfomsg(), [strAttr(IFLA.IFNAME, "x")]);
    const echoed = encodeMessage(NLMSG.ERROR, NLM_F.ACK_TLVS, 3, concat(new Uint8Array([0xef, 0xff, 0xff, 0xff]), request), [strAttr(1, "exists")]);
    expect(decodeStatus(decodeMessages(echoed)[0]!)).toEqual({ errno: 17, reason: "exists" });
    expect(decodeStatus(decodeMessages(kernel.ack(3))[0]!)).toEqual({ errno: 0 });
  });

  test("routes: default when RTA_DST is absent, RTA_TABLE over rtm_table", () => {
    const data = concat(rtmsg({ table: 252 }), encodeAttrs([[RTA.GATEWAY, new Uint8Array([10, 0, 0, 1])], u32Attr(RTA.OIF, 4), u32Attr(RTA.TABLE, 1000)]));
    expect(decodeRoute(data)).toEqual({ dst: "0.0.0.0", prefix: 0, gateway: "10.0.0.1", oif: 4, table: 1000 });
  });
});

describe("client on a fake socket", () => {
  test("addVeth: one RTM_NEWLINK, CREATE|EXCL, the peer's ifinfomsg inside VETH_INFO_PEER", () => {
    const sock = new FakeSocket();
    new Netlink(sock).addVeth("veth1234", "eth0", { mtu: 1450, peerNetnsFd: 9, peerMac: "02:42:AC:11:00:0f" });
    expect(sock.sent).toHaveLength(1);
    const req = sock.sent[0]!;
    expect(req.type).toBe(RTM.NEWLINK);
    expect(req.flags).toBe(NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL);
    const top = decodeAttrs(req.data, 16);
    expect(new TextDecoder().decode(top.get(IFLA.IFNAME))).toBe("veth1234\0");
    expect(new DataView(top.get(IFLA.MTU)!.slice().buffer).getUint32(0, true)).toBe(1450);
    const info = decodeAttrs(top.get(IFLA.LINKINFO)!);
    expect(new TextDecoder().decode(info.get(IFLA_INFO.KIND))).toBe("veth\0");
    const peer = decodeAttrs(info.get(IFLA_INFO.DATA)!).get(VETH_INFO.PEER)!;
    expect([...peer.subarray(0, 16)]).toEqual([...ifinfomsg()]);
    const peerAttrs = decodeAttrs(peer, 16);
    expect(new TextDecoder().decode(peerAttrs.get(IFLA.IFNAME))).toBe("eth0\0");
    expect([...peerAttrs.get(IFLA.NET_NS_FD)!]).toEqual([9, 0, 0, 0]);
    expect([...peerAttrs.get(IFLA.MTU)!]).toEqual([0xaa, 0x05, 0, 0]);
    expect([...peerAttrs.get(IFLA.ADDRESS)!]).toEqual([0x02, 0x42, 0xac, 0x11, 0x00, 0x0f]);
  });

  test("a kernel errno becomes a SysError naming the request and the interface", () => {
    const eexist = new Netlink(new FakeSocket((req) => [kernel.ack(req.seq, 17)]));
    const err = caught(() => eexist.addVeth("veth1234", "eth0"));
    expect(err.kind).toBe("AlreadyExists");
    expect(err.message).toBe("netlink RTM_NEWLINK veth1234 (peer eth0): EEXIST (file exists)");
    // rtnetlink's ENODEV means "no such interface".
    const enodev = new Netlink(new FakeSocket((req) => [kernel.ack(req.seq, 19)]));
    const missing = caught(() => enodev.deleteLink("veth9"));
    expect(missing.kind).toBe("NotFound");
    expect(missing.message).toBe("netlink RTM_DELLINK veth9: ENODEV (no such device)");
    const einval = new Netlink(new FakeSocket((req) => [kernel.ack(req.seq, 22, "Invalid MTU")]));
    expect(caught(() => einval.setMtu("br0", 9)).message).toBe("netlink RTM_NEWLINK br0 (Invalid MTU): EINVAL (invalid argument)");
  });

  test("a dump spread over datagrams that share one buffer, after a stale answer", () => {
    const sock = new FakeSocket((req) => [
      kernel.ack(req.seq - 1, 17), // left over from an earlier request: ignored
      concat(kernel.link(req.seq, 1, "lo"), kernel.link(req.seq, 2, "eth0")),
      kernel.link(req.seq, 3, "br-a"),
      kernel.done(req.seq),
    ]);
    const links = new Netlink(sock).links();
    expect(links.map((l: Link) => [l.index, l.name])).toEqual([[1, "lo"], [2, "eth0"], [3, "br-a"]]);
    expect(sock.sent[0]!.flags).toBe(NLM_F.REQUEST | NLM_F.DUMP);
  });

  test("an interrupted dump (NLM_F_DUMP_INTR) is redone; one that never settles is Unavailable", () => {
    const flaky = new FakeSocket((req, n) => [kernel.link(req.seq, n, `l${n}`, n === 1 ? NLM_F.DUMP_INTR : 0), kernel.done(req.seq)]);
    expect(new Netlink(flaky).links().map((l) => l.name)).toEqual(["l2"]);
    const churn = new FakeSocket((req) => [kernel.done(req.seq, NLM_F.DUMP_INTR)]);
    expect(caught(() => new Netlink(churn).links()).kind).toBe("Unavailable");
    expect(churn.sent.length).toBe(5);
  });

  test("addAddress: resolves the index, sends local, address and broadcast", () => {
    const sock = new FakeSocket((req) => (req.type === RTM.GETLINK ? [kernel.link(req.seq, 7, "br0"), kernel.ack(req.seq)] : [kernel.ack(req.seq)]));
    const nl = new Netlink(sock);
    nl.addAddress("br0", "172.18.0.1/16");
    nl.addAddress("br0", "10.0.0.1/31");
    const [get, add16, , add31] = sock.sent;
    expect(get!.type).toBe(RTM.GETLINK);
    expect(add16!.type).toBe(RTM.NEWADDR);
    expect([...add16!.data.subarray(0, 8)]).toEqual([...ifaddrmsg(16, 7)]);
    const attrs = decodeAttrs(add16!.data, 8);
    expect([...attrs.get(IFA.LOCAL)!]).toEqual([172, 18, 0, 1]);
    expect([...attrs.get(IFA.ADDRESS)!]).toEqual([172, 18, 0, 1]);
    expect([...attrs.get(IFA.BROADCAST)!]).toEqual([172, 18, 255, 255]);
    expect(decodeAttrs(add31!.data, 8).has(IFA.BROADCAST)).toBe(false);
  });

  test("bad names, addresses and CIDRs are refused before anything is sent", () => {
    const sock = new FakeSocket();
    const nl = new Netlink(sock);
    for (const name of ["", "a-name-of-16-chr", "a/b", "a:1", "a b", ".."]) expect(caught(() => nl.addBridge(name)).kind).toBe("InvalidArgument");
    for (const cidr of ["10.0.0.1", "10.0.0.256/8", "10.0.0.1/33", "10.0.0/8", "10.0.0.1/8/8"]) expect(caught(() => nl.addAddress("br0", cidr)).kind).toBe("InvalidArgument");
    expect(caught(() => nl.addDefaultRoute("fe80::1")).kind).toBe("InvalidArgument");
    expect(caught(() => nl.addVeth("v0", "v1", { peerMac: "02:42:ac:11:00" })).kind).toBe("InvalidArgument");
    expect(sock.sent).toEqual([]);
  });
});

// ---- The real kernel, only inside namespaces made here ----

describe("kernel", () => {
  const tag = randomBytes(3).toString("hex");
  const name = (s: string) => `nlt${tag}${s}`; // at most 15 bytes
  const br = name("br");
  const va = name("a");
  const vb = name("b");
  const net = 10 + (randomBytes(1)[0]! % 200); // 10.199.<net>.0/24, only ever inside the test namespaces
  const ip = (host: number) => `10.199.${net}.${host}`;
  let dir: string;
  let nsA: string;
  let nsB: string;

  const inA = <T>(fn: (nl: Netlink) => T) => inNetns(nsA, () => {
    using nl = Netlink.open();
    return fn(nl);
  });
  const inB = <T>(fn: (nl: Netlink) => T) => inNetns(nsB, () => {
    using nl = Netlink.open();
    return fn(nl);
  });
  const withFd = <T>(path: string, fn: (fd: number) => T) => {
    const fd = openSync(path, "r");
    try {
      return fn(fd);
    } finally {
      closeSync(fd);
    }
  };
  const ipIn = (ns: string | null, ...args: string[]) => {
    const cmd = ns ? ["nsenter", `--net=${ns}`, "ip", "-j", ...args] : ["ip", "-j", ...args];
    return JSON.parse(execFileSync(cmd[0]!, cmd.slice(1), { encoding: "utf8" }) || "[]") as Record<string, any>[];
  };
  const ping = (ns: string, to: string) => execFileSync("nsenter", [`--net=${ns}`, "busybox", "ping", "-c", "1", "-W", "2", to], { encoding: "utf8" });
  const hostLinksOfTest = () => ipIn(null, "link").map((l) => l.ifname as string).filter((n) => n.startsWith(`nlt${tag}`));

  /** `ip -d -j link` in Link's shape. */
  const ipLinks = (ns: string): Link[] => {
    const raw = ipIn(ns, "-d", "link");
    const index = new Map(raw.map((l) => [l.ifname, l.ifindex]));
    return raw.map((l) => ({
      index: l.ifindex,
      name: l.ifname,
      ...(l.linkinfo?.info_kind && { kind: l.linkinfo.info_kind }),
      ...(l.master && { master: index.get(l.master) }),
      up: l.flags.includes("UP"),
      mtu: l.mtu,
      mac: l.address ?? "",
    }));
  };
  const ipAddresses = (ns: string) =>
    ipIn(ns, "-4", "addr").flatMap((l) => l.addr_info.map((a: any) => ({ ifname: l.ifname, cidr: `${a.local}/${a.prefixlen}` })));
  const ipRoutes = (ns: string): Route[] =>
    ipIn(ns, "-4", "route", "show", "table", "all").map((r) => {
      const [dst, prefix] = r.dst === "default" ? ["0.0.0.0", "0"] : (r.dst as string).split("/");
      const table = r.table === undefined || r.table === "main" ? RT_TABLE_MAIN : r.table === "local" ? RT_TABLE_LOCAL : Number(r.table);
      return { dst: dst!, prefix: Number(prefix ?? 32), ...(r.gateway && { gateway: r.gateway }), ...(r.dev && { ifname: r.dev }), table };
    });
  const sorted = <T>(xs: T[]) => [...xs].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

  beforeAll(() => {
    dir = mkdtempSync("/tmp/berth-nltest-");
    nsA = `${dir}/a`;
    nsB = `${dir}/b`;
    createNetns(libcSys, nsA);
    createNetns(libcSys, nsB);
  });
  afterAll(() => {
    removeNetns(libcSys, nsA);
    removeNetns(libcSys, nsB);
    rmSync(dir, { recursive: true, force: true });
  });

  test("a socket opened inside a fresh namespace sees only its loopback", () => {
    // Guards every test below: were inNetns a no-op, this would list the host's links.
    for (const inNs of [inA, inB]) expect(inNs((nl) => nl.links())).toEqual([{ index: 1, name: "lo", up: true, mtu: 65536, mac: "00:00:00:00:00:00" }]);
  });

  test("inNetns enters the namespace and returns to the original, also when fn throws", () => {
    const before = readlinkSync("/proc/thread-self/ns/net");
    expect(inNetns(nsA, () => readlinkSync("/proc/thread-self/ns/net"))).toBe(`net:[${statSync(nsA).ino}]`);
    expect(() => inNetns(nsB, () => { throw new Error("boom"); })).toThrow("boom");
    expect(readlinkSync("/proc/thread-self/ns/net")).toBe(before);
  });

  test("bridge, veth with its peer born in B, enslaved, up, MTU, addresses, default route", () => {
    inA((nl) => {
      nl.addBridge(br, { mtu: 1400 });
      withFd(nsB, (fd) => nl.addVeth(va, vb, { peerNetnsFd: fd, peerMac: "02:42:0a:c7:00:02" }));
      nl.setMaster(va, br);
      nl.setMtu(va, 1400);
      nl.setUp(va);
      nl.setUp(br);
      nl.addAddress(br, `${ip(1)}/24`);
    });
    inB((nl) => {
      nl.setMtu(vb, 1400);
      nl.setUp(vb);
      nl.addAddress(vb, `${ip(2)}/24`);
      nl.addDefaultRoute(ip(1));
    });

    const linksA = inA((nl) => nl.links());
    expect(linksA).toEqual(ipLinks(nsA));
    const bridge = linksA.find((l) => l.name === br)!;
    expect(bridge).toMatchObject({ kind: "bridge", up: true, mtu: 1400 });
    expect(linksA.find((l) => l.name === va)).toMatchObject({ kind: "veth", master: bridge.index, up: true, mtu: 1400 });
    expect(linksA.map((l) => l.name)).not.toContain(vb);

    const linksB = inB((nl) => nl.links());
    expect(linksB).toEqual(ipLinks(nsB));
    expect(linksB.find((l) => l.name === vb)).toMatchObject({ kind: "veth", up: true, mtu: 1400 });
    expect(linksB.find((l) => l.name === vb)!.mac).toBe("02:42:0a:c7:00:02");

    expect(inA((nl) => nl.link(va))).toEqual(linksA.find((l) => l.name === va));
  });

  test("addresses match ip -4 addr, with the broadcast address set", () => {
    expect(inA((nl) => nl.addresses())).toEqual(ipAddresses(nsA));
    expect(inB((nl) => nl.addresses(vb))).toEqual([{ ifname: vb, cidr: `${ip(2)}/24` }]);
    expect(inA((nl) => nl.addresses(br))).toEqual([{ ifname: br, cidr: `${ip(1)}/24` }]);
    expect(ipIn(nsA, "-4", "addr", "show", "dev", br)[0]!.addr_info[0].broadcast).toBe(ip(255));
  });

  test("routes of all tables match ip -4 route show table all", () => {
    const routesB = inB((nl) => nl.routes());
    expect(sorted(routesB)).toEqual(sorted(ipRoutes(nsB)));
    expect(routesB).toContainEqual({ dst: "0.0.0.0", prefix: 0, gateway: ip(1), ifname: vb, table: RT_TABLE_MAIN });
    expect(routesB).toContainEqual({ dst: ip(2), prefix: 32, ifname: vb, table: RT_TABLE_LOCAL });
    expect(sorted(inA((nl) => nl.routes()))).toEqual(sorted(ipRoutes(nsA)));
  });

  test("ping across the veth, both ways, between the test namespaces' own addresses", () => {
    expect(ping(nsB, ip(1))).toMatch(/1 packets received/);
    expect(ping(nsA, ip(2))).toMatch(/1 packets received/);
  });

  test("errors name the interface and carry the right kind", () => {
    const exists = caught(() => inA((nl) => nl.addBridge(br)));
    expect(exists.kind).toBe("AlreadyExists");
    expect(exists.message).toBe(`netlink RTM_NEWLINK ${br}: EEXIST (file exists)`);
    expect(caught(() => inA((nl) => nl.addVeth(va, name("c")))).kind).toBe("AlreadyExists");
    expect(caught(() => inA((nl) => nl.addAddress(br, `${ip(1)}/24`))).kind).toBe("AlreadyExists");
    expect(caught(() => inB((nl) => nl.addDefaultRoute(ip(1)))).kind).toBe("AlreadyExists");

    const gone = caught(() => inA((nl) => nl.deleteLink(name("zz"))));
    expect(gone.kind).toBe("NotFound");
    expect(gone.message).toContain(name("zz"));
    expect(caught(() => inA((nl) => nl.setMaster(va, name("zz")))).kind).toBe("NotFound");
    expect(caught(() => inA((nl) => nl.addAddress(name("zz"), `${ip(9)}/24`))).kind).toBe("NotFound");
    expect(caught(() => inA((nl) => nl.setUp(vb))).kind).toBe("NotFound"); // it lives in B

    const mtu = caught(() => inA((nl) => nl.setMtu(va, 70000)));
    expect(mtu.kind).toBe("InvalidArgument");
    expect(mtu.message).toMatch(new RegExp(`^netlink RTM_NEWLINK ${va} \\(.*mtu.*\\): EINVAL`, "i"));
    expect(caught(() => inA((nl) => nl.rename(va, br))).message).toBe(`netlink RTM_NEWLINK ${va} -> ${br}: EEXIST (file exists)`);
  });

  test("rename and setNetns; deleting one end of a veth takes its peer along", () => {
    const [a2, b2, a3] = [name("a2"), name("b2"), name("a3")];
    inA((nl) => {
      nl.addVeth(a2, b2);
      nl.rename(a2, a3);
      withFd(nsB, (fd) => nl.setNetns(b2, fd));
    });
    expect(ipLinks(nsA).map((l) => l.name)).toEqual(expect.arrayContaining([a3]));
    expect(ipLinks(nsA).map((l) => l.name)).not.toContain(a2);
    expect(ipLinks(nsA).map((l) => l.name)).not.toContain(b2);
    expect(inB((nl) => nl.link(b2)).kind).toBe("veth");
    inA((nl) => nl.deleteLink(a3));
    expect(ipLinks(nsB).map((l) => l.name)).not.toContain(b2);
  });

  test("a socket opened inside a namespace keeps working there after inNetns returns", () => {
    const nl = inNetns(nsA, () => Netlink.open());
    try {
      nl.addBridge(name("br2"));
      expect(ipLinks(nsA).map((l) => l.name)).toContain(name("br2"));
      expect(hostLinksOfTest()).toEqual([]);
      nl.deleteLink(name("br2"));
      expect(nl.links().map((l) => l.name).sort()).toEqual(ipLinks(nsA).map((l) => l.name).sort());
    } finally {
      nl.close();
    }
  });

  test("timing: addVeth + setMaster + setUp + addAddress", () => {
    const runs: number[] = [];
    inA((nl) => withFd(nsB, (fd) => {
      for (let i = 0; i < 7; i++) {
        const t0 = performance.now();
        nl.addVeth(name(`t${i}`), name(`u${i}`), { peerNetnsFd: fd });
        nl.setMaster(name(`t${i}`), br);
        nl.setUp(name(`t${i}`));
        nl.addAddress(name(`t${i}`), `10.198.${i}.1/24`);
        runs.push(performance.now() - t0);
      }
    }));
    const ms = runs.map((t) => t.toFixed(3));
    console.log(`addVeth+setMaster+setUp+addAddress, ms per run: ${ms.join(" ")}; median ${[...runs].sort((a, b) => a - b)[3]!.toFixed(3)}`);
    const links = ipLinks(nsA);
    const bridge = links.find((l) => l.name === br)!;
    for (let i = 0; i < 7; i++) {
      expect(links.find((l) => l.name === name(`t${i}`))).toMatchObject({ master: bridge.index, up: true });
      expect(ipAddresses(nsA)).toContainEqual({ ifname: name(`t${i}`), cidr: `10.198.${i}.1/24` });
    }
    inA((nl) => {
      for (let i = 0; i < 7; i++) nl.deleteLink(name(`t${i}`));
    });
    expect(ipLinks(nsB).map((l) => l.name).filter((n) => n.startsWith(name("u")))).toEqual([]);
  });

  test("cleanup: delete everything, remove the namespaces, nothing left on the host", () => {
    inA((nl) => {
      nl.deleteLink(va);
      nl.deleteLink(br);
      expect(nl.links().map((l) => l.name)).toEqual(["lo"]);
    });
    expect(inB((nl) => nl.links().map((l) => l.name))).toEqual(["lo"]); // vb went with va
    removeNetns(libcSys, nsA);
    removeNetns(libcSys, nsB);
    expect(existsSync(nsA) || existsSync(nsB)).toBe(false);
    expect(hostLinksOfTest()).toEqual([]);
  });
});
