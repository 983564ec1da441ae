// The bytes of one upload session, kept in the store so any replica can take
// the next request: each PATCH becomes one committed part object, and the PUT
// joins the parts into the blob. A chunk is hashed while it streams into its
// part (memory stays flat whatever the size); the running hash is kept in the
// process that wrote it, so a session whose requests all reach one replica
// (a single registry, or a balancer that keeps the connection) never reads its
// bytes back. Another replica rebuilds the hash by reading the parts once.
// A chunk that fails half way (client gone, size cap, storage error) is
// cancelled and never becomes a part: a session only holds whole chunks.
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
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

export interface Part {
  key: string;
  size: number;
}

const WRITE_HIGH_WATER = 1 << 20;
const READ_CHUNK = 1 << 20;

/** Hashes of one session's first `size` bytes, as this process saw them stream by. */
interface LiveHash {
  size: number;
  hashes: Map<Algorithm, Hash>;
}

export class UploadParts {
  private readonly live: LRUCache<string, LiveHash>;

  constructor(
    private readonly storage: StorageDriver,
    maxSessions: number,
  ) {
    this.live = new LRUCache({ max: Math.max(1, maxSessions) });
  }

  /** A fresh hash set for `algorithms` (sha256 always) continuing session `uuid` at `size`, if this process has it. */
  private hashesAt(uuid: string, size: number, algorithms: Algorithm[]): Map<Algorithm, Hash> | null {
    const l = this.live.get(uuid);
    if (size === 0) return new Map([...new Set<Algorithm>(['sha256', ...algorithms])].map((a) => [a, newHash(a)]));
    if (!l || l.size !== size) return null;
    return new Map([...l.hashes].map(([a, h]) => [a, h.copy()]));
  }

  /**
   * Streams `body` into an uncommitted writer, at most `limit` bytes, or
   * exactly `exact` when given. Rejects (with the writer cancelled) on
   * SizeLimitExceeded, ChunkLengthMismatch or the body's own error.
   */
  async receive(uuid: string, at: number, algorithms: Algorithm[], body: Readable, limit: number, exact?: number): Promise<{ writer: ObjectWriter; size: number; counter: HashingCounter; seal: () => void }> {
    const hashes = this.hashesAt(uuid, at, algorithms);
    const counter = new HashingCounter([], exact === undefined ? limit : Math.min(limit, exact));
    for (const [a, h] of hashes ?? []) counter.hashes.set(a, h);
    const writer = await this.storage.writer('upload');
    try {
      await pipeline(body, counter, writer.append({ highWaterMark: WRITE_HIGH_WATER, release: releaseBodyChunk }));
      if (exact !== undefined && counter.bytes !== exact) throw new ChunkLengthMismatch(exact, counter.bytes);
    } catch (e) {
      await writer.cancel().catch(() => {});
      if (e instanceof SizeLimitExceeded && exact !== undefined && exact <= limit) throw new ChunkLengthMismatch(exact, null);
      throw e;
    }
    const size = counter.bytes;
    // Called once the part is part of the session: later chunks continue from these hashes.
    const seal = () => {
      if (hashes) this.live.set(uuid, { size: at + size, hashes });
    };
    return { writer, size, counter, seal };
  }

  /** The hashes of the whole upload in `algorithm`, from this process's copy or by reading the parts back. */
  async digest(uuid: string, parts: Part[], size: number, algorithm: Algorithm): Promise<{ hex: string; reread: boolean }> {
    const mine = this.hashesAt(uuid, size, [algorithm])?.get(algorithm);
    if (mine) return { hex: mine.digest('hex'), reread: false };
    const h = newHash(algorithm);
    for (const p of parts) for await (const chunk of this.chunks(p)) h.update(chunk);
    return { hex: h.digest('hex'), reread: true };
  }

  /** Copies every part, in order, into `writer`, hashing in `algorithm` on the way (the join of a many-chunk upload). */
  async join(parts: Part[], writer: ObjectWriter, algorithm: Algorithm): Promise<HashingCounter> {
    const counter = new HashingCounter([algorithm]);
    const h = counter.hashes.get(algorithm)!;
    for (const p of parts) {
      const hashed = async function* (chunks: AsyncIterable<Buffer>) {
        for await (const c of chunks) {
          h.update(c);
          counter.bytes += c.length;
          yield c;
        }
      };
      await pipeline(this.chunks(p), hashed, writer.append({ highWaterMark: WRITE_HIGH_WATER }));
    }
    return counter;
  }

  /** A part's bytes in order; fails if it is missing or shorter than recorded. */
  private async *chunks(p: Part): AsyncGenerator<Buffer> {
    const reader = await this.storage.reader(p.key);
    if (!reader || reader.size !== p.size) {
      await reader?.close();
      throw new Error(`upload part ${p.key} is missing or truncated`);
    }
    try {
      for (let pos = 0; pos < p.size; ) {
        // A fresh buffer per read: the consumer may hold it until its write completes.
        const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, p.size - pos));
        const { bytesRead } = await reader.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) throw new Error(`upload part ${p.key} ended early`);
        pos += bytesRead;
        yield buf.subarray(0, bytesRead);
      }
    } finally {
      await reader.close();
    }
  }

  forget(uuid: string): void {
    this.live.delete(uuid);
  }
}
