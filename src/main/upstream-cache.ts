// Upstream documents (npm packuments, PyPI project pages) cached in storage
// for a pull-through format: one object per document with the upstream's
// validators, fresh for a TTL, then revalidated with If-None-Match /
// If-Modified-Since; one upstream request per document at a time however
// many clients wait. Upstreams are tried in order: the first that has the
// document answers. When every upstream that could have it failed, the cached
// copy answers (serve_stale); with nothing cached the error is a 503, never a
// 404: npm and pip give up on a 404 (and pip caches it), they retry a 503.
// The format parses the upstream body into what it serves (`parse`), so a
// document is checked once, when it arrives, never when it is read.
import { createHash } from 'node:crypto';
import type { Context } from './protocol.js';
import type { Upstream } from './config.js';
import { fetchUpstreamDocument, safeUrl, upstreamUnavailable } from './upstream-document.js';

export interface Cached<T> {
  /** the upstream that answered */
  upstream: string;
  etag?: string;
  lastModified?: string;
  /** when an upstream last confirmed it (ms since the epoch) */
  checked: number;
  /** sha256 of the upstream body: an unchanged body keeps the parsed value (and its revision) */
  body: string;
  value: T;
}

/** A document as an upstream sent it, for the format to parse. */
export interface Fetched<T> {
  name: string;
  body: Buffer;
  contentType: string;
  /** where it was fetched (relative links resolve against it) */
  url: string;
  /** the upstream's base URL, ending with '/' */
  base: URL;
  /** what the last copy parsed to */
  previous: T | null;
}

export interface UpstreamCacheOptions<T> {
  /** format label in logs and errors, e.g. "npm" */
  format: string;
  upstreams: Upstream[];
  /** storage key of a document */
  key(name: string): string;
  /** the document's URL on an upstream whose URL ends with '/' */
  url(base: URL, name: string): string;
  accept: string;
  maxBytes: number;
  timeoutMs: number;
  /** how long a cached copy answers unasked; < 0 forever */
  ttlMs: number;
  serveStale: boolean;
  /** send the validators (else refetch whole) */
  revalidate: boolean;
  /** the upstream body as served here, null when it is not a document of `name` */
  parse(got: Fetched<T>): T | null;
  /** "package x", "project y": what errors name */
  what(name: string): string;
}

const withSlash = (u: string) => new URL(u.endsWith('/') ? u : `${u}/`);

export class UpstreamCache<T> {
  private readonly inflight = new Map<string, Promise<Cached<T> | null>>();
  private readonly bases: { base: URL; auth: string }[];

  constructor(
    private readonly ctx: Context,
    private readonly o: UpstreamCacheOptions<T>,
  ) {
    this.bases = o.upstreams.map((u) => ({ base: withSlash(u.url), auth: u.auth }));
  }

  /** The cached copy without asking any upstream, or null. */
  async stored(name: string): Promise<Cached<T> | null> {
    const got = await this.ctx.storage.get(this.o.key(name));
    if (!got) return null;
    try {
      return JSON.parse(got.data.toString('utf8')) as Cached<T>;
    } catch {
      this.ctx.log.error(`${this.o.format} proxy: unreadable cached document, refetching`, { name });
      return null;
    }
  }

  /** The document as the upstreams have it: the cached copy while fresh, else revalidated; null when no upstream has it. */
  current(name: string): Promise<Cached<T> | null> {
    let p = this.inflight.get(name);
    if (p === undefined) {
      p = this.stored(name).then((c) => (c && this.fresh(c) ? c : this.refresh(name, c)));
      const settled = () => {
        if (this.inflight.get(name) === p) this.inflight.delete(name);
      };
      p.then(settled, settled);
      this.inflight.set(name, p);
    }
    return p;
  }

  private fresh(c: Cached<T>): boolean {
    return this.o.ttlMs < 0 || Date.now() - c.checked < this.o.ttlMs;
  }

  private async refresh(name: string, cached: Cached<T> | null): Promise<Cached<T> | null> {
    const failures: string[] = [];
    for (const { base, auth } of this.bases) {
      const url = this.o.url(base, name);
      const same = cached?.upstream === base.href && this.o.revalidate;
      const got = await fetchUpstreamDocument({
        url,
        auth,
        origin: base.origin,
        accept: this.o.accept,
        timeoutMs: this.o.timeoutMs,
        maxBytes: this.o.maxBytes,
        etag: same ? cached.etag : undefined,
        lastModified: same ? cached.lastModified : undefined,
        userAgent: `nora-ts/${this.ctx.version}`,
      });
      if (got.kind === 'absent') continue;
      if (got.kind === 'failed') {
        failures.push(`${safeUrl(url)}: ${got.reason}`);
        continue;
      }
      if (got.kind === 'not-modified') {
        if (!cached || !same) {
          failures.push(`${safeUrl(url)}: 304 to an unconditional request`);
          continue;
        }
        return this.save(name, { ...cached, checked: Date.now() });
      }
      const body = createHash('sha256').update(got.body).digest('hex');
      const common = { upstream: base.href, etag: got.etag, lastModified: got.lastModified, checked: Date.now(), body };
      if (cached && cached.upstream === base.href && cached.body === body) return this.save(name, { ...cached, ...common });
      const value = this.o.parse({ name, body: got.body, contentType: got.contentType, url: got.url, base, previous: cached?.value ?? null });
      if (value === null) {
        failures.push(`${safeUrl(url)}: not a valid document for ${this.o.what(name)}`);
        continue;
      }
      return this.save(name, { ...common, value });
    }
    if (failures.length === 0) {
      // Every upstream says it has no such document (a cached copy was unpublished upstream).
      if (cached) await this.ctx.storage.delete(this.o.key(name));
      return null;
    }
    this.ctx.log.warn(`${this.o.format} proxy: upstream failed`, { name, failures });
    if (cached && this.o.serveStale) return cached;
    throw upstreamUnavailable(this.o.what(name), failures.join('; '));
  }

  private async save(name: string, c: Cached<T>): Promise<Cached<T>> {
    await this.ctx.storage.put(this.o.key(name), JSON.stringify(c));
    return c;
  }
}
