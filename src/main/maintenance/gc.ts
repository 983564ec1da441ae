// `nora gc`: removes content-addressed blobs nothing refers to, and temp files
// (abandoned uploads) older than the upload-session TTL. Safe to run while the
// registry serves traffic:
//
//  - Mark: every object outside blobs/ and quarantine/ is metadata of some
//    format (Docker links, revisions, tags, referrers; npm, PyPI, Cargo and
//    Maven documents, raw file pointers);
//    any digest named in its path or content is in use, and so is everything a
//    referenced manifest names (followed to a fixed point, for indexes).
//  - Grace: a blob younger than the grace period is kept whatever the marks
//    say (a push uploads blobs before the manifest or document that names them).
//    Writers that find their blob already stored touch it
//    (BlobStore.adopt/putBuffer), which makes it young again.
//  - Sweep: an old unmarked blob is deleted only if its version is still the
//    one the walk saw (a conditional delete: on local disk it is moved aside,
//    compared and put back if a writer touched it meanwhile); a writer that
//    comes after the delete finds nothing and stores its own copy. A delete a
//    crash interrupted is put back by the driver's next sweep.
import { parseDigest } from '../digest.js';
import { blobAt, blobKey } from '../storage/blobs.js';
import type { StorageDriver } from '../storage/driver.js';
import { scanObject, scanText } from './references.js';

export interface GcOptions {
  /** report only; delete nothing */
  dryRun?: boolean;
  /** unreferenced blobs younger than this are kept (default 1 h) */
  graceMs?: number;
  /** writers (abandoned uploads) older than this are removed (the upload session TTL) */
  tempMaxAgeMs: number;
  /** one line per deleted (or, in a dry run, deletable) blob */
  onBlob?: (digest: string, size: number) => void;
}

export interface GcReport {
  dryRun: boolean;
  blobsScanned: number;
  blobsReferenced: number;
  blobsKeptYoung: number;
  blobsDeleted: number;
  bytesFreed: number;
  /** blobs a concurrent push refreshed while gc was moving them: put back */
  blobsRestored: number;
  tempFilesRemoved: number;
  /** files under blobs/ whose names are not digests (left alone) */
  strayFiles: number;
}

export const DEFAULT_GRACE_MS = 60 * 60 * 1000;
/** Top-level prefixes of the store that are not metadata. */
const NOT_METADATA = new Set(['blobs', 'quarantine', '_uploads']);
/** A manifest is at most 4 MiB; larger blobs are layers and never scanned. */
const MAX_MANIFEST = 4 * 1024 * 1024 + 1;

/** Digests named by every metadata object, plus (transitively) by the JSON blobs they name. */
async function mark(storage: StorageDriver): Promise<Set<string>> {
  const marks = new Set<string>();
  const buf = Buffer.allocUnsafe(1 << 20);
  for (const top of (await storage.list('', { prefixesOnly: true })).names) {
    if (NOT_METADATA.has(top)) continue;
    for await (const o of storage.walk(top)) {
      scanText(o.key, marks);
      await scanObject(storage, o.key, marks, buf); // removed meanwhile: it names nothing any more
    }
  }
  // Manifests (and npm/PyPI metadata blobs) name further blobs; follow until nothing new appears.
  let frontier = [...marks];
  const scanned = new Set<string>();
  while (frontier.length) {
    const next: string[] = [];
    for (const value of frontier) {
      if (scanned.has(value)) continue;
      scanned.add(value);
      const d = parseDigest(value);
      if (!d) continue;
      const s = await storage.stat(blobKey(d));
      if (!s || s.size > MAX_MANIFEST) continue;
      const found = new Set<string>();
      await scanObject(storage, blobKey(d), found, buf).catch(() => {});
      for (const f of found) {
        if (!marks.has(f)) {
          marks.add(f);
          next.push(f);
        }
      }
    }
    frontier = next;
  }
  return marks;
}

export async function collectGarbage(storage: StorageDriver, opts: GcOptions): Promise<GcReport> {
  const dryRun = opts.dryRun ?? false;
  const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  const report: GcReport = {
    dryRun,
    blobsScanned: 0,
    blobsReferenced: 0,
    blobsKeptYoung: 0,
    blobsDeleted: 0,
    bytesFreed: 0,
    blobsRestored: 0,
    tempFilesRemoved: 0,
    strayFiles: 0,
  };
  // Writers idle past the upload session TTL (the server expires those sessions
  // too); the driver also puts back deletes an interrupted run left half done.
  report.tempFilesRemoved = await storage.sweep(opts.tempMaxAgeMs, { dryRun });
  // Blobs written after this instant are young whatever the grace, so a push racing the mark phase is safe.
  const started = Date.now();
  const marks = await mark(storage);

  for await (const o of storage.walk('blobs')) {
    const d = blobAt(o.key);
    if (!d) {
      report.strayFiles++;
      continue;
    }
    report.blobsScanned++;
    if (marks.has(d.value)) {
      report.blobsReferenced++;
      continue;
    }
    if (o.modifiedMs >= started - graceMs) {
      report.blobsKeptYoung++;
      continue;
    }
    if (!dryRun && !(await storage.delete(o.key, { ifMatch: o.version }))) {
      // A push touched or rewrote it since the walk saw it: it is in use again.
      if (await storage.stat(o.key)) report.blobsRestored++;
      continue;
    }
    report.blobsDeleted++;
    report.bytesFreed += o.size;
    opts.onBlob?.(d.value, o.size);
  }
  return report;
}
