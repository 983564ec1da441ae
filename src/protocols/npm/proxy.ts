// Pull-through cache of an upstream npm registry (npm.proxy), wrapping the
// hosted content: a package published here always wins over the upstream's
// of the same name (no dependency confusion). Upstream packuments are kept at
// npm-proxy/<name>/packument.json with the upstream's ETag, answer for
// npm.metadata_ttl seconds, then are revalidated with If-None-Match (one
// upstream request per package however many clients ask). When the upstream
// fails the cached copy answers (npm.serve_stale); with nothing cached the
// answer is 503, never a 404 (npm would give up on a 404, it retries a 503).
import { createHash } from 'node:crypto';
import type { Context } from '../../main/protocol.js';
import { HttpError } from '../../main/errors.js';
import { fetchUpstreamDocument, safeUrl, upstreamUnavailable } from '../../main/upstream-document.js';
import type { NpmContent } from './content.js';
import { parseName, escapeName } from './names.js';
import { fromUpstream } from './upstream-packument.js';
import type { PackageState } from './store.js';

/** What is stored per proxied package. */
interface Cached {
  /** the upstream's ETag of the document, for If-None-Match */
  etag?: string;
  /** when the upstream last confirmed it (ms since the epoch) */
  checked: number;
  /** sha256 of the upstream body: a new body makes a new revision */
  body: string;
  state: PackageState;
  /** tarball file name → upstream URL */
  sources: Record<string, string>;
}

/** Largest packument accepted from upstream (npmjs's biggest are tens of MB). */
const MAX_DOCUMENT = 128 * 1024 * 1024;
const ACCEPT = 'application/json';

const keyOf = (name: string) => `npm-proxy/${name}/packument.json`;

export interface ProxiedPackage {
  state: PackageState;
  sources: Record<string, string>;
}

export function npmUpstreamCache(ctx: Context) {
  const cfg = ctx.config.npm;
  const upstream = new URL(cfg.proxy.endsWith('/') ? cfg.proxy : `${cfg.proxy}/`);
  const inflight = new Map<string, Promise<ProxiedPackage | null>>();

  async function stored(name: string): Promise<Cached | null> {
    const got = await ctx.storage.get(keyOf(name));
    if (!got) return null;
    try {
      return JSON.parse(got.data.toString('utf8')) as Cached;
    } catch {
      ctx.log.error('npm proxy: unreadable cached packument, refetching', { name });
      return null;
    }
  }

  function fresh(c: Cached): boolean {
    if (cfg.metadata_ttl < 0) return true;
    return Date.now() - c.checked < cfg.metadata_ttl * 1000;
  }

  async function refresh(name: string, cached: Cached | null): Promise<ProxiedPackage | null> {
    const url = new URL(escapeName(name), upstream).href;
    const got = await fetchUpstreamDocument({
      url,
      auth: cfg.proxy_auth,
      origin: upstream.origin,
      accept: ACCEPT,
      timeoutMs: cfg.proxy_timeout * 1000,
      maxBytes: MAX_DOCUMENT,
      etag: cfg.revalidate ? cached?.etag : undefined,
      userAgent: `nora-ts/${ctx.version}`,
    });
    switch (got.kind) {
      case 'not-modified':
        if (!cached) return null;
        await save(name, { ...cached, checked: Date.now() });
        return cached;
      case 'absent':
        if (cached) await ctx.storage.delete(keyOf(name));
        return null;
      case 'failed':
        return stale(name, cached, got.reason);
      case 'ok': {
        const body = createHash('sha256').update(got.body).digest('hex');
        if (cached && cached.body === body) {
          await save(name, { ...cached, etag: got.etag, checked: Date.now() });
          return cached;
        }
        let doc: unknown;
        try {
          doc = JSON.parse(got.body.toString('utf8'));
        } catch {
          return stale(name, cached, 'not JSON');
        }
        const pkg = fromUpstream(name, doc, upstream, (cached?.state.rev ?? 0) + 1);
        if (!pkg) return stale(name, cached, 'not a packument of this package');
        await save(name, { etag: got.etag, checked: Date.now(), body, ...pkg });
        return pkg;
      }
    }
  }

  /** The cached copy when the upstream failed (serve_stale), else 503. */
  function stale(name: string, cached: Cached | null, reason: string): ProxiedPackage {
    ctx.log.warn('npm proxy: upstream failed', { name, upstream: safeUrl(upstream.href), reason });
    if (cached && cfg.serve_stale) return cached;
    throw upstreamUnavailable(`package ${name}`, upstream.href, reason);
  }

  async function save(name: string, c: Cached): Promise<void> {
    await ctx.storage.put(keyOf(name), JSON.stringify(c));
  }

  return {
    /** The package as the upstream has it: cached while fresh, else revalidated (one request per package at a time). */
    async current(name: string): Promise<ProxiedPackage | null> {
      let p = inflight.get(name);
      if (p) return p;
      p = (async () => {
        const cached = await stored(name);
        return cached && fresh(cached) ? cached : refresh(name, cached);
      })();
      inflight.set(name, p);
      try {
        return await p;
      } finally {
        inflight.delete(name);
      }
    },
    /** The cached copy without asking the upstream, or null. */
    stored,
  };
}

/** The hosted content with the upstream behind it: hosted packages win, whole. */
export function proxiedNpmContent(ctx: Context, hosted: NpmContent): NpmContent {
  const cache = npmUpstreamCache(ctx);
  return {
    async packument(name) {
      const own = await hosted.packument(name);
      if (own || !parseName(name)) return own;
      return (await cache.current(name))?.state ?? null;
    },
    async tarball(name, file) {
      const own = await hosted.tarball(name, file);
      if (own || !parseName(name) || (await hosted.packument(name))) return own;
      // A file the cached document does not list may be a version published upstream since.
      let pkg: ProxiedPackage | null = await cache.stored(name);
      if (!pkg || !Object.hasOwn(pkg.state.files, file)) pkg = await cache.current(name);
      const entry = pkg && Object.hasOwn(pkg.state.files, file) ? pkg.state.files[file]! : undefined;
      if (!entry) return null;
      const reader = await ctx.blobs.open({ algorithm: 'sha512', hex: entry.sha512, value: `sha512:${entry.sha512}` });
      if (reader) return { entry, reader };
      // TODO(proxy core): fill from pkg.sources[file], checked against entry.sha512.
      throw new HttpError('UNAVAILABLE', `tarball ${file} is not cached yet`, { headers: { 'Retry-After': '10' } });
    },
  };
}
