// The pull-through cache around docker's hosted content (content.ts), as
// distribution's proxyBlobStore / proxyManifestStore wrap theirs. Hosted
// content always wins; then a route's cache; then the upstream.
//
// Manifests keep the upstream's exact bytes and media type under their
// sha256 (by-digest fetches must hash to the digest asked for). A cached tag
// is served without asking within `metadata_ttl` (> 0), else revalidated with
// a HEAD (free against Docker Hub's pull limit) and re-fetched only when the
// digest moved. When the upstream fails (network, 5xx, 429, open breaker) a
// cached copy is served marked stale (`serve_stale`); with nothing cached the
// client gets 503 + Retry-After, never a 404 it would take as final.
//
// Blobs are filled once per route and digest (main/proxy/fill.ts) and
// published into the shared blob store with a link in the route's cache
// repository. A HEAD of an uncached blob asks the upstream with a HEAD.
import type { Context } from '../../../main/protocol.js';
import type { Digest } from '../../../main/digest.js';
import { digestOf, parseDigest } from '../../../main/digest.js';
import type { ObjectReader } from '../../../main/storage/driver.js';
import { blobKey } from '../../../main/storage/blobs.js';
import { Fills, SingleFlight, UpstreamError, UseMarks, readSmall, type UpstreamResponse } from '../../../main/proxy/index.js';
import { sizeOnly, type DockerContent, type Manifest } from '../content.js';
import type { ManifestStore } from '../manifest-store.js';
import type { Reference } from '../names.js';
import { linkBlob } from '../layer-links.js';
import { layerLinkKey, revisionKey } from '../layout.js';
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, bareType, metaOf, parseManifest } from '../manifest-parse.js';
import { MAX_MANIFEST_BYTES } from '../manifests.js';
import { routesFor, type ProxyRoute, type ProxyUpstream } from './routing.js';

const ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(', ');

export interface ProxyOptions {
  metadataTtlSecs: number;
  serveStale: boolean;
}

/** The upstream does not have it (404, or refuses these credentials): try the next route. */
class NotUpstream extends Error {}

const scopeOf = (r: ProxyRoute) => `repository:${r.remote}:pull`;
const refText = (ref: Reference) => (ref.kind === 'tag' ? ref.tag : ref.digest.value);

function failure(r: ProxyRoute, res: UpstreamResponse, what: string): Error {
  res.discard();
  if (res.status >= 500 || res.status === 429) {
    const retry = Number(res.headers['retry-after']);
    return new UpstreamError(r.up.client.upstream.label, `${what}: status ${res.status}`, res.status, Number.isInteger(retry) && retry > 0 ? retry : 5);
  }
  return new NotUpstream(`${what}: status ${res.status}`);
}

export function proxiedContent(ctx: Context, store: ManifestStore, hosted: DockerContent, upstreams: readonly ProxyUpstream[], opts: ProxyOptions, fills: Fills): DockerContent {
  const fetches = new SingleFlight<Manifest | null>();
  const heads = new SingleFlight<string | null>();
  /** cache repo + tag → when the upstream last confirmed it */
  const validated = new Map<string, number>();
  const marks = new UseMarks(ctx.storage);
  /** client name → the cache repository whose upstream answered it last (tried first next time) */
  const answered = new Map<string, string>();

  /** The routes of a name, the one that answered before first (a one-segment name's library/ route). */
  function routes(name: string): ProxyRoute[] {
    const all = routesFor(name, upstreams);
    const hit = answered.get(name);
    return hit === undefined ? all : [...all.filter((r) => r.cache === hit), ...all.filter((r) => r.cache !== hit)];
  }

  function remember(name: string, r: ProxyRoute): void {
    if (answered.size > 100_000) answered.clear();
    answered.set(name, r.cache);
  }

  /** Marks a cached entry (revision or blob link) as used: gc keeps what was used within its age. */
  const used = (key: string) => marks.used(key);

  /** GET of a manifest from the route's upstream, verified and cached; null when it has none. */
  function fetchManifest(r: ProxyRoute, ref: Reference): Promise<Manifest | null> {
    return fetches.run(`${r.cache}@${refText(ref)}`, async () => {
      const res = await r.up.client.request(`/v2/${r.remote}/manifests/${refText(ref)}`, { headers: { accept: ACCEPT }, scope: scopeOf(r) });
      if (res.status !== 200) {
        const e = failure(r, res, 'manifest');
        if (e instanceof NotUpstream) return null;
        throw e;
      }
      const label = r.up.client.upstream.label;
      const bytes = await readSmall(res, MAX_MANIFEST_BYTES, 'manifest', label);
      const algorithm = ref.kind === 'digest' ? ref.digest.algorithm : 'sha256';
      const digest = parseDigest(digestOf(bytes, algorithm))!;
      if (ref.kind === 'digest' && digest.value !== ref.digest.value) throw new UpstreamError(label, `manifest does not match ${ref.digest.value}`);
      const claimed = res.headers['docker-content-digest'];
      if (ref.kind === 'tag' && typeof claimed === 'string' && claimed.startsWith('sha256:') && claimed !== digest.value)
        throw new UpstreamError(label, 'manifest does not match its Docker-Content-Digest');
      let parsed;
      try {
        parsed = parseManifest(bytes, bareType(res.headers['content-type']) || undefined);
      } catch {
        throw new UpstreamError(label, 'upstream sent an invalid manifest');
      }
      const meta = metaOf(parsed, bytes.length);
      await store.put(r.cache, bytes, digest, meta, { tag: ref.kind === 'tag' ? ref.tag : undefined });
      if (ref.kind === 'tag') validated.set(`${r.cache}\n${ref.tag}`, Date.now());
      return { digest, meta, bytes };
    });
  }

  /** The digest the upstream's tag points at now (HEAD), or null when it has none. */
  function headTag(r: ProxyRoute, tag: string): Promise<string | null> {
    return heads.run(`${r.cache}:${tag}`, async () => {
      const res = await r.up.client.request(`/v2/${r.remote}/manifests/${tag}`, { method: 'HEAD', headers: { accept: ACCEPT }, scope: scopeOf(r) });
      if (res.status !== 200) {
        const e = failure(r, res, 'manifest HEAD');
        if (e instanceof NotUpstream) return null;
        throw e;
      }
      res.discard();
      const d = res.headers['docker-content-digest'];
      return typeof d === 'string' ? d : '';
    });
  }

  /** A cached tag, fresh, revalidated, re-fetched, or stale when the upstream fails. */
  async function revalidate(r: ProxyRoute, tag: string, cached: Manifest): Promise<Manifest | null> {
    const key = `${r.cache}\n${tag}`;
    const ttl = opts.metadataTtlSecs;
    if (ttl > 0 && (validated.get(key) ?? 0) > Date.now() - ttl * 1000) return cached;
    try {
      const now = await headTag(r, tag);
      if (now === null) return null; // gone upstream
      if (now === cached.digest.value) {
        validated.set(key, Date.now());
        if (validated.size > 100_000) validated.clear();
        return cached;
      }
      return (await fetchManifest(r, { kind: 'tag', tag })) ?? null;
    } catch (e) {
      if (!(e instanceof UpstreamError) || !opts.serveStale) throw e;
      ctx.log.warn('upstream failed; serving a cached tag marked stale', { repository: r.cache, tag, error: e.message });
      return { ...cached, stale: true };
    }
  }

  async function manifest(name: string, ref: Reference): Promise<Manifest | null> {
    const own = await hosted.manifest(name, ref);
    if (own) return own;
    const candidates = routes(name);
    for (const r of candidates) {
      const cached = await hosted.manifest(r.cache, ref);
      if (!cached) continue;
      const m = ref.kind === 'digest' ? cached : await revalidate(r, ref.tag, cached);
      if (m) {
        used(revisionKey(r.cache, m.digest));
        remember(name, r);
        return m;
      }
    }
    let failed: unknown = null;
    for (const r of candidates) {
      try {
        const m = await fetchManifest(r, ref);
        if (m) {
          remember(name, r);
          return m;
        }
      } catch (e) {
        if (!(e instanceof UpstreamError)) throw e;
        failed = e;
      }
    }
    if (failed) throw failed;
    return null;
  }

  async function blobFrom(r: ProxyRoute, d: Digest, head: boolean): Promise<ObjectReader | null> {
    const path = `/v2/${r.remote}/blobs/${d.value}`;
    if (head) {
      const res = await r.up.client.request(path, { method: 'HEAD', scope: scopeOf(r) });
      if (res.status !== 200) {
        const e = failure(r, res, 'blob HEAD');
        if (e instanceof NotUpstream) return null;
        throw e;
      }
      res.discard();
      const size = Number(res.headers['content-length']);
      return Number.isSafeInteger(size) && size >= 0 ? sizeOnly(size, 'upstream') : null;
    }
    try {
      return await fills.join({
        key: `docker:${r.cache}@${d.value}`,
        upstream: r.up.client.upstream,
        expected: d,
        tag: 'proxy-blob',
        open: async (signal) => {
          const res = await r.up.client.request(path, { scope: scopeOf(r), signal });
          if (res.status === 200) return res;
          throw failure(r, res, 'blob');
        },
        publish: async (writer) => {
          await ctx.blobs.adopt(writer, d);
          await linkBlob(ctx, r.cache, d);
          return blobKey(d);
        },
      });
    } catch (e) {
      if (e instanceof NotUpstream) return null;
      throw e;
    }
  }

  /** What `find` gives for the blob in `name` itself, else in a route's cache (marked used). */
  async function stored<T>(name: string, d: Digest, find: (repo: string) => Promise<T | null>): Promise<T | null> {
    const own = await find(name);
    if (own) return own;
    for (const r of routes(name)) {
      const cached = await find(r.cache);
      if (cached) {
        used(layerLinkKey(r.cache, d));
        return cached;
      }
    }
    return null;
  }

  async function blob(name: string, d: Digest, o?: { head?: boolean }): Promise<ObjectReader | null> {
    const found = await stored(name, d, (repo) => hosted.blob(repo, d, o));
    if (found) return found;
    let failed: unknown = null;
    for (const r of routes(name)) {
      try {
        const got = await blobFrom(r, d, o?.head === true);
        if (got) return got;
      } catch (e) {
        if (!(e instanceof UpstreamError)) throw e;
        failed = e;
      }
    }
    if (failed) throw failed;
    return null;
  }

  async function tags(name: string, n: number, last?: string) {
    const own = await hosted.tags(name, n, last);
    if (own) return own;
    for (const r of routes(name)) {
      const q = new URLSearchParams({ n: String(n) });
      if (last !== undefined) q.set('last', last);
      const res = await r.up.client.request(`/v2/${r.remote}/tags/list?${q}`, { scope: scopeOf(r) });
      if (res.status !== 200) {
        const e = failure(r, res, 'tags');
        if (e instanceof NotUpstream) continue;
        throw e;
      }
      const body = await readSmall(res, MAX_MANIFEST_BYTES, 'tag list', r.up.client.upstream.label);
      let list: unknown;
      try {
        list = (JSON.parse(body.toString('utf8')) as { tags?: unknown }).tags;
      } catch {
        throw new UpstreamError(r.up.client.upstream.label, 'tag list is not JSON');
      }
      const names = Array.isArray(list) ? list.filter((t): t is string => typeof t === 'string').sort() : [];
      return { names: names.slice(0, n), more: names.length > n || res.headers.link !== undefined };
    }
    return null;
  }

  // a blob not cached yet is filled and served here: nothing to redirect to
  const blobUrl = (name: string, d: Digest, expirySecs: number) => stored(name, d, (repo) => hosted.blobUrl(repo, d, expirySecs));

  return { manifest, blob, blobUrl, tags };
}
