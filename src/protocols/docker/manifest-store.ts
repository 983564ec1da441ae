// Reads and writes manifests, tags and referrer entries in the layout of
// layout.ts. Manifest bytes live in the shared blob store; a repository holds a
// revision file (ManifestMeta) per manifest it owns and a file per tag.
//
// Hot pulls are served from small in-process caches. Content is immutable per
// digest; tags and revisions are invalidated by this process's own writes and
// also expire after a short TTL, so a writer outside this process is noticed.
// A read that raced with a write never fills the cache (generation check).
import { LRUCache } from 'lru-cache';
import { parseDigest, type Digest } from '../../main/digest.js';
import { FRESH_MS } from '../../main/http/answer-cache.js';
import type { Context } from '../../main/protocol.js';
import { layerLinkKey, referrerKey, referrersPrefix, repoKey, revisionKey, tagKey, tagsPrefix, type ManifestMeta } from './layout.js';
import type { Reference } from './names.js';

export interface Resolved {
  digest: Digest;
  meta: ManifestMeta;
}

export interface ListResult {
  names: string[];
  /** more entries follow the last one returned */
  more: boolean;
}

const IO_CONCURRENCY = 16;

/** Runs fn over items with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export class ManifestStore {
  // Tags move (on other replicas too): re-read after FRESH_MS like every other document memory answers.
  private readonly tags = new LRUCache<string, string>({ max: 10_000, ttl: FRESH_MS });
  private readonly metas = new LRUCache<string, ManifestMeta>({ max: 10_000, ttl: 10_000 });
  private readonly contents = new LRUCache<string, Buffer>({ maxSize: 32 * 1024 * 1024, sizeCalculation: (b) => Math.max(1, b.length) });
  /** bumped by every write; a read started before a write must not cache what it saw */
  private generation = 0;
  /** tag reads in progress: when a hot tag's entry expires, its waiting pulls share one read */
  private readonly tagReads = new Map<string, Promise<Digest | null>>();

  private readonly tagListeners: ((name: string, tag: string) => void)[] = [];

  constructor(private readonly ctx: Context) {}

  /** Called after a push has moved a tag (the web UI's recent pushes). */
  onTag(l: (name: string, tag: string) => void): void {
    this.tagListeners.push(l);
  }

  private get storage() {
    return this.ctx.storage;
  }

  private invalidate(cache: { delete(key: string): unknown }, key: string): void {
    this.generation++;
    cache.delete(key);
    // a read begun before this write must not answer readers who come after it
    this.tagReads.delete(key);
  }

  /** Digest a tag points at, or null. */
  readTag(name: string, tag: string): Promise<Digest | null> {
    const key = `${name}\n${tag}`;
    const hit = this.tags.get(key);
    if (hit !== undefined) return Promise.resolve(parseDigest(hit));
    let p = this.tagReads.get(key);
    if (p === undefined) {
      const g = this.generation;
      p = this.storage.get(tagKey(name, tag)).then((got) => {
        const d = got ? parseDigest(got.data.toString('utf8').trim()) : null;
        if (d && g === this.generation) this.tags.set(key, d.value);
        return d;
      });
      const settled = () => {
        if (this.tagReads.get(key) === p) this.tagReads.delete(key);
      };
      p.then(settled, settled);
      this.tagReads.set(key, p);
    }
    return p;
  }

  /** What is known about a manifest of this repository, or null when it is not one. */
  async readMeta(name: string, d: Digest): Promise<ManifestMeta | null> {
    const key = `${name}\n${d.value}`;
    const hit = this.metas.get(key);
    if (hit) return hit;
    const g = this.generation;
    const got = await this.storage.get(revisionKey(name, d));
    if (!got) return null;
    const meta = JSON.parse(got.data.toString('utf8')) as ManifestMeta;
    if (g === this.generation) this.metas.set(key, meta);
    return meta;
  }

  async resolve(name: string, ref: Reference): Promise<Resolved | null> {
    const digest = ref.kind === 'digest' ? ref.digest : await this.readTag(name, ref.tag);
    if (!digest) return null;
    const meta = await this.readMeta(name, digest);
    return meta ? { digest, meta } : null;
  }

  /**
   * The manifest a reference (tag or digest, as in the URL) names, from the
   * caches alone; undefined when any part is not cached. Only what the full
   * path validated and read ever enters the caches, so a hit needs no checks.
   */
  peek(name: string, reference: string): { digest: string; meta: ManifestMeta; bytes: Buffer } | undefined {
    const digest = reference.includes(':') ? reference : this.tags.get(`${name}\n${reference}`);
    if (digest === undefined) return undefined;
    const meta = this.metas.get(`${name}\n${digest}`);
    if (meta === undefined) return undefined;
    const bytes = this.contents.get(digest);
    return bytes === undefined ? undefined : { digest, meta, bytes };
  }

  /** The manifest's bytes from the blob store (immutable per digest). */
  async content(d: Digest): Promise<Buffer | null> {
    const hit = this.contents.get(d.value);
    if (hit) return hit;
    // Checked once per cache fill (a manifest is small): rotted bytes are never served.
    const raw = await this.ctx.blobs.readVerified(d);
    if (!raw) return null;
    this.contents.set(d.value, raw);
    return raw;
  }

  hasRevision(name: string, d: Digest): Promise<boolean> {
    return this.storage.stat(revisionKey(name, d)).then((s) => s !== null);
  }

  /** True when the blob was pushed to (or mounted into) this repository and its bytes are stored. */
  async hasBlob(name: string, d: Digest): Promise<boolean> {
    return (await this.storage.stat(layerLinkKey(name, d))) !== null && (await this.ctx.blobs.stat(d)) !== null;
  }

  /** A repository exists once a manifest was pushed to it. */
  async repoExists(name: string): Promise<boolean> {
    return (await this.storage.list(`${repoKey(name)}/_manifests`, { limit: 1 })).names.length > 0;
  }

  /**
   * Stores a manifest: bytes, then revision, then referrer entry, then tag, so a
   * crash at any point leaves nothing that points at missing data.
   */
  async put(
    name: string,
    bytes: Buffer,
    digest: Digest,
    meta: ManifestMeta,
    opts: { tag?: string; subject?: Digest; referrer?: Record<string, unknown> } = {},
  ): Promise<void> {
    await this.ctx.blobs.putBuffer(bytes, digest);
    await this.writeIfChanged(revisionKey(name, digest), JSON.stringify(meta));
    this.invalidate(this.metas, `${name}\n${digest.value}`);
    if (opts.subject && opts.referrer) {
      await this.writeIfChanged(referrerKey(name, opts.subject, digest), JSON.stringify(opts.referrer));
    }
    if (opts.tag !== undefined) {
      // put replaces the whole object atomically: concurrent
      // pushes of one tag leave whichever renamed last, never a mixture.
      await this.writeIfChanged(tagKey(name, opts.tag), digest.value);
      this.invalidate(this.tags, `${name}\n${opts.tag}`);
      for (const l of this.tagListeners) l(name, opts.tag);
    }
  }

  /** Re-pushes are common (every client retries, CI re-tags): skip the fsync'd write when nothing changes. */
  private async writeIfChanged(key: string, data: string): Promise<void> {
    const old = await this.storage.get(key);
    if (old && old.data.toString('utf8') === data) return;
    await this.storage.put(key, data);
  }

  /** Removes one tag; false when it did not exist. */
  async deleteTag(name: string, tag: string): Promise<boolean> {
    const removed = await this.storage.delete(tagKey(name, tag));
    this.invalidate(this.tags, `${name}\n${tag}`);
    return removed;
  }

  /** Removes a manifest from the repository with every tag on it and its referrer entry. */
  async deleteRevision(name: string, d: Digest): Promise<boolean> {
    const meta = await this.readMeta(name, d).catch(() => null);
    const removed = await this.storage.delete(revisionKey(name, d));
    this.invalidate(this.metas, `${name}\n${d.value}`);
    if (!removed) return false;
    const subject = meta?.subject ? parseDigest(meta.subject) : null;
    if (subject) await this.storage.delete(referrerKey(name, subject, d));
    let after: string | undefined;
    for (;;) {
      const page = await this.storage.list(tagsPrefix(name), { after, limit: 1000 });
      await mapLimit(page.names, IO_CONCURRENCY, async (tag) => {
        const got = await this.storage.get(tagKey(name, tag));
        if (got && got.data.toString('utf8').trim() === d.value) await this.deleteTag(name, tag);
      });
      if (!page.more) break;
      after = page.names[page.names.length - 1];
    }
    return true;
  }

  /** Tag names in byte order after `last`, at most n; null when the repository is unknown. */
  async listTags(name: string, n: number, last?: string): Promise<ListResult | null> {
    if (!(await this.repoExists(name))) return null;
    return this.storage.list(tagsPrefix(name), { after: last, limit: n });
  }

  /** Referrer entry names (by digest) for a subject, in order, after `last`. */
  listReferrers(name: string, subject: Digest, n: number, last?: string): Promise<ListResult> {
    return this.storage.list(referrersPrefix(name, subject), { after: last, limit: n });
  }

  async readReferrer(name: string, subject: Digest, entry: string): Promise<Record<string, unknown> | null> {
    const got = await this.storage.get(`${referrersPrefix(name, subject)}/${entry}`);
    return got ? (JSON.parse(got.data.toString('utf8')) as Record<string, unknown>) : null;
  }
}
