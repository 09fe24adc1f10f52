// DNS messages (RFC 1035 §4): what the embedded DNS server needs to read
// queries and write its own answers. Names are in presentation form without
// the trailing dot ("web.mynet"; "" is the root). Inside a label, "." and
// "\" are escaped and bytes that are not printable ASCII written "\DDD", as
// in zone files: a label can never pass for two, and a name read and
// written again comes back byte for byte.
import { invalidArgument } from "../errors.ts";

export const TYPE = { A: 1, PTR: 12, AAAA: 28, OPT: 41 } as const;
export const CLASS_IN = 1;
export const RCODE = { NOERROR: 0, SERVFAIL: 2, REFUSED: 5 } as const;

export interface Question {
  name: string;
  type: number;
  class: number;
}

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** A: the dotted address; PTR: the name pointed to; other types: the raw RDATA. */
  data: string | Uint8Array;
}

export interface Message {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  rcode: number;
  questions: Question[];
  answers: ResourceRecord[];
  authority: ResourceRecord[];
  /** Without the OPT pseudo-record, which is `edns`. */
  additional: ResourceRecord[];
  /** The OPT record (RFC 6891): the UDP payload size its sender accepts. */
  edns?: { udpSize: number };
}

/** The size of an OPT record without options: root name, type, class, TTL, RDLENGTH. */
const OPT_SIZE = 11;

/** Reads a message; throws InvalidArgument on anything malformed, trailing bytes included. */
export function decodeMessage(bytes: Uint8Array): Message {
  const r = new Reader(bytes);
  const id = r.u16();
  const flags = r.u16();
  const counts = [r.u16(), r.u16(), r.u16(), r.u16()] as const;
  const msg: Message = {
    id,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x400) !== 0,
    tc: (flags & 0x200) !== 0,
    rd: (flags & 0x100) !== 0,
    ra: (flags & 0x80) !== 0,
    rcode: flags & 0xf,
    questions: [],
    answers: [],
    authority: [],
    additional: [],
  };
  for (let i = 0; i < counts[0]; i++) msg.questions.push({ name: r.name(), type: r.u16(), class: r.u16() });
  for (let i = 0; i < counts[1]; i++) msg.answers.push(r.record());
  for (let i = 0; i < counts[2]; i++) msg.authority.push(r.record());
  for (let i = 0; i < counts[3]; i++) {
    const at = r.pos;
    const rec = r.record();
    if (rec.type !== TYPE.OPT) msg.additional.push(rec);
    else if (msg.edns || rec.name !== "") throw malformed("a second OPT record, or one not owned by the root", at);
    else msg.edns = { udpSize: rec.class };
  }
  if (r.pos !== bytes.length) throw malformed(`${bytes.length - r.pos} trailing bytes`, r.pos);
  return msg;
}

/**
 * Writes a message, names compressed. The records that would take it past
 * `limit` bytes are left out and TC set (RFC 2181 §9): the client asks again
 * over TCP. The OPT record always fits (RFC 6891 §7).
 */
export function encodeMessage(msg: Message, limit = 65535): Uint8Array {
  const w = new Writer();
  w.u16(msg.id);
  w.u16(0); // flags, once TC is known
  w.u16(msg.questions.length);
  w.u16(0); // the record counts, once known
  w.u16(0);
  w.u16(0);
  for (const q of msg.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  const room = limit - (msg.edns ? OPT_SIZE : 0);
  const counts = [0, 0, 0];
  let tc = msg.tc;
  fill: for (const [section, records] of [msg.answers, msg.authority, msg.additional].entries()) {
    for (const rec of records) {
      const mark = w.out.length;
      w.record(rec);
      if (w.out.length > room) {
        // No name is written after this, so no pointer can reach the bytes dropped.
        w.out.length = mark;
        tc = true;
        break fill;
      }
      counts[section]!++;
    }
  }
  if (msg.edns) {
    w.u8(0);
    w.u16(TYPE.OPT);
    w.u16(msg.edns.udpSize);
    w.u32(0);
    w.u16(0);
  }
  const flags =
    (msg.qr ? 0x8000 : 0) |
    ((msg.opcode & 0xf) << 11) |
    (msg.aa ? 0x400 : 0) |
    (tc ? 0x200 : 0) |
    (msg.rd ? 0x100 : 0) |
    (msg.ra ? 0x80 : 0) |
    (msg.rcode & 0xf);
  w.set16(2, flags);
  w.set16(6, counts[0]!);
  w.set16(8, counts[1]!);
  w.set16(10, counts[2]! + (msg.edns ? 1 : 0));
  return Uint8Array.from(w.out);
}

function malformed(what: string, at: number) {
  return invalidArgument(`DNS message: ${what} at byte ${at}`);
}

class Reader {
  pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  private need(n: number, at = this.pos): void {
    if (at + n > this.bytes.length) throw malformed(`${n} bytes expected, the message ends`, at);
  }

  u16(): number {
    this.need(2);
    const v = (this.bytes[this.pos]! << 8) | this.bytes[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(): number {
    return this.u16() * 0x10000 + this.u16();
  }

  name(): string {
    const labels: string[] = [];
    let at = this.pos;
    // Every pointer must go back before the last one's target, so that
    // pointers cannot loop; reading goes on after the first one.
    let floor = at;
    let after = -1;
    let size = 1; // the root's zero byte
    for (;;) {
      this.need(1, at);
      const len = this.bytes[at]!;
      if (len === 0) break;
      if ((len & 0xc0) === 0xc0) {
        this.need(2, at);
        const target = ((len & 0x3f) << 8) | this.bytes[at + 1]!;
        if (target >= floor) throw malformed("a compression pointer that does not point back", at);
        if (after < 0) after = at + 2;
        at = floor = target;
        continue;
      }
      if (len > 63) throw malformed(`label type 0x${(len & 0xc0).toString(16)}`, at);
      this.need(1 + len, at);
      size += 1 + len;
      if (size > 255) throw malformed("a name longer than 255 bytes", this.pos);
      labels.push(escapeLabel(this.bytes.subarray(at + 1, at + 1 + len)));
      at += 1 + len;
    }
    this.pos = after < 0 ? at + 1 : after;
    return labels.join(".");
  }

  record(): ResourceRecord {
    const name = this.name();
    const type = this.u16();
    const klass = this.u16();
    const ttl = this.u32();
    const length = this.u16();
    this.need(length);
    const start = this.pos;
    const end = start + length;
    let data: string | Uint8Array;
    if (type === TYPE.A) {
      if (length !== 4) throw malformed(`an A record of ${length} bytes`, start);
      data = this.bytes.subarray(start, end).join(".");
      this.pos = end;
    } else if (type === TYPE.PTR) {
      data = this.name();
      if (this.pos !== end) throw malformed("PTR data that is not one name", start);
    } else {
      data = this.bytes.slice(start, end);
      this.pos = end;
    }
    return { name, type, class: klass, ttl, data };
  }
}

class Writer {
  readonly out: number[] = [];
  /** Where each name suffix already written starts, for pointers to it. */
  private readonly names = new Map<string, number>();

  u8(v: number): void {
    this.out.push(v & 0xff);
  }

  u16(v: number): void {
    this.out.push((v >> 8) & 0xff, v & 0xff);
  }

  u32(v: number): void {
    this.u16(Math.floor(v / 0x10000));
    this.u16(v);
  }

  set16(at: number, v: number): void {
    this.out[at] = (v >> 8) & 0xff;
    this.out[at + 1] = v & 0xff;
  }

  name(name: string): void {
    const { labels, starts } = parseName(name);
    for (const [i, label] of labels.entries()) {
      // The presentation text from a label on stands for that suffix alone.
      const suffix = name.slice(starts[i]);
      const at = this.names.get(suffix);
      if (at !== undefined) return this.u16(0xc000 | at);
      if (this.out.length < 0x4000) this.names.set(suffix, this.out.length);
      this.u8(label.length);
      this.out.push(...label);
    }
    this.u8(0);
  }

  record(rec: ResourceRecord): void {
    this.name(rec.name);
    this.u16(rec.type);
    this.u16(rec.class);
    this.u32(rec.ttl);
    const at = this.out.length;
    this.u16(0); // RDLENGTH, once written
    if (rec.type === TYPE.A) this.out.push(...ipv4Bytes(rec.data));
    else if (rec.type === TYPE.PTR && typeof rec.data === "string") this.name(rec.data);
    else if (rec.type !== TYPE.PTR && typeof rec.data !== "string") this.out.push(...rec.data);
    else throw invalidArgument(`DNS record ${rec.name} type ${rec.type}: data of the wrong kind`);
    this.set16(at, this.out.length - at - 2);
  }
}

function escapeLabel(label: Uint8Array): string {
  let s = "";
  for (const b of label) {
    if (b === 0x2e || b === 0x5c) s += "\\" + String.fromCharCode(b);
    else if (b > 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += "\\" + String(b).padStart(3, "0");
  }
  return s;
}

/** The labels of a presentation-form name, and where each starts in the text. */
function parseName(name: string): { labels: number[][]; starts: number[] } {
  if (name === "") return { labels: [], starts: [] };
  const labels: number[][] = [[]];
  const starts = [0];
  for (let i = 0; i < name.length; i++) {
    let c = name.charCodeAt(i);
    if (c === 0x2e) {
      labels.push([]);
      starts.push(i + 1);
      continue;
    }
    if (c === 0x5c) {
      const digits = /^\d{3}/.exec(name.slice(i + 1, i + 4));
      c = digits ? Number(digits[0]) : name.charCodeAt(i + 1);
      i += digits ? 3 : 1;
      if (!(c <= (digits ? 0xff : 0x7f))) throw invalidArgument(`DNS name "${name}": a bad escape at ${i}`);
    } else if (c > 0x7f) {
      throw invalidArgument(`DNS name "${name}": a character that is not ASCII at ${i}`, 'write bytes above 127 as "\\DDD"');
    }
    labels.at(-1)!.push(c);
  }
  if (labels.some((l) => l.length === 0 || l.length > 63)) {
    throw invalidArgument(`DNS name "${name}": labels must have 1 to 63 bytes`);
  }
  if (labels.reduce((n, l) => n + 1 + l.length, 1) > 255) throw invalidArgument(`DNS name "${name}" is longer than 255 bytes`);
  return { labels, starts };
}

function ipv4Bytes(ip: string | Uint8Array): number[] {
  const octets = typeof ip === "string" ? ip.split(".").map((o) => (/^\d{1,3}$/.test(o) ? Number(o) : NaN)) : [];
  if (octets.length !== 4 || !octets.every((o) => o <= 255)) throw invalidArgument(`DNS A record: "${String(ip)}" is not an IPv4 address`);
  return octets;
}
