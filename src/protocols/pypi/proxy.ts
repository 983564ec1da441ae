// Pull-through cache of upstream simple indexes (pypi.proxies, else
// pypi.proxy), wrapping the hosted content: a project uploaded here always
// wins, whole, over the upstreams' of the same name (no dependency
// confusion). Upstream pages are kept at pypi-proxy/<project>/page.json and,
// as in NORA, asked again on every read of the page (conditionally: ETag,
// Last-Modified), so new releases show at once; when every upstream fails the
// cached page answers, with nothing cached a 503 (never a 404: pip caches
// that). File links are served by nora-ts, checked against the sha256 the
// upstream page gave.
import type { Context } from '../../main/protocol.js';
import { pypiUpstreams } from '../../main/config.js';
import { UpstreamCache } from '../../main/upstream-cache.js';
import type { PypiContent } from './content.js';
import { isNormalized } from './normalize.js';
import { fromUpstreamPage, type UpstreamProject } from './upstream-page.js';

/** Where cached upstream pages live in storage (apart from hosted projects, which no fetch can overwrite). */
export const PYPI_CACHE_ROOT = 'pypi-proxy';

/** Largest project page accepted from upstream (PyPI's biggest are a few MB). */
const MAX_PAGE = 64 * 1024 * 1024;
/** pip's own preference: PEP 691 JSON, then HTML. */
const ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';

export function pypiUpstreamCache(ctx: Context): UpstreamCache<UpstreamProject> {
  const cfg = ctx.config.pypi;
  return new UpstreamCache<UpstreamProject>(ctx, {
    format: 'pypi',
    upstreams: pypiUpstreams(ctx.config),
    timeoutSecs: cfg.proxy_timeout,
    key: (norm) => `${PYPI_CACHE_ROOT}/${norm}/page.json`,
    url: (base, norm) => new URL(`${norm}/`, base).href,
    accept: ACCEPT,
    maxBytes: MAX_PAGE,
    ttlMs: 0,
    serveStale: true,
    revalidate: true,
    parse: ({ name, body, contentType, url }) => fromUpstreamPage(name, body, contentType, url, new Date().toISOString()),
    what: (norm) => `project ${norm}`,
  });
}

export function proxiedPypiContent(ctx: Context, hosted: PypiContent): PypiContent & { close(): void } {
  const cache = pypiUpstreamCache(ctx);
  return {
    close: () => cache.close(),
    async project(norm) {
      const own = await hosted.project(norm);
      if (own || !isNormalized(norm)) return own;
      return (await cache.current(norm))?.value.state ?? null;
    },
    async file(norm, filename) {
      if ((await hosted.project(norm)) || !isNormalized(norm)) return hosted.file(norm, filename);
      const page = await cache.listing(norm, filename);
      if (!page) return null;
      const { sha256 } = page.value.state.files[filename]!;
      // Checked against the sha256 the upstream page gave: the blob is keyed by it.
      const reader = await cache.file({ algorithm: 'sha256', hex: sha256, value: `sha256:${sha256}` }, page, filename);
      return { dist: filename, isMeta: false, sha256, reader };
    },
  };
}
