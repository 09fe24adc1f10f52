// A small rtnetlink client: links (bridges, veth pairs), IPv4 addresses and
// routes, without spawning `ip` (a process per step costs milliseconds, a
// netlink round trip microseconds). Calls are synchronous. A socket belongs
// to the network namespace of the thread that opened it, for its whole life:
// open one inside inNetns and it keeps working there from anywhere.
//
// A message (linux/netlink.h) is an nlmsghdr, a fixed family header
// (ifinfomsg, ifaddrmsg, rtmsg), then attributes {u16 len, u16 type, data},
// each padded to 4 bytes. Integers are in host byte order (little endian on
// x86_64 and aarch64), addresses in network order. Encoding and decoding are
// pure functions; the socket is behind NetlinkSocket so tests can fake it.
import { dlopen, FFIType, read } from "bun:ffi";
import { closeSync, openSync } from "node:fs";
import { internal, invalidArgument, SysError, unavailable } from "../errors.ts";
import { CLONE, ERRNO_NAMES } from "./index.ts";
import { libcSys } from "./libc.ts";

// linux/netlink.h
export const NLMSG = { ERROR: 2, DONE: 3 } as const;
export const NLM_F = {
  REQUEST: 0x1,
  ACK: 0x4,
  DUMP_INTR: 0x10,
  DUMP: 0x300, // NLM_F_ROOT | NLM_F_MATCH
  EXCL: 0x200,
  CREATE: 0x400,
  // Flags of an NLMSG_ERROR answer.
  CAPPED: 0x100,
  ACK_TLVS: 0x200,
} as const;
const NLMSGERR_ATTR_MSG = 1;
const NLA_TYPE_MASK = 0x3fff; // without NLA_F_NESTED and NLA_F_NET_BYTEORDER

// linux/rtnetlink.h
export const RTM = {
  NEWLINK: 16, DELLINK: 17, GETLINK: 18,
  NEWADDR: 20, GETADDR: 22,
  NEWROUTE: 24, GETROUTE: 26,
} as const;
export const RTA = { DST: 1, OIF: 4, GATEWAY: 5, TABLE: 15 } as const;
export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;
const RTPROT_BOOT = 3; // what `ip route add` sets
const RT_SCOPE_UNIVERSE = 0;
const RTN_UNICAST = 1;

// linux/if_link.h, linux/if_addr.h, linux/veth.h
export const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4, MASTER: 10, LINKINFO: 18, NET_NS_FD: 28 } as const;
export const IFLA_INFO = { KIND: 1, DATA: 2 } as const;
export const VETH_INFO = { PEER: 1 } as const;
export const IFA = { ADDRESS: 1, LOCAL: 2, BROADCAST: 4 } as const;
export const IFF_UP = 0x1;

const AF_UNSPEC = 0;
const AF_INET = 2;
const AF_NETLINK = 16;
const NETLINK_ROUTE = 0;

// ---- Encoding ----------------------------------------------------------

/** One attribute: its type and its already encoded payload. */
export type Attr = [type: number, value: Uint8Array];

const align = (n: number) => (n + 3) & ~3;
const viewOf = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const encoder = new TextEncoder();

export function u32Attr(type: number, n: number): Attr {
  const b = new Uint8Array(4);
  viewOf(b).setUint32(0, n, true);
  return [type, b];
}

const mtuAttr = (mtu: number | undefined): Attr[] => (mtu === undefined ? [] : [u32Attr(IFLA.MTU, mtu)]);

export const strAttr = (type: number, s: string): Attr => [type, encoder.encode(`${s}\0`)];
// Without NLA_F_NESTED, as iproute2 sends them: rtnetlink's link attributes predate the flag.
export const nestAttr = (type: number, attrs: Attr[]): Attr => [type, encodeAttrs(attrs)];

/** An interface name attribute, refused here when the kernel would refuse it (dev_valid_name). */
export function ifnameAttr(name: string): Attr {
  const length = encoder.encode(name).length;
  if (length === 0 || length > 15 || name === "." || name === ".." || /[/:\s]/.test(name)) {
    throw invalidArgument(`invalid interface name "${name}"`, "use 1 to 15 bytes, no '/', ':' or whitespace");
  }
  return strAttr(IFLA.IFNAME, name);
}

export function encodeAttrs(attrs: Attr[]): Uint8Array {
  const out = new Uint8Array(attrs.reduce((n, [, v]) => n + align(4 + v.length), 0));
  const view = viewOf(out);
  let off = 0;
  for (const [type, value] of attrs) {
    view.setUint16(off, 4 + value.length, true); // rta_len counts the payload, not the padding
    view.setUint16(off + 2, type, true);
    out.set(value, off + 4);
    off += align(4 + value.length);
  }
  return out;
}

/** A whole message. `header` is the family header; all of them are multiples of 4 bytes. */
export function encodeMessage(type: number, flags: number, seq: number, header: Uint8Array, attrs: Attr[] = []): Uint8Array {
  const body = encodeAttrs(attrs);
  const msg = new Uint8Array(16 + header.length + body.length);
  const view = viewOf(msg);
  view.setUint32(0, msg.length, true);
  view.setUint16(4, type, true);
  view.setUint16(6, flags, true);
  view.setUint32(8, seq, true);
  // nlmsg_pid 0: addressed to the kernel.
  msg.set(header, 16);
  msg.set(body, 16 + header.length);
  return msg;
}

/** struct ifinfomsg: family, pad, type, index, flags, change. */
export function ifinfomsg({ index = 0, flags = 0, change = 0 } = {}): Uint8Array {
  const b = new Uint8Array(16);
  const view = viewOf(b);
  view.setUint8(0, AF_UNSPEC);
  view.setInt32(4, index, true);
  view.setUint32(8, flags, true);
  view.setUint32(12, change, true);
  return b;
}

/** struct ifaddrmsg: family, prefixlen, flags, scope, index. */
export function ifaddrmsg(prefixlen = 0, index = 0): Uint8Array {
  const b = new Uint8Array(8);
  const view = viewOf(b);
  view.setUint8(0, AF_INET);
  view.setUint8(1, prefixlen);
  view.setUint8(3, RT_SCOPE_UNIVERSE);
  view.setUint32(4, index, true);
  return b;
}

/** struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags. */
export function rtmsg({ dstLen = 0, table = 0, protocol = 0, scope = 0, type = 0 } = {}): Uint8Array {
  const b = new Uint8Array(12);
  b.set([AF_INET, dstLen, 0, 0, table, protocol, scope, type]);
  return b;
}

export function parseIPv4(s: string): Uint8Array {
  const parts = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s)?.slice(1).map(Number);
  if (!parts || parts.some((p) => p > 255)) throw invalidArgument(`invalid IPv4 address "${s}"`);
  return new Uint8Array(parts);
}

export function parseCidr(cidr: string): { addr: Uint8Array; prefix: number } {
  const [addr, prefix, ...rest] = cidr.split("/");
  if (prefix === undefined || rest.length > 0 || !/^\d{1,2}$/.test(prefix) || Number(prefix) > 32) {
    throw invalidArgument(`invalid IPv4 CIDR "${cidr}"`, 'write it as "172.18.0.1/16"');
  }
  return { addr: parseIPv4(addr!), prefix: Number(prefix) };
}

const formatIPv4 = (b: Uint8Array) => b.join(".");

export function parseMac(s: string): Uint8Array {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(s)) throw invalidArgument(`invalid MAC address "${s}"`, 'write it as "02:42:ac:11:00:02"');
  return new Uint8Array(s.split(":").map((h) => parseInt(h, 16)));
}

function broadcastOf(addr: Uint8Array, prefix: number): Uint8Array {
  const host = prefix === 0 ? 0xffffffff : (1 << (32 - prefix)) - 1;
  const b = new Uint8Array(4);
  const view = viewOf(b);
  view.setUint32(0, (viewOf(addr).getUint32(0) | host) >>> 0);
  return b;
}

// ---- Decoding ----------------------------------------------------------

export interface Message {
  type: number;
  flags: number;
  seq: number;
  /** What follows the nlmsghdr: a view into the received buffer. */
  data: Uint8Array;
}

export interface Link {
  index: number;
  name: string;
  kind?: string;
  /** Index of the bridge (or bond) this link is enslaved to. */
  master?: number;
  up: boolean;
  mtu: number;
  /** "" when the link has no hardware address. */
  mac: string;
}

export interface Address {
  ifname: string;
  cidr: string;
}

export interface Route {
  dst: string;
  prefix: number;
  gateway?: string;
  /** Absent when the route has no single device (multipath, blackhole). */
  ifname?: string;
  table: number;
}

/** The messages in one received datagram. */
export function decodeMessages(buf: Uint8Array): Message[] {
  const view = viewOf(buf);
  const out: Message[] = [];
  for (let off = 0; off < buf.length; ) {
    const len = off + 16 <= buf.length ? view.getUint32(off, true) : 0;
    if (len < 16 || off + len > buf.length) throw internal(`netlink: malformed message at byte ${off} of ${buf.length}`);
    out.push({ type: view.getUint16(off + 4, true), flags: view.getUint16(off + 6, true), seq: view.getUint32(off + 8, true), data: buf.subarray(off + 16, off + len) });
    off += align(len);
  }
  return out;
}

/** Attributes from `offset` on, by type (the last one wins; none repeats in what we read). */
export function decodeAttrs(data: Uint8Array, offset = 0): Map<number, Uint8Array> {
  const view = viewOf(data);
  const out = new Map<number, Uint8Array>();
  for (let off = offset; off < data.length; ) {
    const len = off + 4 <= data.length ? view.getUint16(off, true) : 0;
    if (len < 4 || off + len > data.length) throw internal(`netlink: malformed attribute at byte ${off} of ${data.length}`);
    out.set(view.getUint16(off + 2, true) & NLA_TYPE_MASK, data.subarray(off + 4, off + len));
    off += align(len);
  }
  return out;
}

/** The errno (positive, 0 for success) of an NLMSG_ERROR or NLMSG_DONE, and the kernel's reason if it gave one. */
export function decodeStatus(m: Message): { errno: number; reason?: string } {
  const view = viewOf(m.data);
  const errno = m.data.length >= 4 ? 0 - view.getInt32(0, true) : 0; // 0 - 0 is +0, unlike -0
  if (m.type !== NLMSG.ERROR || !(m.flags & NLM_F.ACK_TLVS)) return { errno };
  // struct nlmsgerr: the error, then our request's header (or all of it, unless capped), then TLVs.
  const echoed = m.flags & NLM_F.CAPPED ? 16 : view.getUint32(4, true);
  const msg = decodeAttrs(m.data, 4 + align(echoed)).get(NLMSGERR_ATTR_MSG);
  return msg ? { errno, reason: str(msg) } : { errno };
}

const decoder = new TextDecoder();
const str = (b: Uint8Array) => decoder.decode(b).replace(/\0+$/, "");
const u32 = (b: Uint8Array) => viewOf(b).getUint32(0, true);
const mac = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");

/** An RTM_NEWLINK answer's data. */
export function decodeLink(data: Uint8Array): Link {
  const view = viewOf(data);
  const attrs = decodeAttrs(data, 16);
  const info = attrs.get(IFLA.LINKINFO);
  const kind = info && decodeAttrs(info).get(IFLA_INFO.KIND);
  const master = attrs.get(IFLA.MASTER);
  const address = attrs.get(IFLA.ADDRESS);
  return {
    index: view.getInt32(4, true),
    name: str(attrs.get(IFLA.IFNAME) ?? new Uint8Array()),
    ...(kind && { kind: str(kind) }),
    ...(master && { master: u32(master) }),
    up: (view.getUint32(8, true) & IFF_UP) !== 0,
    mtu: u32(attrs.get(IFLA.MTU) ?? new Uint8Array(4)),
    mac: address ? mac(address) : "",
  };
}

/** An RTM_NEWADDR answer's data (IPv4). */
export function decodeAddress(data: Uint8Array): { index: number; cidr: string } {
  const attrs = decodeAttrs(data, 8);
  // IFA_LOCAL is our side; IFA_ADDRESS is the peer's on a point-to-point link.
  const addr = attrs.get(IFA.LOCAL) ?? attrs.get(IFA.ADDRESS) ?? new Uint8Array(4);
  return { index: viewOf(data).getUint32(4, true), cidr: `${formatIPv4(addr)}/${data[1]}` };
}

/** An RTM_NEWROUTE answer's data (IPv4). */
export function decodeRoute(data: Uint8Array): Omit<Route, "ifname"> & { oif?: number } {
  const attrs = decodeAttrs(data, 12);
  const dst = attrs.get(RTA.DST);
  const gateway = attrs.get(RTA.GATEWAY);
  const oif = attrs.get(RTA.OIF);
  const table = attrs.get(RTA.TABLE); // rtm_table is one byte; RTA_TABLE holds all ids
  return {
    dst: dst ? formatIPv4(dst) : "0.0.0.0",
    prefix: data[1]!,
    ...(gateway && { gateway: formatIPv4(gateway) }),
    ...(oif && { oif: u32(oif) }),
    table: table ? u32(table) : data[4]!,
  };
}

// ---- The socket --------------------------------------------------------

export interface NetlinkSocket {
  send(msg: Uint8Array): void;
  /** One datagram; the view is valid until the next recv. */
  recv(): Uint8Array;
  close(): void;
}

const { i32, i64, u64 } = FFIType;
const U32 = FFIType.u32;
const P = FFIType.ptr;

function load() {
  return dlopen("libc.so.6", {
    __errno_location: { args: [], returns: P },
    socket: { args: [i32, i32, i32], returns: i32 },
    setsockopt: { args: [i32, i32, i32, P, U32], returns: i32 },
    bind: { args: [i32, P, U32], returns: i32 },
    send: { args: [i32, P, u64, i32], returns: i64 },
    recv: { args: [i32, P, u64, i32], returns: i64 },
    close: { args: [i32], returns: i32 },
  }).symbols;
}

let lib: ReturnType<typeof load> | undefined;
const libc = () => (lib ??= load());
const errno = () => read.i32(libc().__errno_location()!, 0);

function fail(call: string): never {
  const e = errno();
  throw new SysError(call, e, ERRNO_NAMES[e] ?? `errno ${e}`);
}

function check(rc: number | bigint, call: string) {
  if (Number(rc) < 0) fail(call);
}

const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const MSG_TRUNC = 0x20;
const EINTR = 4;
// Dump datagrams are at most 32 KiB (netlink_dump); one answer to a request is smaller.
const RECV_SIZE = 65536;

function kernelSocket(): NetlinkSocket {
  let fd = libc().socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  check(fd, "socket(AF_NETLINK)");
  try {
    // Errors come with the kernel's reason as text, and without a copy of our request.
    const one = new Int32Array([1]);
    check(libc().setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4), "setsockopt(NETLINK_EXT_ACK)");
    check(libc().setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 4), "setsockopt(NETLINK_CAP_ACK)");
    const addr = new Uint8Array(12); // struct sockaddr_nl; nl_pid 0: the kernel assigns our port
    viewOf(addr).setUint16(0, AF_NETLINK, true);
    check(libc().bind(fd, addr, addr.length), "bind(AF_NETLINK)");
  } catch (err) {
    libc().close(fd);
    throw err;
  }
  const buf = new Uint8Array(RECV_SIZE);
  return {
    send(msg) {
      check(libc().send(fd, msg, msg.length, 0), "send(netlink)");
    },
    recv() {
      for (;;) {
        // MSG_TRUNC: the datagram's real length, so a cut one is an error rather than garbage.
        const n = Number(libc().recv(fd, buf, buf.length, MSG_TRUNC));
        if (n > buf.length) throw internal(`netlink: a ${n}-byte answer does not fit the ${buf.length}-byte buffer`);
        if (n >= 0) return buf.subarray(0, n);
        if (errno() !== EINTR) fail("recv(netlink)");
      }
    },
    close() {
      // Once only: a second close could hit a descriptor reused since.
      if (fd >= 0) libc().close(fd);
      fd = -1;
    },
  };
}

// ---- The client --------------------------------------------------------

const RTM_NAMES = Object.fromEntries(Object.entries(RTM).map(([k, v]) => [v, `RTM_${k}`]));

function netlinkError(type: number, errno: number, subject: string, reason?: string) {
  const code = ERRNO_NAMES[errno] ?? `errno ${errno}`;
  // rtnetlink answers ENODEV for a name or index that matches no interface.
  const about = [subject, reason && `(${reason})`].filter(Boolean).join(" ");
  return new SysError(`netlink ${RTM_NAMES[type]}`, errno, code, about, code === "ENODEV" ? "NotFound" : undefined);
}

const NEW = NLM_F.CREATE | NLM_F.EXCL;
const DUMP_ATTEMPTS = 5;

/**
 * One NETLINK_ROUTE socket, in the network namespace of the thread that
 * opened it. It keeps that namespace (and its interfaces) alive until closed.
 */
export class Netlink {
  private seq = 0;

  constructor(private readonly sock: NetlinkSocket) {}

  static open(): Netlink {
    return new Netlink(kernelSocket());
  }

  close() {
    this.sock.close();
  }

  [Symbol.dispose]() {
    this.close();
  }

  addBridge(name: string, opts: { mtu?: number } = {}) {
    const attrs = [ifnameAttr(name), ...mtuAttr(opts.mtu), nestAttr(IFLA.LINKINFO, [strAttr(IFLA_INFO.KIND, "bridge")])];
    this.change(RTM.NEWLINK, NEW, ifinfomsg(), attrs, name);
  }

  /** A veth pair; the peer is born in the namespace of `peerNetnsFd` if given, with `peerMac` if given. */
  addVeth(name: string, peer: string, opts: { mtu?: number; peerNetnsFd?: number; peerMac?: string } = {}) {
    const peerAttrs = [ifnameAttr(peer), ...mtuAttr(opts.mtu)];
    if (opts.peerNetnsFd !== undefined) peerAttrs.push(u32Attr(IFLA.NET_NS_FD, opts.peerNetnsFd));
    if (opts.peerMac !== undefined) peerAttrs.push([IFLA.ADDRESS, parseMac(opts.peerMac)]);
    // VETH_INFO_PEER is no plain nest: the peer's own ifinfomsg comes before its attributes.
    const peerInfo: Attr = [VETH_INFO.PEER, new Uint8Array([...ifinfomsg(), ...encodeAttrs(peerAttrs)])];
    const linkinfo = nestAttr(IFLA.LINKINFO, [strAttr(IFLA_INFO.KIND, "veth"), nestAttr(IFLA_INFO.DATA, [peerInfo])]);
    this.change(RTM.NEWLINK, NEW, ifinfomsg(), [ifnameAttr(name), ...mtuAttr(opts.mtu), linkinfo], `${name} (peer ${peer})`);
  }

  /** Enslave a link to a bridge. */
  setMaster(ifname: string, master: string) {
    this.setLink(ifname, [u32Attr(IFLA.MASTER, this.link(master).index)]);
  }

  setUp(ifname: string) {
    this.setLink(ifname, [], ifinfomsg({ flags: IFF_UP, change: IFF_UP }));
  }

  setMtu(ifname: string, mtu: number) {
    this.setLink(ifname, mtuAttr(mtu));
  }

  /** Move a link into the network namespace open at `netnsFd`. */
  setNetns(ifname: string, netnsFd: number) {
    this.setLink(ifname, [u32Attr(IFLA.NET_NS_FD, netnsFd)]);
  }

  /** Rename a link (kernels before 6.2 refuse while it is up: EBUSY). */
  rename(ifname: string, newName: string) {
    // By index, since IFLA_IFNAME now carries the new name.
    const { index } = this.link(ifname);
    this.change(RTM.NEWLINK, 0, ifinfomsg({ index }), [ifnameAttr(newName)], `${ifname} -> ${newName}`);
  }

  /** Delete a link (a veth takes its peer with it); NotFound if there is none of that name. */
  deleteLink(ifname: string) {
    this.change(RTM.DELLINK, 0, ifinfomsg(), [ifnameAttr(ifname)], ifname);
  }

  /** One link by name; NotFound if there is none. */
  link(ifname: string): Link {
    return this.exchange(RTM.GETLINK, NLM_F.ACK, ifinfomsg(), [ifnameAttr(ifname)], ifname, decodeLink).replies[0]!;
  }

  links(): Link[] {
    return this.dump(RTM.GETLINK, ifinfomsg(), decodeLink);
  }

  /** Add an IPv4 address ("172.18.0.1/16"), with its broadcast address as Docker's bridge has. */
  addAddress(ifname: string, cidr: string) {
    const { addr, prefix } = parseCidr(cidr);
    const { index } = this.link(ifname);
    const attrs: Attr[] = [[IFA.LOCAL, addr], [IFA.ADDRESS, addr]];
    // /31 and /32 have no broadcast address (RFC 3021).
    if (prefix <= 30) attrs.push([IFA.BROADCAST, broadcastOf(addr, prefix)]);
    this.change(RTM.NEWADDR, NEW, ifaddrmsg(prefix, index), attrs, `${cidr} on ${ifname}`);
  }

  /** IPv4 addresses, of one link or of all. */
  addresses(ifname?: string): Address[] {
    const names = ifname === undefined ? this.names() : new Map([[this.link(ifname).index, ifname]]);
    // Without strict checking the kernel dumps every link's addresses; filter here.
    return this.dump(RTM.GETADDR, ifaddrmsg(), decodeAddress)
      .filter((a) => names.has(a.index))
      .map((a) => ({ ifname: names.get(a.index)!, cidr: a.cidr }));
  }

  /** A default route in the main table. */
  addDefaultRoute(gateway: string) {
    const header = rtmsg({ table: RT_TABLE_MAIN, protocol: RTPROT_BOOT, scope: RT_SCOPE_UNIVERSE, type: RTN_UNICAST });
    this.change(RTM.NEWROUTE, NEW, header, [[RTA.GATEWAY, parseIPv4(gateway)]], `default via ${gateway}`);
  }

  /** IPv4 routes of all tables (main, local, and any other). */
  routes(): Route[] {
    const names = this.names();
    return this.dump(RTM.GETROUTE, rtmsg(), decodeRoute).map(({ oif, ...r }) => {
      const ifname = oif === undefined ? undefined : names.get(oif);
      return ifname === undefined ? r : { ...r, ifname };
    });
  }

  private names() {
    return new Map(this.links().map((l) => [l.index, l.name]));
  }

  /** Change an existing link found by name (ifi_index 0 and IFLA_IFNAME). */
  private setLink(ifname: string, attrs: Attr[], header = ifinfomsg()) {
    this.change(RTM.NEWLINK, 0, header, [ifnameAttr(ifname), ...attrs], ifname);
  }

  private change(type: number, flags: number, header: Uint8Array, attrs: Attr[], subject: string) {
    this.exchange(type, NLM_F.ACK | flags, header, attrs, subject);
  }

  private dump<T>(type: number, header: Uint8Array, decode: (data: Uint8Array) => T): T[] {
    for (let attempt = 1; ; attempt++) {
      const { replies, interrupted } = this.exchange(type, NLM_F.DUMP, header, [], "", decode);
      if (!interrupted) return replies;
      // The kernel flags a dump that the tables changed under; only a fresh one is consistent.
      if (attempt === DUMP_ATTEMPTS) throw unavailable(`netlink ${RTM_NAMES[type]}: the dump changed under concurrent updates ${attempt} times`);
    }
  }

  /**
   * Send one request and decode its answers up to the ACK (NLMSG_ERROR, error 0)
   * or, for a dump, NLMSG_DONE. A negative error becomes a SysError.
   */
  private exchange<T>(type: number, flags: number, header: Uint8Array, attrs: Attr[], subject: string, decode?: (data: Uint8Array) => T) {
    const seq = (this.seq = (this.seq + 1) >>> 0);
    this.sock.send(encodeMessage(type, NLM_F.REQUEST | flags, seq, header, attrs));
    const replies: T[] = [];
    let interrupted = false;
    for (;;) {
      // Decode each datagram before the next recv reuses its buffer.
      for (const m of decodeMessages(this.sock.recv())) {
        if (m.seq !== seq) continue; // a late answer to an earlier request that failed midway
        if (m.flags & NLM_F.DUMP_INTR) interrupted = true;
        if (m.type === NLMSG.ERROR || m.type === NLMSG.DONE) {
          const { errno, reason } = decodeStatus(m);
          if (errno !== 0) throw netlinkError(type, errno, subject, reason);
          return { replies, interrupted };
        }
        if (decode) replies.push(decode(m.data));
      }
    }
  }
}

/**
 * Run fn with the calling (main) thread inside the network namespace pinned
 * at `path` (a bind-mounted nsfs file), then return to the original one, also
 * when fn throws. Namespaces are per thread, and fn must be synchronous:
 * whatever runs after an await is back in the original namespace.
 */
export function inNetns<T>(path: string, fn: () => T): T {
  const original = openSync("/proc/thread-self/ns/net", "r");
  try {
    const target = openSync(path, "r");
    try {
      libcSys.setns(target, CLONE.NEWNET);
    } finally {
      closeSync(target);
    }
    try {
      return fn();
    } finally {
      libcSys.setns(original, CLONE.NEWNET);
    }
  } finally {
    closeSync(original);
  }
}
