// A blob reader that checks the bytes against the blob's digest, so content
// that rotted on disk is never served whole. The cheap path: a full download
// reads the file front to back anyway, so it is hashed as it goes and the last
// chunk is held back until the digest matches (on a mismatch the read throws,
// the response is cut short and the client sees a truncated body). A range or
// out-of-order read first hashes the whole file, once. Whoever opens the blob
// remembers a success (BlobStore keeps a set of verified files), so each file
// is hashed at most about once per process.
import type { Hash } from 'node:crypto';
import { newHash, type Digest } from '../digest.js';
import type { ObjectReader } from './driver.js';

/** Stored bytes do not hash to their digest. */
export class BlobCorrupt extends Error {
  constructor(
    readonly digest: string,
    readonly actual: string,
  ) {
    super(`stored blob ${digest} hashes to ${actual}`);
  }
}

const VERIFY_CHUNK = 1 << 20;

export class VerifyingReader implements ObjectReader {
  private hash: Hash;
  /** bytes [0, next) have been hashed */
  private next = 0;
  private state: 'hashing' | 'verified' | 'corrupt' = 'hashing';

  constructor(
    private readonly inner: ObjectReader,
    private readonly digest: Digest,
    private readonly onVerified: () => void,
    private readonly onCorrupt: (actual: string) => Promise<void>,
  ) {
    this.hash = newHash(digest.algorithm);
    // Only readers that wait on a network have available(): disk reads stay as they are.
    if (inner.available) this.available = (position) => inner.available!(position);
  }

  available?: (position: number) => Promise<void>;

  get size(): number {
    return this.inner.size;
  }
  get version(): string {
    return this.inner.version;
  }

  async prepare(start: number, length: number): Promise<void> {
    // A whole-object read is checked inline; anything else is checked up front.
    if (this.size > 0 && start === 0 && length === this.size) return;
    await this.verifyRest();
  }

  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    if (this.state === 'hashing' && position !== this.next) await this.verifyRest();
    const r = await this.inner.read(buffer, offset, length, position);
    if (this.state === 'hashing') {
      this.hash.update(buffer.subarray(offset, offset + r.bytesRead));
      this.next += r.bytesRead;
      // The check comes before the caller gets the last chunk.
      if (this.next >= this.size || r.bytesRead === 0) await this.finish();
    }
    if (this.state === 'corrupt') throw new BlobCorrupt(this.digest.value, 'mismatch');
    return r;
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async verifyRest(): Promise<void> {
    if (this.state !== 'hashing') {
      if (this.state === 'corrupt') throw new BlobCorrupt(this.digest.value, 'mismatch');
      return;
    }
    const buf = Buffer.allocUnsafe(Math.min(VERIFY_CHUNK, Math.max(1, this.size - this.next)));
    while (this.next < this.size) {
      const { bytesRead } = await this.inner.read(buf, 0, Math.min(buf.length, this.size - this.next), this.next);
      if (bytesRead === 0) break;
      this.hash.update(buf.subarray(0, bytesRead));
      this.next += bytesRead;
    }
    await this.finish();
  }

  private async finish(): Promise<void> {
    const actual = `${this.digest.algorithm}:${this.hash.digest('hex')}`;
    if (this.next === this.size && actual === this.digest.value) {
      this.state = 'verified';
      this.onVerified();
      return;
    }
    this.state = 'corrupt';
    await this.onCorrupt(actual);
    throw new BlobCorrupt(this.digest.value, actual);
  }
}
