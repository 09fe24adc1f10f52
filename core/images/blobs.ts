// The content store: blobs addressed by their sha256 digest, shared by
// every image that uses them. Written to a temporary file, synced, then
// renamed into place, so a crash never leaves a half blob under a digest.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import { randomHex } from "../ids.ts";
import { invalidArgument, notFound } from "../errors.ts";

/** Blobs up to this size are synced when stored. */
const SYNC_LIMIT = 1 << 20;

export class ContentStore {
  constructor(private readonly dir: string) {
    mkdirSync(`${dir}/sha256`, { recursive: true, mode: 0o700 });
    mkdirSync(`${dir}/ingest`, { recursive: true, mode: 0o700 });
  }

  path(digest: string): string {
    const hex = digest.replace(/^sha256:/, "");
    if (!/^[a-f0-9]{64}$/.test(hex)) throw invalidArgument(`invalid digest "${digest}"`);
    return `${this.dir}/sha256/${hex}`;
  }

  has(digest: string): boolean {
    return existsSync(this.path(digest));
  }

  /** Stream a blob's bytes. */
  read(digest: string): AsyncIterable<Uint8Array> {
    if (!this.has(digest)) throw notFound(`blob ${digest} is not in the content store`);
    return Bun.file(this.path(digest)).stream() as unknown as AsyncIterable<Uint8Array>;
  }

  /**
   * Store a stream; resolves to its digest and size, and whether the blob
   * is new (else it was there already: someone else's to delete). With
   * `expected`, a mismatch is an error and nothing is stored. Small blobs
   * (configs, manifests) are synced before they get their name; large ones
   * (layers) are not: forcing 200 MB to disk doubles a pull's time, and a
   * layer blob is checked against its diff ID whenever it is unpacked.
   */
  async ingest(src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, expected?: string): Promise<{ digest: string; size: number; created: boolean }> {
    const tmp = `${this.dir}/ingest/${randomHex(8)}`;
    const fd = openSync(tmp, "w", 0o600);
    const hash = new Bun.CryptoHasher("sha256");
    let size = 0;
    try {
      for await (const chunk of src) {
        hash.update(chunk);
        size += chunk.length;
        for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off);
      }
      if (size <= SYNC_LIMIT) fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw err;
    }
    closeSync(fd);
    const digest = `sha256:${hash.digest("hex")}`;
    if (expected && expected !== digest) {
      rmSync(tmp, { force: true });
      throw invalidArgument(`content digest mismatch: expected ${expected}, got ${digest}`);
    }
    const created = !this.has(digest);
    renameSync(tmp, this.path(digest));
    return { digest, size, created };
  }

  /** Store small bytes (configs, manifests). */
  async put(bytes: Uint8Array | string): Promise<string> {
    const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    return (await this.ingest([data])).digest;
  }

  /** Every blob's digest. */
  list(): string[] {
    return readdirSync(`${this.dir}/sha256`)
      .filter((n) => /^[a-f0-9]{64}$/.test(n))
      .map((n) => `sha256:${n}`);
  }

  delete(digest: string) {
    rmSync(this.path(digest), { force: true });
  }
}

export const sha256 = (data: Uint8Array | string) => `sha256:${new Bun.CryptoHasher("sha256").update(data).digest("hex")}`;
