// Transparent decompression of layer streams: gzip and zstd by magic bytes.
import { notSupported } from "../errors.ts";

export type Compression = "none" | "gzip" | "zstd";

export function detectCompression(head: Uint8Array): Compression | "bzip2" | "xz" {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  if (head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return "bzip2";
  if (head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58) return "xz";
  return "none";
}

/** Yield the uncompressed bytes of `src`, whatever compression it has. */
export async function* decompress(src: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const it = src[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const rest = (async function* () {
    yield first.value;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value;
    }
  })();
  const kind = detectCompression(first.value);
  if (kind === "none") {
    yield* rest;
    return;
  }
  if (kind === "bzip2" || kind === "xz") throw notSupported(`${kind}-compressed archives are not supported; use gzip, zstd or none`);
  // Loaded only when needed: node:zlib and node:stream cost ~15 ms to load.
  const [{ createGunzip, createZstdDecompress }, { Readable }] = await Promise.all([import("node:zlib"), import("node:stream")]);
  const inflater = kind === "gzip" ? createGunzip() : createZstdDecompress();
  const out = Readable.from(rest).pipe(inflater);
  for await (const chunk of out) yield chunk as Uint8Array;
}
