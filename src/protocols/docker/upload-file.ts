// The bytes of one upload session: a temp file plus live hashes of everything
// in it. A chunk is streamed straight to disk while it is hashed, so memory
// stays flat whatever the blob size; if the chunk fails half way (client gone,
// size cap, disk error) the file is cut back and the hashes restored, so the
// session only ever reflects whole, accepted chunks.
import { createReadStream } from 'node:fs';
import { FileAppender } from '../../main/storage/file-appender.js';
import { open, truncate, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { once } from 'node:events';
import type { Hash } from 'node:crypto';
import { newHash, type Algorithm } from '../../main/digest.js';
import { HashingCounter, SizeLimitExceeded } from '../../main/storage/blobs.js';

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

export class UploadFile {
  size = 0;
  private hashes = new Map<Algorithm, Hash>();

  /** Hashes of `algorithms` (sha256 always) are kept up to date as chunks arrive. */
  constructor(
    readonly path: string,
    algorithms: Algorithm[] = [],
  ) {
    for (const a of new Set<Algorithm>(['sha256', ...algorithms])) this.hashes.set(a, newHash(a));
  }

  /** Creates the empty file; it must not exist yet. */
  async create(): Promise<void> {
    const fh = await open(this.path, 'wx', 0o600);
    await fh.close();
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
    // Opened 'r+' (not 'a') so a file removed under us fails instead of silently restarting at 0.
    const out = new FileAppender(this.path, before, WRITE_HIGH_WATER);
    try {
      await pipeline(body, counter, out);
      if (exact !== undefined && counter.bytes !== exact) throw new ChunkLengthMismatch(exact, counter.bytes);
    } catch (e) {
      if (!out.closed) await once(out, 'close').catch(() => {});
      this.hashes = saved;
      await truncate(this.path, before).catch(() => {});
      if (e instanceof SizeLimitExceeded && exact !== undefined && exact <= limit) throw new ChunkLengthMismatch(exact, null);
      throw e;
    }
    this.size = before + counter.bytes;
    return counter.bytes;
  }

  /**
   * A counter for BlobStore.commitHashed holding the digest in `algorithm`.
   * Uses copies of the live hashes (the session stays usable); an algorithm
   * that was not hashed live is computed by streaming the file once.
   */
  async counterFor(algorithm: Algorithm): Promise<HashingCounter> {
    const counter = new HashingCounter([]);
    counter.bytes = this.size;
    const live = this.hashes.get(algorithm);
    if (live) {
      counter.hashes.set(algorithm, live.copy());
    } else {
      const h = newHash(algorithm);
      for await (const chunk of createReadStream(this.path, { highWaterMark: WRITE_HIGH_WATER })) h.update(chunk as Buffer);
      counter.hashes.set(algorithm, h);
    }
    return counter;
  }

  /** Flushes the file's data to disk before it is renamed into the store. */
  async sync(): Promise<void> {
    const fh = await open(this.path, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async remove(): Promise<void> {
    await unlink(this.path).catch(() => {});
  }
}
