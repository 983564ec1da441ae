// Pull-through cache of an upstream npm registry (npm.proxy), wrapping the
// hosted content: a package published here always wins, whole, over the
// upstream's of the same name (no dependency confusion). Upstream packuments
// are kept at npm-proxy/<name>/packument.json (main/upstream-cache.ts: fresh
// for npm.metadata_ttl, then revalidated with If-None-Match; stale copy on
// upstream failure; 503, never 404, with nothing cached).
import type { Context } from '../../main/protocol.js';
import { UpstreamCache } from '../../main/upstream-cache.js';
import type { NpmContent } from './content.js';
import { parseName, escapeName } from './names.js';
import { fromUpstream, type UpstreamPackage } from './upstream-packument.js';

/** Where cached upstream packuments live in storage (apart from hosted ones, which no fetch can overwrite). */
export const NPM_CACHE_ROOT = 'npm-proxy';

/** Largest packument accepted from upstream (npmjs's biggest are tens of MB). */
const MAX_DOCUMENT = 128 * 1024 * 1024;

export function npmUpstreamCache(ctx: Context): UpstreamCache<UpstreamPackage> {
  const cfg = ctx.config.npm;
  return new UpstreamCache<UpstreamPackage>(ctx, {
    format: 'npm',
    upstreams: [{ url: cfg.proxy, auth: cfg.proxy_auth }],
    timeoutSecs: cfg.proxy_timeout,
    key: (name) => `${NPM_CACHE_ROOT}/${name}/packument.json`,
    url: (base, name) => new URL(escapeName(name), base).href,
    accept: 'application/json',
    maxBytes: MAX_DOCUMENT,
    ttlMs: cfg.metadata_ttl * 1000,
    serveStale: cfg.serve_stale,
    revalidate: cfg.revalidate,
    parse({ name, body, base, previous }) {
      let doc: unknown;
      try {
        doc = JSON.parse(body.toString('utf8'));
      } catch {
        return null;
      }
      // A changed document is a new revision (the ETag clients revalidate with).
      return fromUpstream(name, doc, base, (previous?.state.rev ?? 0) + 1);
    },
    what: (name) => `package ${name}`,
  });
}

/** The hosted content with the upstream behind it: hosted packages win, whole. */
export function proxiedNpmContent(ctx: Context, hosted: NpmContent): NpmContent & { close(): void } {
  const cache = npmUpstreamCache(ctx);
  return {
    close: () => cache.close(),
    async packument(name) {
      const own = await hosted.packument(name);
      if (own || !parseName(name)) return own;
      return (await cache.current(name))?.value.state ?? null;
    },
    async tarball(name, file) {
      const own = await hosted.tarball(name, file);
      if (own || !parseName(name) || (await hosted.packument(name))) return own;
      const doc = await cache.listing(name, file);
      if (!doc) return null;
      const entry = doc.value.state.files[file]!;
      // Checked against dist.integrity: the blob is keyed by that sha512.
      const digest = { algorithm: 'sha512' as const, hex: entry.sha512, value: `sha512:${entry.sha512}` };
      return { entry, reader: await cache.file(digest, doc, file) };
    },
  };
}
