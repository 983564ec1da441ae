// Tarball download: GET/HEAD /npm/<name>/-/<file>.tgz, streamed from the blob
// store (key = sha512 of the tarball) with ETag/If-None-Match and Range.
// Which files a package has is kept for a second (as the docker tag cache),
// so a burst of downloads does not read the package document once each; a
// local change forgets it at once, another process's within that second.
import { LRUCache } from 'lru-cache';
import { FRESH_MS } from '../../main/http/answer-cache.js';
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { serveObject } from '../../main/http/serve-object.js';
import { notFound } from './errors.js';
import { parseName } from './names.js';
import { cacheScope } from './packument.js';
import type { FileEntry, NpmStore } from './store.js';

export function createTarballs(ctx: Context, store: NpmStore) {
  const known = new LRUCache<string, Record<string, FileEntry>>({ max: 10_000, ttl: FRESH_MS });
  let generation = 0;
  store.onChange((name) => {
    generation++;
    known.delete(name);
  });

  async function filesOf(name: string): Promise<Record<string, FileEntry> | undefined> {
    const hit = known.get(name);
    if (hit !== undefined) return hit;
    const g = generation;
    const state = await store.read(name);
    // a read begun before a change must not answer the reads after it
    if (state && g === generation) known.set(name, state.files);
    return state?.files;
  }

  return {
    async get(req: Req, reply: Reply, name: string, file: string): Promise<void> {
      if (!parseName(name)) throw notFound(`tarball ${file}`);
      const files = await filesOf(name);
      // Own keys only: "__proto__" or "constructor" must not find Object.prototype's members.
      const f = files && Object.hasOwn(files, file) ? files[file] : undefined;
      if (!f) throw notFound(`tarball ${file}`);
      const reader = await ctx.blobs.open({ algorithm: 'sha512', hex: f.sha512, value: `sha512:${f.sha512}` });
      if (!reader) {
        ctx.log.error('npm: tarball content missing from blob store', { name, file });
        throw notFound(`content of tarball ${file}`);
      }
      await serveObject(req, reply, reader, {
        contentType: 'application/octet-stream',
        etag: `"sha512-${f.sha512}"`,
        cacheControl: `${cacheScope(ctx)}, max-age=31536000, immutable`,
      });
    },
  };
}
