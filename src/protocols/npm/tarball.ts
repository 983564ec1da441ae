// Tarball download: GET/HEAD /npm/<name>/-/<file>.tgz, streamed from the
// package content (the blob keyed by the tarball's sha512) with ETag/If-None-Match and Range.
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { serveObject } from '../../main/http/serve-object.js';
import { notFound } from './errors.js';
import { parseName } from './names.js';
import { cacheScope } from './packument.js';
import type { NpmContent } from './content.js';

export function createTarballs(ctx: Context, content: NpmContent) {
  return {
    async get(req: Req, reply: Reply, name: string, file: string): Promise<void> {
      if (!parseName(name)) throw notFound(`tarball ${file}`);
      const found = await content.tarball(name, file);
      if (!found) throw notFound(`tarball ${file}`);
      await serveObject(req, reply, found.reader, {
        contentType: 'application/octet-stream',
        etag: `"sha512-${found.entry.sha512}"`,
        cacheControl: `${cacheScope(ctx)}, max-age=31536000, immutable`,
      });
    },
  };
}
