// The pull-through cache of the package formats (npm packuments and
// tarballs, PyPI project pages and files), on the proxy core (main/proxy/:
// upstream client with breaker and metrics, single-flight fills).
//
// Documents: one storage object per document with the upstream's validators,
// fresh for a TTL, then revalidated with If-None-Match / If-Modified-Since;
// one upstream request per document at a time however many clients wait.
// Upstreams are tried in order: the first that has the document answers.
// When every upstream that could have it failed, the cached copy answers
// (serve_stale); with nothing cached the error is a 503, never a 404: npm and
// pip give up on a 404 (and pip caches it), they retry a 503. The format
// parses the upstream body into what it serves (`parse`), so a document is
// checked once, when it arrives, never when it is read.
//
// Files: a blob by the digest the document gave (sha512 integrity, sha256),
// served from the blob store when present, else through one fill per digest
// that every client streams from, published only when the digest matches.
import { createHash } from 'node:crypto';
import type { Context } from './protocol.js';
import type { Upstream as UpstreamConfig } from './config.js';
import type { Digest } from './digest.js';
import type { ObjectReader } from './storage/driver.js';
import { blobKey } from './storage/blobs.js';
import { HttpError } from './errors.js';
import type { StorageDriver } from './storage/driver.js';
import { Fills, SingleFlight, Upstream, UpstreamError, UseMarks, breakerSettings, readSmall } from './proxy/index.js';

export interface Cached<T> {
  /** base URL of the upstream that answered */
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

export interface UpstreamCacheOptions<T extends Listing> {
  /** format label in logs and storage writers, e.g. "npm" */
  format: string;
  upstreams: UpstreamConfig[];
  /** connect + headers, and the longest silence in a body, seconds */
  timeoutSecs: number;
  /** storage key of a document */
  key(name: string): string;
  /** the document's URL on an upstream whose base URL ends with '/' */
  url(base: URL, name: string): string;
  accept: string;
  maxBytes: number;
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

interface Source {
  base: URL;
  client: Upstream;
  /** Basic credentials, for the upstream's own origin only */
  authorization: string | undefined;
}

const withSlash = (u: string) => new URL(u.endsWith('/') ? u : `${u}/`);

/** What a parsed document must have: where each file it lists is fetched. */
export interface Listing {
  /** file name → upstream URL */
  sources: Record<string, string>;
}

export class UpstreamCache<T extends Listing> {
  private readonly flights = new SingleFlight<Cached<T> | null>();
  private readonly sources: Source[];
  private readonly fills: Fills;
  private readonly marks: UseMarks;

  constructor(
    private readonly ctx: Context,
    private readonly o: UpstreamCacheOptions<T>,
  ) {
    this.fills = new Fills(ctx.storage, ctx.log);
    this.marks = new UseMarks(ctx.storage);
    this.sources = o.upstreams.map((u) => {
      const base = withSlash(u.url);
      // The metrics label is the URL without credentials (a path tells two indexes on one host apart).
      const client = new Upstream({
        url: base.href,
        label: `${base.origin}${base.pathname}`,
        connectTimeoutMs: o.timeoutSecs * 1000,
        readTimeoutMs: o.timeoutSecs * 1000,
        breaker: breakerSettings(ctx.config),
        metrics: ctx.metrics,
      });
      return { base, client, authorization: u.auth ? `Basic ${Buffer.from(u.auth).toString('base64')}` : undefined };
    });
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
    return this.flights.run(name, async () => {
      const c = await this.stored(name);
      if (!c || !this.fresh(c)) return this.refresh(name, c);
      this.marks.used(this.o.key(name));
      return c;
    });
  }

  /** The document listing `file`: the cached copy, else the current one (a release made upstream since); null when neither does. */
  async listing(name: string, file: string): Promise<Cached<T> | null> {
    const lists = (c: Cached<T> | null) => c !== null && Object.hasOwn(c.value.sources, file);
    const stored = await this.stored(name);
    if (lists(stored)) {
      this.marks.used(this.o.key(name));
      return stored;
    }
    const current = await this.current(name);
    return lists(current) ? current : null;
  }

  /**
   * File `file` with digest `d` that `cached` lists: from the blob store,
   * else through the digest's one fill from the upstream the document came from.
   */
  async file(d: Digest, cached: Cached<T>, file: string): Promise<ObjectReader> {
    const own = await this.ctx.blobs.open(d);
    if (own) return own;
    const url = cached.value.sources[file]!;
    const src = this.sources.find((s) => s.base.href === cached.upstream) ?? this.sources[0]!;
    return this.fills.join({
      key: `${this.o.format}:${d.value}`,
      upstream: src.client,
      expected: d,
      tag: `proxy-${this.o.format}`,
      open: async (signal) => {
        const res = await src.client.request(url, { headers: this.headers(src, url, '*/*'), signal });
        if (res.status === 200) return res;
        res.discard();
        if (res.status === 404 || res.status === 410) throw new HttpError('NOT_FOUND', `${file} not found upstream`);
        throw new UpstreamError(src.client.label, `${file}: answered ${res.status}`, res.status);
      },
      publish: async (writer) => {
        await this.ctx.blobs.adopt(writer, d);
        return blobKey(d);
      },
    });
  }

  /** Stops fills (their clients are cut, nothing is published) and closes connections. */
  close(): void {
    this.fills.close();
    for (const s of this.sources) s.client.close();
  }

  private fresh(c: Cached<T>): boolean {
    return this.o.ttlMs < 0 || Date.now() - c.checked < this.o.ttlMs;
  }

  /** Credentials only to the upstream's own origin (a file may live on a CDN), and nothing of the client's. */
  private headers(src: Source, url: string, accept: string): Record<string, string> {
    const h: Record<string, string> = { accept, 'user-agent': `nora-ts/${this.ctx.version}` };
    if (src.authorization && new URL(url).origin === src.base.origin) h.authorization = src.authorization;
    return h;
  }

  private async refresh(name: string, cached: Cached<T> | null): Promise<Cached<T> | null> {
    const failures: UpstreamError[] = [];
    for (const src of this.sources) {
      const url = this.o.url(src.base, name);
      const same = cached?.upstream === src.base.href && this.o.revalidate;
      const headers = this.headers(src, url, this.o.accept);
      if (same && cached.etag) headers['if-none-match'] = cached.etag;
      if (same && cached.lastModified) headers['if-modified-since'] = cached.lastModified;
      try {
        const res = await src.client.request(url, { headers });
        if (res.status === 404 || res.status === 410) {
          res.discard();
          continue;
        }
        if (res.status === 304 && same) {
          res.discard();
          return await this.save(name, { ...cached, checked: Date.now() });
        }
        if (res.status !== 200) {
          res.discard();
          throw new UpstreamError(src.client.label, `answered ${res.status}`, res.status);
        }
        const data = await readSmall(res, this.o.maxBytes, this.o.what(name), src.client.label);
        const body = createHash('sha256').update(data).digest('hex');
        const h = res.headers;
        const common = { upstream: src.base.href, etag: h.etag, lastModified: h['last-modified'], checked: Date.now(), body };
        if (cached && cached.upstream === src.base.href && cached.body === body) return await this.save(name, { ...cached, ...common });
        const value = this.o.parse({ name, body: data, contentType: String(h['content-type'] ?? ''), url, base: src.base, previous: cached?.value ?? null });
        if (value === null) throw new UpstreamError(src.client.label, `not a valid document for ${this.o.what(name)}`);
        return await this.save(name, { ...common, value });
      } catch (e) {
        if (!(e instanceof UpstreamError)) throw e;
        failures.push(e);
      }
    }
    if (failures.length === 0) {
      // Every upstream says there is no such document (a cached copy was unpublished upstream).
      if (cached) await this.ctx.storage.delete(this.o.key(name));
      return null;
    }
    this.ctx.log.warn(`${this.o.format} proxy: upstream failed`, { name, failures: failures.map((e) => e.message) });
    if (cached && this.o.serveStale) return cached;
    throw failures[0]!;
  }

  private async save(name: string, c: Cached<T>): Promise<Cached<T>> {
    await this.ctx.storage.put(this.o.key(name), JSON.stringify(c));
    return c;
  }
}

/**
 * `nora gc --proxy-max-age-days`: drops cached documents under `roots` that
 * no read used for `maxAgeMs` (a hit touches its document, hourly at most),
 * so the sweep can free the files only they named. Conditional deletes keep
 * a document a concurrent read refreshed meanwhile. Returns how many went.
 */
export async function pruneDocuments(storage: StorageDriver, roots: readonly string[], maxAgeMs: number, dryRun = false): Promise<number> {
  const cutoff = Date.now() - maxAgeMs;
  let dropped = 0;
  for (const root of roots) {
    for await (const o of storage.walk(root)) {
      if (o.modifiedMs >= cutoff) continue;
      if (dryRun || (await storage.delete(o.key, { ifMatch: o.version }))) dropped++;
    }
  }
  return dropped;
}
