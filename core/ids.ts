// Random identifiers. Web Crypto, not node:crypto, which costs ~15 ms to load.

/** `bytes` random bytes as lower-case hex. */
export function randomHex(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  let out = "";
  for (const b of buf) out += b.toString(16).padStart(2, "0");
  return out;
}
