// `nora gc`: removes content-addressed blobs nothing refers to, and temp files
// (abandoned uploads) older than the upload-session TTL. Safe to run while the
// registry serves traffic:
//
//  - Mark: every file outside blobs/, tmp/ and quarantine/ is metadata of some
//    format (Docker links, revisions, tags, referrers; npm and PyPI documents);
//    any digest named in its path or content is in use, and so is everything a
//    referenced manifest names (followed to a fixed point, for indexes).
//  - Grace: a blob younger than the grace period is kept whatever the marks
//    say (a push uploads blobs before the manifest or document that names them).
//    Writers that find their blob already stored refresh its mtime
//    (BlobStore.adopt/putBuffer), which makes it young again.
//  - Sweep: an old unmarked blob is renamed into tmp/ first, then its mtime is
//    read again: if a writer refreshed it just before the rename, it is put
//    back; a writer that comes after the rename finds nothing and stores its
//    own copy. Leftover gc-* files from an interrupted run are resolved the
//    same way at the next start.
import { link, lstat, readdir, rename, unlink, rm } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { parseDigest, type Digest } from '../digest.js';
import { blobKey } from '../storage/blobs.js';
import type { LocalStorage } from '../storage/local.js';
import { scanFile, scanText } from './references.js';
import { walkFiles } from './walk-files.js';

export interface GcOptions {
  /** report only; delete nothing */
  dryRun?: boolean;
  /** unreferenced blobs younger than this are kept (default 1 h) */
  graceMs?: number;
  /** temp files older than this are removed (the upload session TTL) */
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
/** Directories of the store that are not metadata. */
const NOT_METADATA = new Set(['blobs', 'tmp', 'quarantine']);
/** A manifest is at most 4 MiB; larger blobs are layers and never scanned. */
const MAX_MANIFEST = 4 * 1024 * 1024 + 1;
const TRASH = 'gc-';

/** Digests named by every metadata file, plus (transitively) by the JSON blobs they name. */
async function mark(storage: LocalStorage): Promise<Set<string>> {
  const marks = new Set<string>();
  for (const top of await readdir(storage.root, { withFileTypes: true }).catch(() => [])) {
    if (!top.isDirectory() || NOT_METADATA.has(top.name)) continue;
    for await (const file of walkFiles(join(storage.root, top.name))) {
      scanText(relative(storage.root, file).split(sep).join('/'), marks);
      await scanFile(file, marks).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e; // removed meanwhile: it names nothing any more
      });
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
      const path = storage.path(blobKey(d));
      const s = await lstat(path).catch(() => null);
      if (!s || !s.isFile() || s.size > MAX_MANIFEST) continue;
      const found = new Set<string>();
      await scanFile(path, found).catch(() => {});
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

/** The blob a path under blobs/ holds, or null for anything that is not <alg>/<2 hex>/<hex>. */
function blobAt(rel: string): Digest | null {
  const parts = rel.split(sep);
  if (parts.length !== 3) return null;
  const [alg, prefix, hex] = parts as [string, string, string];
  const d = parseDigest(`${alg}:${hex}`);
  return d && hex.startsWith(prefix) && prefix.length === 2 ? d : null;
}

/** Puts back, or drops, blobs an interrupted gc left in tmp/. */
async function resolveLeftovers(storage: LocalStorage, graceMs: number, dryRun: boolean): Promise<void> {
  const tmp = join(storage.root, 'tmp');
  for (const name of await readdir(tmp).catch(() => [] as string[])) {
    const m = /^gc-(sha256|sha512)-([0-9a-f]+)-/.exec(name);
    if (!m || dryRun) continue;
    const d = parseDigest(`${m[1]}:${m[2]}`);
    const p = join(tmp, name);
    const s = await lstat(p).catch(() => null);
    if (!d || !s) continue;
    if (Date.now() - s.mtimeMs < graceMs) {
      await link(p, storage.path(blobKey(d))).catch(() => {});
    }
    await unlink(p).catch(() => {});
  }
}

export async function collectGarbage(storage: LocalStorage, opts: GcOptions): Promise<GcReport> {
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
  await resolveLeftovers(storage, graceMs, dryRun);
  // Blobs written after this instant are young whatever the grace, so a push racing the mark phase is safe.
  const started = Date.now();
  const marks = await mark(storage);

  const blobsDir = join(storage.root, 'blobs');
  for await (const path of walkFiles(blobsDir)) {
    const d = blobAt(relative(blobsDir, path));
    if (!d) {
      report.strayFiles++;
      continue;
    }
    report.blobsScanned++;
    if (marks.has(d.value)) {
      report.blobsReferenced++;
      continue;
    }
    const before = await lstat(path).catch(() => null);
    if (!before) continue;
    if (before.mtimeMs >= started - graceMs) {
      report.blobsKeptYoung++;
      continue;
    }
    if (dryRun) {
      report.blobsDeleted++;
      report.bytesFreed += before.size;
      opts.onBlob?.(d.value, before.size);
      continue;
    }
    const trash = storage.tempPath(`${TRASH}${d.algorithm}-${d.hex}`);
    try {
      await rename(path, trash);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    const after = await lstat(trash);
    if (after.mtimeMs !== before.mtimeMs) {
      // A push refreshed it between our look and the rename: it is in use again.
      await link(trash, path).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      await unlink(trash);
      report.blobsRestored++;
      continue;
    }
    await unlink(trash);
    report.blobsDeleted++;
    report.bytesFreed += before.size;
    opts.onBlob?.(d.value, before.size);
  }

  // Temp files: upload sessions idle past their TTL (the server expires those sessions too).
  const tmp = join(storage.root, 'tmp');
  const now = Date.now();
  for (const name of await readdir(tmp).catch(() => [] as string[])) {
    const p = join(tmp, name);
    const s = await lstat(p).catch(() => null);
    if (!s || now - s.mtimeMs < opts.tempMaxAgeMs) continue;
    report.tempFilesRemoved++;
    if (!dryRun) await rm(p, { recursive: true, force: true });
  }
  return report;
}
