// Content-addressed blob store shared by every format: blobs/<alg>/<2 hex>/<hex>.
// Bytes are hashed while they stream into a storage writer and only verified
// content is committed under its digest, so a stored blob always matches it.
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Hash } from 'node:crypto';
import { digestOf, newHash, parseDigest, type Algorithm, type Digest } from '../digest.js';
import type { ObjectInfo, ObjectReader, ObjectWriter, StorageDriver } from './driver.js';
import { VerifyingReader } from './verifying-reader.js';
import { log as processLog, type Logger } from '../log.js';

export { BlobCorrupt } from './verifying-reader.js';

/** Where `nora verify --quarantine` and failed reads move corrupt blobs: quarantine/<alg>/<hex>.<ms>. */
export const QUARANTINE = 'quarantine';

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

/** The blob a key holds, or null for anything that is not blobs/<alg>/<2 hex>/<hex>. */
export function blobAt(key: string): Digest | null {
  const parts = key.split('/');
  if (parts.length !== 4 || parts[0] !== 'blobs') return null;
  const [, alg, prefix, hex] = parts as [string, string, string, string];
  const d = parseDigest(`${alg}:${hex}`);
  return d && prefix.length === 2 && hex.startsWith(prefix) ? d : null;
}

/** A transform that hashes (sha256, plus the expected algorithm; callers may add any node:crypto hash by name) and counts bytes, with a size cap. */
export class HashingCounter extends Transform {
  readonly hashes = new Map<string, Hash>();
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

/** Verified files remembered; beyond this the least recently served is hashed again on its next read. */
const MAX_VERIFIED = 100_000;

export class BlobStore {
  /**
   * digest → version of the stored object last hashed clean in this process.
   * A Map in least-recently-used order, not an LRUCache: that would allocate
   * its whole capacity (~3 MB, ~10 ms) at start-up; this grows with use.
   */
  private readonly verified = new Map<string, string>();

  constructor(
    readonly storage: StorageDriver,
    private readonly log: Logger = processLog,
  ) {}

  stat(d: Digest): Promise<ObjectInfo | null> {
    return this.storage.stat(blobKey(d));
  }

  /**
   * A reader over the blob, or null. Until this process has seen this version
   * hash clean, the reader checks it while serving (see VerifyingReader); a
   * blob that fails is moved to quarantine/ so it is never served again and a
   * re-push can store a good copy.
   */
  async open(d: Digest): Promise<ObjectReader | null> {
    const reader = await this.storage.reader(blobKey(d));
    if (!reader) return null;
    const version = reader.version;
    if (this.verified.get(d.value) === version) {
      this.verified.delete(d.value);
      this.verified.set(d.value, version);
      return reader;
    }
    return new VerifyingReader(
      reader,
      d,
      () => {
        this.verified.set(d.value, version);
        if (this.verified.size > MAX_VERIFIED) this.verified.delete(this.verified.keys().next().value!);
      },
      async (actual) => {
        this.verified.delete(d.value);
        this.log.error('stored blob failed verification; moved to quarantine', { digest: d.value, computed: actual });
        await this.quarantine(d, version).catch((e) => this.log.error('quarantine failed', { digest: d.value, error: String(e) }));
      },
    );
  }

  /** A URL a client may fetch the stored blob from directly (BlobStore does not check it is stored), or null when the driver has none. */
  url(d: Digest, expirySecs: number): Promise<string | null> {
    return this.storage.presignGet(blobKey(d), expirySecs);
  }

  /**
   * A small blob (a manifest) whole, checked against its digest: a blob that
   * fails is quarantined (that very version) and reads as absent.
   */
  async readVerified(d: Digest): Promise<Buffer | null> {
    const got = await this.storage.get(blobKey(d));
    if (!got) return null;
    const actual = digestOf(got.data, d.algorithm);
    if (actual === d.value) return got.data;
    this.log.error('stored blob failed verification; moved to quarantine', { digest: d.value, computed: actual });
    await this.quarantine(d, got.version).catch((e) => this.log.error('quarantine failed', { digest: d.value, error: String(e) }));
    return null;
  }

  /**
   * Moves a blob aside to quarantine/. With `version`, only that very version
   * is moved: if a good copy replaced it meanwhile, the good copy stays.
   * Returns the quarantine key, or null.
   */
  async quarantine(d: Digest, version?: string): Promise<string | null> {
    const key = blobKey(d);
    const v = version ?? (await this.storage.stat(key))?.version;
    if (v === undefined) return null;
    const dest = `${QUARANTINE}/${d.algorithm}/${d.hex}.${Date.now()}`;
    if (!(await this.storage.copy(key, dest))) return null;
    if (!(await this.storage.delete(key, { ifMatch: v }))) {
      await this.storage.delete(dest);
      return null;
    }
    return dest;
  }

  /**
   * Streams `source` into the store. With `expected`, the content must hash to it
   * (DigestMismatch otherwise); without, it is stored under its sha256.
   */
  async put(source: Readable, expected: Digest | null, limit = Infinity): Promise<PutResult> {
    const algs: Algorithm[] = expected ? ['sha256', expected.algorithm] : ['sha256'];
    const counter = new HashingCounter(algs, limit);
    const writer = await this.storage.writer('blob');
    try {
      await pipeline(source, counter, writer.append());
      return await this.commitHashed(writer, counter, expected);
    } catch (e) {
      await writer.cancel();
      throw e;
    }
  }

  /** Commits an already hashed writer (used by resumable uploads); cancels it on a mismatch. */
  async commitHashed(writer: ObjectWriter, counter: HashingCounter, expected: Digest | null): Promise<PutResult> {
    const alg = expected?.algorithm ?? 'sha256';
    const actual = counter.digest(alg);
    if (expected && actual !== expected.value) {
      await writer.cancel();
      throw new DigestMismatch(expected.value, actual);
    }
    const d = expected ?? { algorithm: alg, hex: actual.slice(alg.length + 1), value: actual };
    const created = await this.adopt(writer, d);
    return { digest: d.value, size: counter.bytes, created };
  }

  /**
   * Commits a verified writer as blob `d`. When the blob is already stored,
   * the writer is dropped and the stored copy touched (so a concurrent
   * `nora gc` keeps it); if the stored copy vanished in between, this one
   * takes its place. True when this writer's bytes were used.
   */
  async adopt(writer: ObjectWriter, d: Digest): Promise<boolean> {
    const key = blobKey(d);
    if (await this.storage.touch(key)) {
      await writer.cancel();
      return false;
    }
    await writer.commit(key);
    return true;
  }

  async putBuffer(data: Buffer, d: Digest): Promise<void> {
    const key = blobKey(d);
    if (await this.storage.touch(key)) return;
    await this.storage.put(key, data);
  }

  delete(d: Digest): Promise<boolean> {
    return this.storage.delete(blobKey(d));
  }
}
