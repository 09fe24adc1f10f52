// A small tar writer for tests: builds archives GNU tar will not make
// (names that leave the root, bad checksums, base-256 fields, odd PAX
// records), byte for byte as specified.

export interface TarSpec {
  /** Stored as given: nothing is checked or cleaned. */
  name: string;
  /** The type flag: "0" file (default), "1" hardlink, "2" symlink, "3" char, "4" block, "5" dir, "6" fifo, "\0", "7", ... */
  type?: string;
  body?: Uint8Array | string;
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** Seconds since the epoch (integer in the header). */
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** The ustar prefix field (name = prefix + "/" + name). */
  prefix?: string;
  /** Header magic: POSIX ustar (default) or GNU. */
  format?: "ustar" | "gnu" | "v7";
  /** PAX records for this entry, written as a preceding 'x' header. */
  pax?: Record<string, string | Uint8Array>;
  /** Write the name (and link name) as GNU 'L' / 'K' headers; the header keeps the first 100 bytes. */
  gnuLong?: boolean;
  /** Fields written in GNU base-256 instead of octal. */
  base256?: ("size" | "uid" | "gid" | "mtime")[];
  /** Override the size field (e.g. to claim more data than follows). */
  sizeField?: number;
  /** Store a wrong checksum. */
  badChecksum?: boolean;
}

/** A PAX 'g' header: records that apply to every later entry. */
export interface GlobalPax {
  global: Record<string, string | Uint8Array>;
}

const enc = new TextEncoder();
const bytesOf = (v: string | Uint8Array) => (typeof v === "string" ? enc.encode(v) : v);

function putString(h: Uint8Array, off: number, len: number, s: string) {
  const b = enc.encode(s);
  h.set(b.subarray(0, len), off);
}

function putOctal(h: Uint8Array, off: number, len: number, v: number) {
  putString(h, off, len, `${v.toString(8).padStart(len - 1, "0")}\0`);
}

function putBase256(h: Uint8Array, off: number, len: number, v: number) {
  let x = BigInt(v);
  if (x < 0n) x = (1n << BigInt(len * 8)) + x; // two's complement
  for (let i = len - 1; i >= 0; i--) {
    h[off + i] = Number(x & 0xffn);
    x >>= 8n;
  }
  h[off] = h[off]! | 0x80;
}

/** The body of a PAX header: "<len> <key>=<value>\n" records, binary values kept. */
export function paxRecords(recs: Record<string, string | Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [k, v] of Object.entries(recs)) {
    const rest = new Uint8Array([...enc.encode(` ${k}=`), ...bytesOf(v), 0x0a]);
    let n = rest.length + 1;
    while (String(n).length + rest.length !== n) n = String(n).length + rest.length;
    parts.push(new Uint8Array([...enc.encode(String(n)), ...rest]));
  }
  return concat(parts);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function header(spec: TarSpec, name: string, type: string, size: number, linkname: string): Uint8Array {
  const h = new Uint8Array(512);
  const b256 = new Set(spec.base256 ?? []);
  const num = (field: "size" | "uid" | "gid" | "mtime" | "other", off: number, len: number, v: number) =>
    field !== "other" && b256.has(field) ? putBase256(h, off, len, v) : putOctal(h, off, len, v);
  putString(h, 0, 100, name);
  num("other", 100, 8, spec.mode ?? (type === "5" ? 0o755 : 0o644));
  num("uid", 108, 8, spec.uid ?? 0);
  num("gid", 116, 8, spec.gid ?? 0);
  num("size", 124, 12, spec.sizeField ?? size);
  num("mtime", 136, 12, spec.mtime ?? 1_700_000_000);
  h[156] = type.charCodeAt(0);
  putString(h, 157, 100, linkname);
  const format = spec.format ?? "ustar";
  if (format === "ustar") putString(h, 257, 8, "ustar\u000000");
  else if (format === "gnu") putString(h, 257, 8, "ustar  \0");
  if (format !== "v7") {
    putString(h, 265, 32, spec.uname ?? "");
    putString(h, 297, 32, spec.gname ?? "");
    putOctal(h, 329, 8, spec.devmajor ?? 0);
    putOctal(h, 337, 8, spec.devminor ?? 0);
  }
  if (spec.prefix) putString(h, 345, 155, spec.prefix);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of h) sum += c;
  if (spec.badChecksum) sum += 1;
  putString(h, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return h;
}

function padded(data: Uint8Array): Uint8Array[] {
  const pad = (512 - (data.length % 512)) % 512;
  return pad ? [data, new Uint8Array(pad)] : [data];
}

function special(type: string, data: Uint8Array, name = "././@LongLink"): Uint8Array[] {
  return [header({ name, format: type === "L" || type === "K" ? "gnu" : "ustar" }, name, type, data.length, ""), ...padded(data)];
}

/** Build a tar archive; `end: false` leaves out the two zero blocks. */
export function tarBytes(entries: (TarSpec | GlobalPax)[], opts: { end?: boolean } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    if ("global" in e) {
      parts.push(...special("g", paxRecords(e.global), "pax_global_header"));
      continue;
    }
    const body = e.body === undefined ? new Uint8Array(0) : bytesOf(e.body);
    const type = e.type ?? (e.name.endsWith("/") ? "5" : "0");
    let name = e.name;
    let linkname = e.linkname ?? "";
    if (e.pax) parts.push(...special("x", paxRecords(e.pax), `PaxHeaders/${name.slice(0, 80)}`));
    if (e.gnuLong) {
      if (linkname.length > 100) parts.push(...special("K", enc.encode(`${linkname}\0`)));
      if (name.length > 100) parts.push(...special("L", enc.encode(`${name}\0`)));
      name = name.slice(0, 100);
      linkname = linkname.slice(0, 100);
    }
    parts.push(header(e, name, type, body.length, linkname), ...padded(body));
  }
  if (opts.end !== false) parts.push(new Uint8Array(1024));
  return concat(parts);
}

/** Serve bytes as a stream of `size`-byte chunks. */
export async function* chunked(data: Uint8Array, size = 65536): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < data.length; o += size) yield data.subarray(o, Math.min(o + size, data.length));
}
