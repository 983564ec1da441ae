// Content-addressed blob store shared by every format: blobs/<alg>/<2 hex>/<hex>.
// Bytes are hashed while they stream to a temp file and only a verified file
// is renamed into place, so a stored blob always matches its digest.
import { createWriteStream } from 'node:fs';
import { link, lstat, mkdir, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Hash } from 'node:crypto';
import { newHash, type Algorithm, type Digest } from '../digest.js';
import { fsyncDir, type LocalStorage } from './local.js';
import type { ObjectReader } from './types.js';
import { VerifyingReader } from './verifying-reader.js';
import { log as processLog, type Logger } from '../log.js';

export { BlobCorrupt } from './verifying-reader.js';

/** Where `nora verify --quarantine` and failed reads move corrupt blobs: <root>/quarantine/<alg>/<hex>.<ms>. */
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

/** Verified files remembered; beyond this the least recently served is hashed again on its next read. */
const MAX_VERIFIED = 100_000;

export class BlobStore {
  /**
   * digest → identity of the stored file last hashed clean in this process.
   * A Map in least-recently-used order, not an LRUCache: that would allocate
   * its whole capacity (~3 MB, ~10 ms) at start-up; this grows with use.
   */
  private readonly verified = new Map<string, string>();

  constructor(
    readonly storage: LocalStorage,
    private readonly log: Logger = processLog,
  ) {}

  stat(d: Digest) {
    return this.storage.stat(blobKey(d));
  }

  /**
   * A reader over the blob, or null. Until this process has seen the file hash
   * clean, the reader checks it while serving (see VerifyingReader); a file
   * that fails is moved to quarantine/ so it is never served again and a
   * re-push can store a good copy.
   */
  async open(d: Digest): Promise<ObjectReader | null> {
    const reader = await this.storage.openRead(blobKey(d));
    if (!reader) return null;
    const id = reader.identity;
    if (id !== undefined && this.verified.get(d.value) === id) {
      this.verified.delete(d.value);
      this.verified.set(d.value, id);
      return reader;
    }
    return new VerifyingReader(
      reader,
      d,
      () => {
        if (id === undefined) return;
        this.verified.set(d.value, id);
        if (this.verified.size > MAX_VERIFIED) this.verified.delete(this.verified.keys().next().value!);
      },
      async (actual) => {
        this.verified.delete(d.value);
        this.log.error('stored blob failed verification; moved to quarantine', { digest: d.value, computed: actual });
        await this.quarantine(d, id).catch((e) => this.log.error('quarantine failed', { digest: d.value, error: String(e) }));
      },
    );
  }

  /**
   * Moves a blob aside to quarantine/. With `identity`, only that very file
   * (same device and inode) is moved: if a good copy replaced it meanwhile,
   * the good copy is put back. Returns the quarantined path, or null.
   */
  async quarantine(d: Digest, identity?: string): Promise<string | null> {
    const src = this.storage.path(blobKey(d));
    const dest = join(this.storage.root, QUARANTINE, d.algorithm, `${d.hex}.${Date.now()}`);
    await mkdir(dirname(dest), { recursive: true });
    try {
      await rename(src, dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    if (identity !== undefined) {
      const s = await lstat(dest);
      const [dev, ino] = identity.split(':');
      if (String(s.dev) !== dev || String(s.ino) !== ino) {
        await link(dest, src).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        });
        await unlink(dest);
        return null;
      }
    }
    await fsyncDir(dirname(src));
    await fsyncDir(dirname(dest));
    return dest;
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
    const created = await this.adopt(tmp, d);
    return { digest: d.value, size: counter.bytes, created };
  }

  /**
   * Moves a verified temp file into place as blob `d`. When the blob is
   * already stored, the temp file is dropped and the stored copy's mtime
   * refreshed (so a concurrent `nora gc` keeps it); if the stored copy vanished
   * in between, this one takes its place. True when this file was used.
   */
  async adopt(tmp: string, d: Digest): Promise<boolean> {
    const key = blobKey(d);
    if (await this.storage.refresh(key)) {
      await unlink(tmp).catch(() => {});
      return false;
    }
    await this.storage.commitTemp(tmp, key);
    return true;
  }

  async putBuffer(data: Buffer, d: Digest): Promise<void> {
    const key = blobKey(d);
    if (await this.storage.refresh(key)) return;
    await this.storage.writeAtomic(key, data);
  }

  delete(d: Digest): Promise<boolean> {
    return this.storage.delete(blobKey(d));
  }
}
