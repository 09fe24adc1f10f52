// A streaming tar reader: ustar, GNU and PAX archives from chunks of any
// size. Entry bodies are handed out as views into the source chunks, never
// copied, so unpacking runs at the speed of the disk.
//
//   for await (const e of readTar(stream)) {
//     if (e.type === "file") for await (const chunk of e.body()) write(chunk);
//   }                                   // an unread body is skipped
//
// Supported: ustar/GNU/v7 headers; octal and GNU base-256 numbers; header
// checksums; PAX 'x' and 'g' records (path, linkpath, size, uid, gid, uname,
// gname, mtime, SCHILY.xattr.* and LIBARCHIVE.xattr.*); GNU long names 'L'
// and long link names 'K'; the ustar prefix field. Not supported: sparse
// files (GNU 'S' and PAX GNU.sparse.*), multi-volume archives, and names or
// link targets that are not UTF-8 (refused: decoding them would give other
// names, and make different names one).
import { invalidArgument, notSupported } from "../errors.ts";

export type TarEntryType = "file" | "hardlink" | "symlink" | "chardev" | "blockdev" | "dir" | "fifo" | "unsupported";

export interface TarEntry {
  /** The path as stored in the archive (PAX path, GNU long name, or prefix + name). */
  readonly name: string;
  readonly type: TarEntryType;
  /** The raw type flag ("0", "5", "S", ...): says what an "unsupported" entry is. */
  readonly typeflag: string;
  /** Permission bits, setuid/setgid/sticky included (mode & 0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly uname: string;
  readonly gname: string;
  /** Bytes of body data (0 for every type but "file" and "unsupported"). */
  readonly size: number;
  /** Modification time in seconds since the epoch, fractional with PAX. */
  readonly mtime: number;
  /** Target of a symlink or hardlink. */
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
  /** Extended attributes from PAX records; values are raw bytes. */
  readonly xattrs: Map<string, Uint8Array>;
  /** Byte offset in the archive of the entry's first header (PAX/GNU headers included). */
  readonly offset: number;
  /**
   * The body, as views into the source chunks (valid as long as the source
   * does not reuse its buffers; do not modify them). Read it before asking
   * for the next entry: it is skipped then. Callable once.
   */
  body(): AsyncIterable<Uint8Array>;
  /** The whole body in one array: for small entries. */
  bytes(): Promise<Uint8Array>;
}

const BLOCK = 512;
/** Largest PAX or GNU long-name body accepted (as Go's archive/tar). */
const MAX_SPECIAL = 1 << 20;
const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder();

/** Pulls bytes from the source, handing out views where it can. */
class Input {
  buf: Uint8Array = EMPTY;
  pos = 0;
  /** Absolute offset of buf[pos] in the archive. */
  offset = 0;

  constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  /** Ensure at least one byte is buffered; false at end of input. */
  async fill(): Promise<boolean> {
    while (this.pos >= this.buf.length) {
      const r = await this.it.next();
      if (r.done) return false;
      this.buf = r.value;
      this.pos = 0;
    }
    return true;
  }

  /** `n` bytes (a view when they lie in one chunk); shorter at end of input. */
  async read(n: number): Promise<Uint8Array> {
    if (this.buf.length - this.pos >= n) {
      const v = this.buf.subarray(this.pos, this.pos + n);
      this.pos += n;
      this.offset += n;
      return v;
    }
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      if (!(await this.fill())) return out.subarray(0, got);
      const k = Math.min(n - got, this.buf.length - this.pos);
      out.set(this.buf.subarray(this.pos, this.pos + k), got);
      this.pos += k;
      this.offset += k;
      got += k;
    }
    return out;
  }

  /** Skip `n` bytes; returns how many could not be skipped (0 = all). */
  async skip(n: number): Promise<number> {
    while (n > 0) {
      if (!(await this.fill())) return n;
      const k = Math.min(n, this.buf.length - this.pos);
      this.pos += k;
      this.offset += k;
      n -= k;
    }
    return 0;
  }

  async drain() {
    while (await this.fill()) {
      this.offset += this.buf.length - this.pos;
      this.pos = this.buf.length;
    }
  }
}

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

function isZeroBlock(b: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

/** A NUL-terminated string field. */
function field(b: Uint8Array, off: number, len: number): string {
  let end = off;
  const max = off + len;
  while (end < max && b[end] !== 0) end++;
  if (end === off) return "";
  // Plain ASCII (nearly every name) without the decoder's overhead.
  let ascii = true;
  for (let i = off; i < end; i++) if (b[i]! >= 0x80) { ascii = false; break; }
  return ascii && end - off <= 256 ? String.fromCharCode.apply(null, b.subarray(off, end) as unknown as number[]) : utf8.decode(b.subarray(off, end));
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** A path from the archive: its text, or its bytes when they are not UTF-8 (an error if the entry keeps it). */
type Name = string | { bad: Uint8Array };

/** A path as text: ASCII fast, else strict UTF-8. */
function nameText(v: Uint8Array): Name {
  let ascii = true;
  for (let i = 0; i < v.length; i++) if (v[i]! >= 0x80) { ascii = false; break; }
  if (ascii) return v.length <= 256 ? String.fromCharCode.apply(null, v as unknown as number[]) : utf8.decode(v);
  try {
    return strictUtf8.decode(v);
  } catch {
    return { bad: v.slice() };
  }
}

/** A NUL-terminated path field. */
function nameField(b: Uint8Array, off: number, len: number): Name {
  let end = off;
  const max = off + len;
  while (end < max && b[end] !== 0) end++;
  return nameText(b.subarray(off, end));
}

const nameBytes = (n: Name) => (typeof n === "string" ? new TextEncoder().encode(n) : n.bad);

/** Bytes for a message: valid UTF-8 as text, any other byte as \xNN. */
function escaped(v: Uint8Array): string {
  let out = "";
  for (let i = 0; i < v.length; ) {
    const c = v[i]!;
    const n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n > 0 && i + n <= v.length) {
      try {
        out += strictUtf8.decode(v.subarray(i, i + n));
        i += n;
        continue;
      } catch {
        // not a character: escaped below
      }
    }
    out += `\\x${c.toString(16).padStart(2, "0")}`;
    i++;
  }
  return out;
}

/** A numeric field: octal text, or GNU base-256 when the high bit is set. */
function numeric(b: Uint8Array, off: number, len: number, name: string, at: number): number {
  const first = b[off]!;
  if (first & 0x80) {
    const negative = (first & 0x40) !== 0;
    const flip = negative ? 0xff : 0;
    let v = (first ^ flip) & 0x7f;
    for (let i = 1; i < len; i++) {
      v = v * 256 + (b[off + i]! ^ flip);
      if (v > Number.MAX_SAFE_INTEGER) throw invalidArgument(`invalid tar header at offset ${at}: the ${name} field is too large`);
    }
    return negative ? -(v + 1) : v;
  }
  let i = off;
  const end = off + len;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  let v = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) throw invalidArgument(`invalid tar header at offset ${at}: the ${name} field is not an octal number`);
    v = v * 8 + (c - 0x30);
    digits++;
  }
  // Only spaces and NULs may follow the digits.
  for (; i < end; i++) {
    if (b[i] !== 0 && b[i] !== 0x20 && digits > 0) throw invalidArgument(`invalid tar header at offset ${at}: the ${name} field is not an octal number`);
  }
  return v;
}

function verifyChecksum(b: Uint8Array, at: number) {
  // The checksum field itself counts as eight spaces.
  let unsigned = 8 * 0x20;
  for (let i = 0; i < 148; i++) unsigned += b[i]!;
  for (let i = 156; i < BLOCK; i++) unsigned += b[i]!;
  let stored: number;
  try {
    stored = numeric(b, 148, 8, "checksum", at);
  } catch {
    stored = -1;
  }
  if (stored === unsigned) return;
  // Some old tars summed signed chars.
  let signed = unsigned;
  for (let i = 0; i < BLOCK; i++) if ((i < 148 || i >= 156) && b[i]! > 127) signed -= 256;
  if (stored !== signed) {
    throw invalidArgument(
      `tar checksum mismatch in the header at offset ${at}: stored ${stored < 0 ? "(not a number)" : stored}, computed ${unsigned}`,
      "the archive is corrupt or not a tar file",
    );
  }
}

/** PAX records, parsed on the raw bytes so binary xattr values survive. */
type Records = Map<string, Uint8Array>;

function parsePax(data: Uint8Array, at: number): Records {
  const out: Records = new Map();
  const bad = () => invalidArgument(`malformed PAX extended header at offset ${at}`);
  let i = 0;
  while (i < data.length) {
    if (data[i] === 0) break; // NUL padding after the last record
    let j = i;
    let len = 0;
    while (j < data.length && data[j] !== 0x20) {
      const d = data[j]! - 0x30;
      if (d < 0 || d > 9) throw bad();
      len = len * 10 + d;
      j++;
    }
    const end = i + len;
    if (j === i || j >= data.length || end > data.length || end <= j + 1 || data[end - 1] !== 0x0a) throw bad();
    let k = j + 1;
    while (k < end - 1 && data[k] !== 0x3d) k++;
    if (k >= end - 1) throw bad();
    out.set(utf8.decode(data.subarray(j + 1, k)), data.slice(k + 1, end - 1));
    i = end;
  }
  return out;
}

/** Merge PAX records into `into`; an empty value deletes the key. */
function mergeRecords(into: Records, recs: Records) {
  for (const [k, v] of recs) {
    if (v.length === 0) into.delete(k);
    else into.set(k, v);
  }
}

function paxNumber(v: Uint8Array, key: string, at: number, fractional = false): number {
  const s = utf8.decode(v);
  const ok = fractional ? /^-?\d+(\.\d+)?$/.test(s) : /^\d+$/.test(s);
  const n = Number(s);
  if (!ok || !Number.isFinite(n) || (!fractional && !Number.isSafeInteger(n))) {
    throw invalidArgument(`invalid PAX record ${key}="${s}" for the entry at offset ${at}`);
  }
  return n;
}

const TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "chardev",
  "4": "blockdev",
  "5": "dir",
  "6": "fifo",
};

const hasData = (t: TarEntryType) => t === "file" || t === "unsupported";

const LIBARCHIVE_XATTR = "LIBARCHIVE.xattr.";
const SCHILY_XATTR = "SCHILY.xattr.";

/**
 * Read a tar archive from a stream. Entries are yielded one at a time; the
 * body of the current entry must be read (or is skipped) before the next.
 * Errors (BerthError InvalidArgument) name the header offset: checksum
 * mismatches, malformed headers, truncated entries. A missing end-of-archive
 * marker is tolerated; what follows the marker is read and discarded.
 */
export async function* readTar(src: AsyncIterable<Uint8Array>): AsyncGenerator<TarEntry, void, undefined> {
  const it = src[Symbol.asyncIterator]();
  const input = new Input(it);
  const global: Records = new Map();
  // Body of the current entry still unread, and the padding after it.
  let left = 0;
  let pad = 0;
  let seq = 0;
  let current: { name: string; offset: number } | null = null;

  const truncated = (what: string, missing: number) =>
    invalidArgument(`truncated tar archive: ${what} ends ${missing} bytes early (archive ends at offset ${input.offset})`);

  const readSpecial = async (size: number, kind: string, at: number): Promise<Uint8Array> => {
    if (size > MAX_SPECIAL) throw invalidArgument(`${kind} at offset ${at} is too large (${size} bytes)`);
    const data = await input.read(size);
    if (data.length < size) throw truncated(`the ${kind} at offset ${at}`, size - data.length);
    const missing = await input.skip(padding(size));
    if (missing) throw truncated(`the ${kind} at offset ${at}`, missing);
    return data;
  };

  let finished = false;
  try {
    for (;;) {
      if (left + pad > 0) {
        const missing = await input.skip(left + pad);
        if (missing > pad) throw truncated(`entry "${current!.name}" (header at offset ${current!.offset})`, missing - pad);
        left = pad = 0;
      }
      seq++;
      current = null;

      let local: Records | null = null;
      let longName: Name | null = null;
      let longLink: Name | null = null;
      const start = input.offset;
      let hdr: Uint8Array;
      let at: number;
      for (;;) {
        at = input.offset;
        hdr = await input.read(BLOCK);
        if (hdr.length === 0) {
          if (at !== start) throw truncated(`the entry at offset ${start}`, BLOCK);
          finished = true;
          return;
        }
        if (hdr.length < BLOCK) throw truncated(`the header at offset ${at}`, BLOCK - hdr.length);
        if (isZeroBlock(hdr)) {
          if (at !== start) throw invalidArgument(`invalid tar archive: an extended header at offset ${start} is followed by the end-of-archive marker`);
          const next = await input.read(BLOCK);
          if (next.length === 0 || (next.length === BLOCK && isZeroBlock(next))) {
            await input.drain();
            finished = true;
            return;
          }
          throw invalidArgument(`invalid tar archive: a zero block at offset ${at} is followed by data`);
        }
        verifyChecksum(hdr, at);
        const flag = String.fromCharCode(hdr[156]!);
        if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
          const size = numeric(hdr, 124, 12, "size", at);
          if (flag === "x") {
            // Kept with empty values: those unset a global record for this entry.
            local ??= new Map();
            for (const [k, v] of parsePax(await readSpecial(size, "PAX header", at), at)) local.set(k, v);
          } else if (flag === "g") mergeRecords(global, parsePax(await readSpecial(size, "PAX global header", at), at));
          else {
            const data = await readSpecial(size, flag === "L" ? "GNU long name" : "GNU long link name", at);
            const name = nameField(data, 0, data.length);
            if (flag === "L") longName = name;
            else longLink = name;
          }
          continue;
        }
        break;
      }

      // The entry's own header.
      const magic = field(hdr, 257, 6);
      const ustar = magic === "ustar" && hdr[262] === 0; // POSIX ("ustar\0"); GNU is "ustar  \0"
      const gnu = magic === "ustar " || (magic === "ustar" && hdr[262] === 0x20);
      const flag = String.fromCharCode(hdr[156]!);
      let rawName = nameField(hdr, 0, 100);
      if (ustar) {
        // star keeps times after a 131-byte prefix and marks itself with "tar\0" at 508.
        const star = hdr[508] === 0x74 && hdr[509] === 0x61 && hdr[510] === 0x72 && hdr[511] === 0;
        const prefix = nameField(hdr, 345, star ? 131 : 155);
        if (typeof prefix === "string" && typeof rawName === "string") {
          if (prefix) rawName = `${prefix}/${rawName}`;
        } else if (prefix !== "") rawName = { bad: new Uint8Array([...nameBytes(prefix), 0x2f, ...nameBytes(rawName)]) };
      }
      let rawLink = nameField(hdr, 157, 100);
      const mode = numeric(hdr, 100, 8, "mode", at) & 0o7777;
      let uid = numeric(hdr, 108, 8, "uid", at);
      let gid = numeric(hdr, 116, 8, "gid", at);
      let size = numeric(hdr, 124, 12, "size", at);
      let mtime = numeric(hdr, 136, 12, "mtime", at);
      let uname = ustar || gnu ? field(hdr, 265, 32) : "";
      let gname = ustar || gnu ? field(hdr, 297, 32) : "";
      const devmajor = ustar || gnu ? numeric(hdr, 329, 8, "devmajor", at) : 0;
      const devminor = ustar || gnu ? numeric(hdr, 337, 8, "devminor", at) : 0;
      if (longName !== null) rawName = longName;
      if (longLink !== null) rawLink = longLink;
      let sparse = false; // GNU 'S' entries are left to the consumer, as other unsupported types

      const xattrs = new Map<string, Uint8Array>();
      const recs = global.size === 0 ? local : new Map([...global, ...(local ?? [])]);
      if (local) for (const [k, v] of local) if (v.length === 0) recs!.delete(k); // deleting while iterating a Map is safe
      if (recs) {
        for (const [k, v] of recs) {
          switch (k) {
            case "path": rawName = nameText(v); break;
            case "linkpath": rawLink = nameText(v); break;
            case "size": size = paxNumber(v, k, at); break;
            case "uid": uid = paxNumber(v, k, at); break;
            case "gid": gid = paxNumber(v, k, at); break;
            case "uname": uname = utf8.decode(v); break;
            case "gname": gname = utf8.decode(v); break;
            case "mtime": mtime = paxNumber(v, k, at, true); break;
            default:
              if (k.startsWith(SCHILY_XATTR)) xattrs.set(k.slice(SCHILY_XATTR.length), v);
              else if (k.startsWith(LIBARCHIVE_XATTR)) {
                let xname: string;
                try {
                  xname = decodeURIComponent(k.slice(LIBARCHIVE_XATTR.length));
                } catch {
                  throw invalidArgument(`invalid PAX record ${k} for the entry at offset ${at}`);
                }
                if (!xattrs.has(xname)) xattrs.set(xname, new Uint8Array(Buffer.from(utf8.decode(v), "base64")));
              } else if (k.startsWith("GNU.sparse.")) sparse = true;
          }
        }
      }
      if (typeof rawName !== "string") {
        throw notSupported(`tar entry "${escaped(rawName.bad)}" at offset ${start} has a name that is not valid UTF-8`, "berth handles paths as UTF-8 text only");
      }
      const name = rawName;
      if (sparse) {
        // PAX 0.1 and 1.0 keep the real name in GNU.sparse.name ("name" is then ./GNUSparseFile.<pid>/...).
        const real = recs?.get("GNU.sparse.name");
        throw notSupported(
          `tar entry "${real ? escaped(real) : name}" at offset ${start} is a sparse file, which is not supported`,
          "image layers should not hold sparse files (OCI image-spec, layer.md): make the archive without --sparse",
        );
      }
      if (size < 0) throw invalidArgument(`invalid tar header at offset ${at}: negative size`);

      let type: TarEntryType = TYPES[flag] ?? "unsupported";
      if (flag === "\0" && name.endsWith("/")) type = "dir"; // old tars mark directories by the slash only
      if (typeof rawLink !== "string" && (type === "hardlink" || type === "symlink")) {
        throw notSupported(`tar entry "${name}" at offset ${start} has a link target that is not valid UTF-8: "${escaped(rawLink.bad)}"`, "berth handles paths as UTF-8 text only");
      }
      const linkname = typeof rawLink === "string" ? rawLink : utf8.decode(rawLink.bad); // unused by other types
      // Header-only types carry no data whatever their size field says.
      const dataSize = hasData(type) ? size : 0;
      if (!hasData(type)) size = 0;

      left = dataSize;
      pad = padding(dataSize);
      const mySeq = seq;
      current = { name, offset: start };
      let taken = false;
      const entryName = name;

      async function* body(): AsyncGenerator<Uint8Array, void, undefined> {
        if (seq !== mySeq) throw invalidArgument(`the body of tar entry "${entryName}" was read after moving to the next entry`);
        while (left > 0) {
          if (seq !== mySeq) throw invalidArgument(`the body of tar entry "${entryName}" was read after moving to the next entry`);
          if (!(await input.fill())) throw truncated(`entry "${entryName}" (header at offset ${start})`, left);
          const n = Math.min(left, input.buf.length - input.pos);
          const view = input.buf.subarray(input.pos, input.pos + n);
          input.pos += n;
          input.offset += n;
          left -= n;
          yield view;
        }
      }
      const takeBody = () => {
        if (taken) throw invalidArgument(`the body of tar entry "${entryName}" was already read`);
        taken = true;
        return body();
      };

      const entry: TarEntry = {
        name, type, typeflag: flag, mode, uid, gid, uname, gname, size, mtime, linkname, devmajor, devminor, xattrs,
        offset: start,
        body: takeBody,
        async bytes() {
          const parts: Uint8Array[] = [];
          for await (const p of takeBody()) parts.push(p);
          if (parts.length === 1) return parts[0]!;
          const out = new Uint8Array(dataSize);
          let o = 0;
          for (const p of parts) {
            out.set(p, o);
            o += p.length;
          }
          return out;
        },
      };
      yield entry;
    }
  } finally {
    // Stopped early (error or consumer break): let the source release itself.
    if (!finished) {
      try {
        await it.return?.();
      } catch {
        // The source failed itself: the error that stopped us says more.
      }
    }
  }
}
