// `nora verify`: re-hashes every stored blob (streaming, one at a time) and
// reports those whose bytes no longer match the digest they are stored under;
// with quarantine, moves them to <storage>/quarantine/ so they are never served
// and a re-push can store a good copy. The file hashed is the file moved (same
// inode), so a good copy written meanwhile is never quarantined by mistake.
import { open } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { newHash, parseDigest, type Digest } from '../digest.js';
import type { BlobStore } from '../storage/blobs.js';
import { walkFiles } from './walk-files.js';

export interface VerifyOptions {
  quarantine?: boolean;
  /** called for each bad blob */
  onBad?: (bad: BadBlob) => void;
}

export interface BadBlob {
  digest: string;
  computed: string;
  size: number;
  /** where it was moved, when quarantined */
  movedTo?: string;
}

export interface VerifyReport {
  blobsChecked: number;
  bytesHashed: number;
  bad: BadBlob[];
  /** files under blobs/ that are not <alg>/<2 hex>/<hex> */
  strayFiles: number;
}

const CHUNK = 1 << 20;

function digestAt(rel: string): Digest | null {
  const parts = rel.split(sep);
  if (parts.length !== 3) return null;
  const d = parseDigest(`${parts[0]}:${parts[2]}`);
  return d && parts[1]!.length === 2 && d.hex.startsWith(parts[1]!) ? d : null;
}

/** Hashes one file through a single descriptor; returns its digest and identity. */
async function hashFile(path: string, d: Digest, buf: Buffer): Promise<{ actual: string; size: number; identity: string } | null> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null; // deleted meanwhile (gc)
    throw e;
  }
  try {
    const s = await fh.stat();
    const h = newHash(d.algorithm);
    let pos = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return { actual: `${d.algorithm}:${h.digest('hex')}`, size: pos, identity: `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}` };
  } finally {
    await fh.close();
  }
}

export async function verifyBlobs(blobs: BlobStore, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const report: VerifyReport = { blobsChecked: 0, bytesHashed: 0, bad: [], strayFiles: 0 };
  const dir = join(blobs.storage.root, 'blobs');
  const buf = Buffer.allocUnsafe(CHUNK);
  for await (const path of walkFiles(dir)) {
    const d = digestAt(relative(dir, path));
    if (!d) {
      report.strayFiles++;
      continue;
    }
    const r = await hashFile(path, d, buf);
    if (!r) continue;
    report.blobsChecked++;
    report.bytesHashed += r.size;
    if (r.actual === d.value) continue;
    const bad: BadBlob = { digest: d.value, computed: r.actual, size: r.size };
    if (opts.quarantine) {
      const moved = await blobs.quarantine(d, r.identity);
      if (moved) bad.movedTo = relative(blobs.storage.root, moved);
    }
    report.bad.push(bad);
    opts.onBad?.(bad);
  }
  return report;
}
