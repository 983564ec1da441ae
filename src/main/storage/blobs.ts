// Content-addressed blob store shared by every format: blobs/<alg>/<2 hex>/<hex>.
// Bytes are hashed while they stream to a temp file and only a verified file
// is renamed into place, so a stored blob always matches its digest.
import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Hash } from 'node:crypto';
import { newHash, type Algorithm, type Digest } from '../digest.js';
import type { LocalStorage } from './local.js';
import type { ObjectReader } from './types.js';

export class DigestMismatch extends Error {
  constructor(readonly expected: string, readonly actual: string) {
    super(`digest mismatch: expected ${expected}, computed ${actual}`);
  }
}
export class SizeLimitExceeded extends Error {
  constructor(readonly limit: number) {
    super(`content exceeds ${limit} bytes`);
  }
}

export function blobKey(d: Digest): string {
  return `blobs/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}`;
}

/** A transform that hashes (sha256, plus the expected algorithm) and counts bytes, with a size cap. */
export class HashingCounter extends Transform {
  readonly hashes = new Map<Algorithm, Hash>();
  bytes = 0;
  constructor(algorithms: Algorithm[], private readonly limit = Infinity) {
    super();
    for (const a of new Set(algorithms)) this.hashes.set(a, newHash(a));
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, d?: Buffer) => void): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) return cb(new SizeLimitExceeded(this.limit));
    for (const h of this.hashes.values()) h.update(chunk);
    cb(null, chunk);
  }
  digest(a: Algorithm): string {
    return `${a}:${this.hashes.get(a)!.digest('hex')}`;
  }
}

export interface PutResult {
  digest: string;
  size: number;
  /** false when identical content was already stored */
  created: boolean;
}

export class BlobStore {
  constructor(readonly storage: LocalStorage) {}

  stat(d: Digest) {
    return this.storage.stat(blobKey(d));
  }
  open(d: Digest): Promise<ObjectReader | null> {
    return this.storage.openRead(blobKey(d));
  }

  /**
   * Streams `source` into the store. With `expected`, the content must hash to it
   * (DigestMismatch otherwise); without, it is stored under its sha256.
   */
  async put(source: Readable, expected: Digest | null, limit = Infinity): Promise<PutResult> {
    const algs: Algorithm[] = expected ? ['sha256', expected.algorithm] : ['sha256'];
    const counter = new HashingCounter(algs, limit);
    const tmp = this.storage.tempPath('blob');
    try {
      await pipeline(source, counter, createWriteStream(tmp, { flags: 'wx', flush: true }));
      return await this.commitHashed(tmp, counter, expected);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
  }

  /** Moves an already hashed temp file into place (used by resumable uploads). */
  async commitHashed(tmp: string, counter: HashingCounter, expected: Digest | null): Promise<PutResult> {
    const alg = expected?.algorithm ?? 'sha256';
    const actual = counter.digest(alg);
    if (expected && actual !== expected.value) {
      await unlink(tmp).catch(() => {});
      throw new DigestMismatch(expected.value, actual);
    }
    const d = expected ?? { algorithm: alg, hex: actual.slice(alg.length + 1), value: actual };
    const key = blobKey(d);
    if (await this.storage.stat(key)) {
      await unlink(tmp).catch(() => {});
      return { digest: d.value, size: counter.bytes, created: false };
    }
    await this.storage.commitTemp(tmp, key);
    return { digest: d.value, size: counter.bytes, created: true };
  }

  async putBuffer(data: Buffer, d: Digest): Promise<void> {
    const key = blobKey(d);
    if (await this.storage.stat(key)) return;
    await this.storage.writeAtomic(key, data);
  }

  delete(d: Digest): Promise<boolean> {
    return this.storage.delete(blobKey(d));
  }
}
