// Tarball download: GET/HEAD /npm/<name>/-/<file>.tgz, streamed from the blob
// store (key = sha512 of the tarball) with ETag/If-None-Match and Range.
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { serveObject } from '../../main/http/serve-object.js';
import { notFound } from './errors.js';
import { parseName } from './names.js';
import { cacheScope } from './packument.js';
import type { NpmStore } from './store.js';

export function createTarballs(ctx: Context, store: NpmStore) {
  return {
    async get(req: Req, reply: Reply, name: string, file: string): Promise<void> {
      if (!parseName(name)) throw notFound(`tarball ${file}`);
      const state = await store.read(name);
      // Own keys only: "__proto__" or "constructor" must not find Object.prototype's members.
      const f = state && Object.hasOwn(state.files, file) ? state.files[file] : undefined;
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
