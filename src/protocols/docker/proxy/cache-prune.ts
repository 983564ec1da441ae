// `nora gc --proxy-max-age-days N` (or docker.cache_max_age_days): drops
// pull-through cache entries unused for longer, so gc's sweep can free their
// blobs. A cache hit refreshes the mtime of what it served (the manifest's
// revision file, the blob's link; at most hourly, proxied-content.ts), so the
// age is "last used", not "first fetched". Only the cache (docker/_proxy/) is
// touched, never hosted content. Old revisions go with the tags naming them;
// conditional deletes keep an entry a concurrent hit refreshed meanwhile.
import type { StorageDriver } from '../../../main/storage/driver.js';
import { CACHE_ROOT } from './routing.js';

export interface PruneReport {
  manifests: number;
  links: number;
  tags: number;
}

const ENTRY = /^(.*)\/(_manifests\/revisions|_layers)\/(sha256|sha512)\/([0-9a-f]+)$/;
const TAG = /^(.*)\/_manifests\/tags\/([^/]+)$/;

export async function pruneProxyCache(storage: StorageDriver, maxAgeMs: number, dryRun = false): Promise<PruneReport> {
  const cutoff = Date.now() - maxAgeMs;
  const report: PruneReport = { manifests: 0, links: 0, tags: 0 };
  const old: { key: string; version: string; manifest: boolean }[] = [];
  const tags: { key: string; repo: string }[] = [];
  for await (const o of storage.walk(`docker/${CACHE_ROOT}`)) {
    const m = ENTRY.exec(o.key);
    if (m && o.modifiedMs < cutoff) old.push({ key: o.key, version: o.version, manifest: m[2] !== '_layers' });
    const t = TAG.exec(o.key);
    if (t) tags.push({ key: o.key, repo: t[1]! });
  }
  for (const e of old) {
    if (!dryRun && !(await storage.delete(e.key, { ifMatch: e.version }))) continue;
    if (e.manifest) report.manifests++;
    else report.links++;
  }
  // A tag whose manifest is gone names nothing servable: drop it too.
  for (const t of tags) {
    const got = await storage.get(t.key);
    const digest = got?.data.toString('utf8').trim() ?? '';
    const [alg, hex] = digest.split(':');
    const revision = `${t.repo}/_manifests/revisions/${alg}/${hex}`;
    const gone = dryRun ? old.some((e) => e.key === revision) : (await storage.stat(revision)) === null;
    if (!gone) continue;
    if (!dryRun) await storage.delete(t.key);
    report.tags++;
  }
  return report;
}
