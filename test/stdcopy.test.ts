// Docker's multiplexed stream framing: the header layout, and decoding
// whatever the chunking (including through a real pipe).
import { describe, expect, test } from "vitest";
import { decodeFrames, encodeFrame, StdStream, type Frame } from "../core/api/stdcopy.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function* chunksOf(data: Uint8Array, sizes: () => number): AsyncIterable<Uint8Array> {
  let i = 0;
  while (i < data.length) {
    const n = Math.max(1, sizes());
    yield data.slice(i, i + n);
    i += n;
  }
}

async function collect(src: AsyncIterable<Uint8Array>): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of decodeFrames(src)) out.push(f);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A deterministic pseudo-random generator, so a failure can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("stdcopy framing", () => {
  test("constants are Docker's", () => {
    expect(StdStream).toEqual({ stdin: 0, stdout: 1, stderr: 2, systemerr: 3 });
  });

  test("header: stream byte, three zero bytes, big-endian uint32 length", () => {
    expect([...encodeFrame(1, enc.encode("hello"))]).toEqual([1, 0, 0, 0, 0, 0, 0, 5, ...enc.encode("hello")]);
    expect([...encodeFrame(2, new Uint8Array(0))]).toEqual([2, 0, 0, 0, 0, 0, 0, 0]);
    const big = encodeFrame(3, new Uint8Array(0x01020304 & 0xfffff)); // 0x20304 bytes
    expect([...big.subarray(0, 8)]).toEqual([3, 0, 0, 0, 0x00, 0x02, 0x03, 0x04]);
    expect(big.length).toBe(8 + 0x20304);
    expect(() => encodeFrame(4 as 0, new Uint8Array(1))).toThrow("Unrecognized input header: 4");
  });

  test("decodes frames split at every possible place", async () => {
    const frames: Frame[] = [
      { stream: 1, payload: enc.encode("out 1\n") },
      { stream: 2, payload: enc.encode("err\n") },
      { stream: 1, payload: new Uint8Array(0) },
      { stream: 0, payload: enc.encode("in") },
      { stream: 3, payload: enc.encode("daemon error") },
      { stream: 1, payload: new Uint8Array(300).map((_, i) => i & 0xff) },
    ];
    const wire = concat(frames.map((f) => encodeFrame(f.stream as 0, f.payload)));
    // Every chunk size from 1 byte to the whole stream at once.
    for (let size = 1; size <= wire.length; size += size < 20 ? 1 : 37) {
      const got = await collect(chunksOf(wire, () => size));
      expect(got.map((f) => ({ stream: f.stream, payload: [...f.payload] }))).toEqual(frames.map((f) => ({ stream: f.stream, payload: [...f.payload] })));
    }
  });

  test("random frames through random chunking", async () => {
    const r = rng(42);
    const frames: Frame[] = [];
    for (let i = 0; i < 500; i++) {
      const n = r() < 0.1 ? 0 : Math.floor(r() * (r() < 0.05 ? 70000 : 200));
      frames.push({ stream: 1 + Math.floor(r() * 2), payload: new Uint8Array(n).map(() => Math.floor(r() * 256)) });
    }
    const wire = concat(frames.map((f) => encodeFrame(f.stream as 1, f.payload)));
    const got = await collect(chunksOf(wire, () => Math.floor(r() * 9000)));
    expect(got.length).toBe(frames.length);
    got.forEach((f, i) => {
      expect(f.stream).toBe(frames[i]!.stream);
      expect(Buffer.from(f.payload).equals(Buffer.from(frames[i]!.payload))).toBe(true);
    });
  });

  test("payloads do not alias the source's buffers", async () => {
    const wire = encodeFrame(1, enc.encode("abc"));
    const got = await collect((async function* () {
      yield wire;
    })());
    wire.fill(0);
    expect(dec.decode(got[0]!.payload)).toBe("abc");
  });

  test("an unknown stream number is an error, as in Docker's StdCopy", async () => {
    const bad = new Uint8Array([5, 0, 0, 0, 0, 0, 0, 1, 65]);
    await expect(collect(chunksOf(bad, () => 3))).rejects.toThrow("Unrecognized input header: 5");
  });

  test("an incomplete frame at the end is dropped, the complete ones kept", async () => {
    const wire = concat([encodeFrame(1, enc.encode("whole")), encodeFrame(2, enc.encode("cut short")).subarray(0, 12)]);
    const got = await collect(chunksOf(wire, () => 4));
    expect(got.map((f) => [f.stream, dec.decode(f.payload)])).toEqual([[1, "whole"]]);
    const headerOnly = concat([encodeFrame(2, enc.encode("x")), new Uint8Array([1, 0, 0])]);
    expect((await collect(chunksOf(headerOnly, () => 100))).length).toBe(1);
  });

  test("frames written into a real pipe, read back in whatever chunks the kernel gives", async () => {
    const frames: Frame[] = [];
    for (let i = 0; i < 2000; i++) frames.push({ stream: i % 3 === 0 ? 2 : 1, payload: enc.encode(`line ${i} ${"x".repeat(i % 97)}\n`) });
    const cat = Bun.spawn(["cat"], { stdin: "pipe", stdout: "pipe" });
    const writing = (async () => {
      // Small, uneven writes: headers and payloads land in separate pipe reads.
      for (const f of frames) {
        const w = encodeFrame(f.stream as 1, f.payload);
        cat.stdin.write(w.subarray(0, 3));
        cat.stdin.write(w.subarray(3));
        if (frames.indexOf(f) % 100 === 0) await cat.stdin.flush();
      }
      await cat.stdin.end();
    })();
    const got = await collect(cat.stdout as unknown as AsyncIterable<Uint8Array>);
    await writing;
    expect(await cat.exited).toBe(0);
    expect(got.map((f) => [f.stream, dec.decode(f.payload)])).toEqual(frames.map((f) => [f.stream, dec.decode(f.payload)]));
  });
});
