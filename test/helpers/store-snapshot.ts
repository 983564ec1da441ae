// Content snapshot of a registry's store read through the storage driver, the
// way every module reads it, so the same assertion holds on local disk and on
// S3: every object (key, size, sha256 of its bytes), token files included.
// A torn or partial object shows up in the snapshot itself: bytes that do not
// add up to the listed size, or a blob whose bytes are not its digest.
//
// Scratch, not stored data, on every driver:
// - writers (local: <storage>/tmp; S3: multipart uploads and staging objects
//   under .nora-tmp/): no driver's walk shows them; `writers()` counts them;
// - upload sessions under _uploads/ (session documents and their parts): the
//   tests open and close sessions themselves; `keys('_uploads')` lists them.
import { createHash } from 'node:crypto';
import type { Config } from '../../src/main/config.js';
import type { StorageDriver } from '../../src/main/storage/driver.js';
import { contentDriver, tokenDriver } from '../../src/main/storage/factory.js';
import { blobAt } from '../../src/main/storage/blobs.js';
import { UPLOADS } from '../../src/protocols/docker/upload-sessions.js';
import type { Snapshot } from './tree-snapshot.js';

export { diffSnapshots, type Snapshot } from './tree-snapshot.js';

const SCRATCH = `${UPLOADS}/`;
/** How a token store's key is named in a snapshot. */
export const tokenEntry = (key: string) => `[tokens] ${key}`;
const CHUNK = 64 * 1024;

export class StoreView {
  /** key + version → snapshot value: an object is re-read only once its version moves */
  private readonly seen = new Map<string, string>();

  private constructor(
    readonly content: StorageDriver,
    readonly tokens: StorageDriver,
  ) {}

  /** Drivers of its own (not the registry's instances) on the store `config` names. */
  static async of(config: Config): Promise<StoreView> {
    return new StoreView(await contentDriver(config), await tokenDriver(config));
  }

  /**
   * Every stored object but scratch. `fresh` re-reads every byte (no version
   * cache): for final checks, so a version that failed to move hides nothing.
   */
  async snapshot(opts: { fresh?: boolean } = {}): Promise<Snapshot> {
    // Both stores listed at once (an object store's listing is a round trip each).
    const parts = await Promise.all([this.entries(this.content, (k) => k, opts), this.entries(this.tokens, tokenEntry, opts)]);
    return new Map(parts.flat());
  }

  private async entries(d: StorageDriver, name: (key: string) => string, opts: { fresh?: boolean }): Promise<[string, string][]> {
    const out: [string, string][] = [];
    for await (const e of d.walk('')) {
      if (d === this.content && e.key.startsWith(SCRATCH)) continue;
      const id = name(e.key);
      const cached = opts.fresh ? undefined : this.seen.get(`${id}\n${e.version}`);
      const value = cached ?? (await contentOf(d, e.key, e.size));
      this.seen.set(`${id}\n${e.version}`, value);
      out.push([id, value]);
    }
    return out;
  }

  /** Objects below a prefix (e.g. upload sessions), with their sizes. */
  async keys(prefix: string): Promise<{ key: string; size: number }[]> {
    const out: { key: string; size: number }[] = [];
    for await (const e of this.content.walk(prefix)) out.push({ key: e.key, size: e.size });
    return out;
  }

  /** Writers open or left behind on the content store (what a sweep at age 0 would remove). */
  writers(): Promise<number> {
    return this.content.sweep(0, { dryRun: true });
  }

  close(): void {
    for (const d of [this.content, this.tokens]) (d as { close?(): void }).close?.();
  }
}

/** "<size> <sha256>", or what is wrong with an object a reader may see. */
async function contentOf(d: StorageDriver, key: string, listed: number): Promise<string> {
  const r = await d.reader(key);
  if (!r) return 'vanished between listing and reading';
  const blob = blobAt(key);
  const sha256 = createHash('sha256');
  const own = blob && blob.algorithm !== 'sha256' ? createHash(blob.algorithm) : sha256;
  const buf = Buffer.allocUnsafe(CHUNK);
  let read = 0;
  try {
    for (;;) {
      const { bytesRead } = await r.read(buf, 0, CHUNK, read);
      if (bytesRead === 0) break;
      sha256.update(buf.subarray(0, bytesRead));
      if (own !== sha256) own.update(buf.subarray(0, bytesRead));
      read += bytesRead;
    }
  } finally {
    await r.close();
  }
  const hex = sha256.digest('hex');
  if (read !== listed || read !== r.size) return `torn: listed ${listed} bytes, reader ${r.size}, read ${read}`;
  const ownHex = own === sha256 ? hex : own.digest('hex');
  if (blob && ownHex !== blob.hex) return `torn: blob holds ${blob.algorithm}:${ownHex}`;
  return `${read} ${hex}`;
}

/** Entries of a snapshot that no reader should ever see. */
export function tornObjects(s: Snapshot): string[] {
  return [...s].filter(([, v]) => !/^\d+ [0-9a-f]{64}$/.test(v)).map(([k, v]) => `${k}: ${v}`);
}
