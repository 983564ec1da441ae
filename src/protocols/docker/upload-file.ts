// The bytes of one upload session: a storage writer plus live hashes of
// everything in it. A chunk is streamed straight to storage while it is hashed,
// so memory stays flat whatever the blob size; if the chunk fails half way
// (client gone, size cap, disk error) the writer is cut back and the hashes
// restored, so the session only ever reflects whole, accepted chunks.
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { once } from 'node:events';
import type { Hash } from 'node:crypto';
import { newHash, type Algorithm } from '../../main/digest.js';
import { HashingCounter, SizeLimitExceeded } from '../../main/storage/blobs.js';
import type { ObjectWriter, StorageDriver } from '../../main/storage/driver.js';
import { releaseBodyChunk } from '../../main/http/body-chunks.js';

/** A chunk's body was not as long as its Content-Range said. */
export class ChunkLengthMismatch extends Error {
  constructor(
    readonly expected: number,
    /** null when the body was longer (reading stopped at `expected`) */
    readonly actual: number | null,
  ) {
    super(`chunk body has ${actual === null ? 'more than ' + expected : actual} bytes, Content-Range announced ${expected}`);
  }
}

const WRITE_HIGH_WATER = 1 << 20;

const VERIFY_CHUNK = 1 << 20;

export class UploadFile {
  size = 0;
  private hashes = new Map<Algorithm, Hash>();
  private w: ObjectWriter | null = null;

  /** Hashes of `algorithms` (sha256 always) are kept up to date as chunks arrive. */
  constructor(
    private readonly storage: StorageDriver,
    algorithms: Algorithm[] = [],
  ) {
    for (const a of new Set<Algorithm>(['sha256', ...algorithms])) this.hashes.set(a, newHash(a));
  }

  /** Opens the (empty) writer. */
  async create(): Promise<void> {
    this.w = await this.storage.writer('upload');
  }

  get writer(): ObjectWriter {
    if (!this.w) throw new Error('upload writer not created');
    return this.w;
  }

  /**
   * Appends `body`, at most `limit` bytes, or exactly `exact` bytes when given
   * (a chunk with a Content-Range). Returns the number of bytes added. On any
   * failure the file and hashes are rolled back and the error rethrown:
   * SizeLimitExceeded over `limit`, ChunkLengthMismatch when not `exact`,
   * ENOENT when the file has gone, or the body's own error (client gone).
   */
  async append(body: Readable, limit: number, exact?: number): Promise<number> {
    const before = this.size;
    const saved = new Map([...this.hashes].map(([a, h]) => [a, h.copy()] as const));
    const counter = new HashingCounter([], exact === undefined ? limit : Math.min(limit, exact));
    for (const [a, h] of this.hashes) counter.hashes.set(a, h);
    // A writer cancelled or swept under us fails (WriterGone) instead of silently restarting at 0.
    const out = this.writer.append({ highWaterMark: WRITE_HIGH_WATER, release: releaseBodyChunk });
    try {
      await pipeline(body, counter, out);
      if (exact !== undefined && counter.bytes !== exact) throw new ChunkLengthMismatch(exact, counter.bytes);
    } catch (e) {
      if (!out.closed) await once(out, 'close').catch(() => {});
      this.hashes = saved;
      await this.writer.truncate(before).catch(() => {});
      if (e instanceof SizeLimitExceeded && exact !== undefined && exact <= limit) throw new ChunkLengthMismatch(exact, null);
      throw e;
    }
    this.size = before + counter.bytes;
    return counter.bytes;
  }

  /**
   * A counter for BlobStore.commitHashed holding the digest in `algorithm`.
   * Uses copies of the live hashes (the session stays usable); an algorithm
   * that was not hashed live is computed by reading the upload back once.
   */
  async counterFor(algorithm: Algorithm): Promise<HashingCounter> {
    const counter = new HashingCounter([]);
    counter.bytes = this.size;
    const live = this.hashes.get(algorithm);
    if (live) {
      counter.hashes.set(algorithm, live.copy());
    } else {
      const h = newHash(algorithm);
      const reader = await this.writer.reader();
      try {
        const buf = Buffer.allocUnsafe(Math.min(VERIFY_CHUNK, Math.max(1, this.size)));
        for (let pos = 0; pos < this.size; ) {
          const { bytesRead } = await reader.read(buf, 0, Math.min(buf.length, this.size - pos), pos);
          if (bytesRead === 0) break;
          h.update(buf.subarray(0, bytesRead));
          pos += bytesRead;
        }
      } finally {
        await reader.close();
      }
      counter.hashes.set(algorithm, h);
    }
    return counter;
  }

  /** Keeps the writer from the sweep of abandoned ones. */
  touch(): Promise<void> {
    return this.w ? this.w.touch() : Promise.resolve();
  }

  async remove(): Promise<void> {
    await this.w?.cancel().catch(() => {});
  }
}
