// Layer decompression: gzip and zstd by their magic bytes, plain passed
// through, streamed in small pieces, and the formats berth refuses.
import { describe, expect, test } from "vitest";
import { decompress, detectCompression } from "../core/images/compression.ts";
import { isKind } from "../core/errors.ts";

const data = new Uint8Array(3_000_000).map((_, i) => (i * 7919) % 251);
async function* pieces(bytes: Uint8Array, size = 4096) {
  for (let o = 0; o < bytes.length; o += size) yield bytes.subarray(o, o + size);
}
const collect = async (src: AsyncIterable<Uint8Array>) => {
  const parts: Uint8Array[] = [];
  for await (const p of src) parts.push(p);
  return Buffer.concat(parts);
};

describe("decompress", () => {
  test("gzip, zstd and plain streams come out as the same bytes", async () => {
    for (const [kind, packed] of [["gzip", Bun.gzipSync(data)], ["zstd", Bun.zstdCompressSync(data)], ["none", data]] as const) {
      expect(detectCompression(packed)).toBe(kind);
      const out = await collect(decompress(pieces(packed)));
      expect(out.length, kind).toBe(data.length);
      expect(Buffer.compare(out, Buffer.from(data)), kind).toBe(0);
    }
  });

  test("bzip2 and xz are refused, by name; a corrupt gzip stream fails", async () => {
    for (const [name, head] of [["bzip2", [0x42, 0x5a, 0x68, 0x39]], ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]]] as const) {
      const err = await collect(decompress(pieces(new Uint8Array([...head, 1, 2, 3])))).catch((e) => e);
      expect(isKind(err, "NotSupported"), name).toBe(true);
      expect(String(err.message)).toContain(name);
    }
    const broken = Bun.gzipSync(data);
    broken.fill(0, 100, 200);
    await expect(collect(decompress(pieces(broken)))).rejects.toThrow();
  });
});
