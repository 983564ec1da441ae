// What docker's read handlers read: blobs, manifests and tags of a repository.
// Handlers see only this interface, so a caching layer (a pull-through proxy)
// can wrap it as distribution's proxyBlobStore wraps its BlobStore, answering
// from the hosted store first and filling from upstream on a miss, without a
// handler changing. The hosted implementation reads the storage driver through
// ManifestStore and BlobStore.
import type { Digest } from '../../main/digest.js';
import type { Context } from '../../main/protocol.js';
import type { ObjectReader } from '../../main/storage/driver.js';
import type { ManifestMeta } from './layout.js';
import { isLinked } from './layer-links.js';
import type { ListResult, ManifestStore } from './manifest-store.js';
import type { Reference } from './names.js';

export interface Manifest {
  digest: Digest;
  meta: ManifestMeta;
  bytes: Buffer;
  /** served from a pull-through cache whose upstream failed (serve_stale) */
  stale?: boolean;
}

export interface DockerContent {
  /**
   * The blob's bytes as repository `name` sees them, or null when it has none.
   * With `head`, only the size need be known (a cache asks its upstream with a HEAD).
   */
  blob(name: string, d: Digest, opts?: { head?: boolean }): Promise<ObjectReader | null>;
  /**
   * A URL from which the client may GET the blob straight from the object
   * store (storage.s3_redirect), or null: not stored for `name`, still being
   * fetched from an upstream, or a driver without such URLs.
   */
  blobUrl(name: string, d: Digest, expirySecs: number): Promise<string | null>;
  /** The manifest a tag or digest names in `name`, or null. */
  manifest(name: string, ref: Reference): Promise<Manifest | null>;
  /** Tag names in byte order after `last`, at most n; null when the repository is unknown. */
  tags(name: string, n: number, last?: string): Promise<ListResult | null>;
}

/** A reader that only knows a size: HEAD answers need no bytes. */
export function sizeOnly(size: number, version: string): ObjectReader {
  return {
    size,
    version,
    read: () => Promise.reject(new Error('HEAD only')),
    close: async () => {},
  };
}

export function hostedContent(ctx: Context, store: ManifestStore): DockerContent {
  return {
    async blob(name, d, opts) {
      if (!(await isLinked(ctx, name, d))) return null;
      // A HEAD asks the store for the size alone (opening a reader may start a GET of the bytes).
      if (opts?.head) {
        const st = await ctx.blobs.stat(d);
        return st && sizeOnly(st.size, st.version);
      }
      return ctx.blobs.open(d);
    },
    async blobUrl(name, d, expirySecs) {
      // a link is made only once its blob is stored
      return (await isLinked(ctx, name, d)) ? ctx.blobs.url(d, expirySecs) : null;
    },
    async manifest(name, ref) {
      const found = await store.resolve(name, ref);
      if (!found) return null;
      const bytes = await store.content(found.digest);
      return bytes ? { ...found, bytes } : null;
    },
    tags: (name, n, last) => store.listTags(name, n, last),
  };
}
