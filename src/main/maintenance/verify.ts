// `nora verify`: re-hashes every stored blob (streaming, one at a time) and
// reports those whose bytes no longer match the digest they are stored under;
// with quarantine, moves them to <storage>/quarantine/ so they are never served
// and a re-push can store a good copy. The version hashed is the version moved,
// so a good copy written meanwhile is never quarantined by mistake.
import { newHash, type Digest } from '../digest.js';
import { blobAt, type BlobStore } from '../storage/blobs.js';

export interface VerifyOptions {
  quarantine?: boolean;
  /** called for each bad blob */
  onBad?: (bad: BadBlob) => void;
}

export interface BadBlob {
  digest: string;
  computed: string;
  size: number;
  /** the key it was moved to, when quarantined */
  movedTo?: string;
}

export interface VerifyReport {
  blobsChecked: number;
  bytesHashed: number;
  bad: BadBlob[];
  /** objects under blobs/ that are not <alg>/<2 hex>/<hex> */
  strayFiles: number;
}

const CHUNK = 1 << 20;

/** Hashes one version of a blob through a single reader; null when it is gone (gc). */
async function hashBlob(blobs: BlobStore, key: string, d: Digest, buf: Buffer): Promise<{ actual: string; size: number; version: string } | null> {
  const reader = await blobs.storage.reader(key);
  if (!reader) return null;
  try {
    const h = newHash(d.algorithm);
    let pos = 0;
    for (;;) {
      const { bytesRead } = await reader.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return { actual: `${d.algorithm}:${h.digest('hex')}`, size: pos, version: reader.version };
  } finally {
    await reader.close();
  }
}

export async function verifyBlobs(blobs: BlobStore, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const report: VerifyReport = { blobsChecked: 0, bytesHashed: 0, bad: [], strayFiles: 0 };
  const buf = Buffer.allocUnsafe(CHUNK);
  for await (const o of blobs.storage.walk('blobs')) {
    const d = blobAt(o.key);
    if (!d) {
      report.strayFiles++;
      continue;
    }
    const r = await hashBlob(blobs, o.key, d, buf);
    if (!r) continue;
    report.blobsChecked++;
    report.bytesHashed += r.size;
    if (r.actual === d.value) continue;
    const bad: BadBlob = { digest: d.value, computed: r.actual, size: r.size };
    if (opts.quarantine) {
      const moved = await blobs.quarantine(d, r.version);
      if (moved) bad.movedTo = moved;
    }
    report.bad.push(bad);
    opts.onBad?.(bad);
  }
  return report;
}
