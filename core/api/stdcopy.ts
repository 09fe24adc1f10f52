// Docker's multiplexed stream framing (application/vnd.docker.multiplexed-stream),
// used by attach, logs and exec when the container has no TTY: every write
// becomes one frame, an 8-byte header [stream, 0, 0, 0, size (uint32 big-endian)]
// followed by `size` bytes of payload.
import { invalidArgument } from "../errors.ts";

/** The stream numbers of a frame header (Docker's stdcopy.StdType). */
export const StdStream = {
  stdin: 0,
  stdout: 1,
  stderr: 2,
  /** The daemon's own error, sent in-band once the stream has started. */
  systemerr: 3,
} as const;
export type StdStreamId = (typeof StdStream)[keyof typeof StdStream];

export const FRAME_HEADER_LEN = 8;
const MAX_FRAME = 0xffff_ffff;

export interface Frame {
  stream: number;
  payload: Uint8Array;
}

/** One frame: the 8-byte header then the payload. */
export function encodeFrame(stream: StdStreamId, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(stream) || stream < 0 || stream > 3) throw invalidArgument(`Unrecognized input header: ${stream}`);
  if (payload.length > MAX_FRAME) throw invalidArgument(`frame payload of ${payload.length} bytes exceeds the 4 GiB a frame header can describe`);
  const out = new Uint8Array(FRAME_HEADER_LEN + payload.length);
  out[0] = stream;
  new DataView(out.buffer).setUint32(4, payload.length, false);
  out.set(payload, FRAME_HEADER_LEN);
  return out;
}

/**
 * The frames of a multiplexed stream, whatever the chunking of `src`
 * (headers and payloads may be split anywhere). As Docker's StdCopy does, a
 * stream number above 3 is an error ("Unrecognized input header: N"), and an
 * incomplete frame at the end of the input is dropped silently. Frames with an
 * empty payload are yielded too.
 */
export async function* decodeFrames(src: AsyncIterable<Uint8Array>): AsyncIterable<Frame> {
  const chunks: Uint8Array[] = []; // unconsumed input, oldest first
  let head = 0; // bytes of chunks[0] already consumed
  let buffered = 0;

  /**
   * Remove and return the next `n` bytes (n <= buffered). With `copy`, the
   * result never aliases an input chunk (the source may reuse its buffers).
   */
  const take = (n: number, copy: boolean): Uint8Array => {
    buffered -= n;
    const first = chunks[0]!;
    if (first.length - head >= n) {
      const out = copy ? first.slice(head, head + n) : first.subarray(head, head + n);
      head += n;
      if (head === first.length) {
        chunks.shift();
        head = 0;
      }
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = chunks[0]!;
      const k = Math.min(c.length - head, n - filled);
      out.set(c.subarray(head, head + k), filled);
      filled += k;
      head += k;
      if (head === c.length) {
        chunks.shift();
        head = 0;
      }
    }
    return out;
  };

  let header: { stream: number; size: number } | undefined;
  for await (const chunk of src) {
    if (chunk.length === 0) continue;
    chunks.push(chunk);
    buffered += chunk.length;
    for (;;) {
      if (!header) {
        if (buffered < FRAME_HEADER_LEN) break;
        const h = take(FRAME_HEADER_LEN, false);
        const stream = h[0]!;
        if (stream > 3) throw invalidArgument(`Unrecognized input header: ${stream}`);
        header = { stream, size: new DataView(h.buffer, h.byteOffset, 8).getUint32(4, false) };
      }
      if (buffered < header.size) break;
      const payload = header.size === 0 ? new Uint8Array(0) : take(header.size, true);
      yield { stream: header.stream, payload };
      header = undefined;
    }
  }
}
