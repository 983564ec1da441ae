// GET/HEAD and DELETE of one raw file. Downloads stream from the blob store
// through serveObject (ETag, If-None-Match, Range, If-Range), with
// raw.cache_control, Last-Modified and the sandboxing headers.
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError } from '../../main/errors.js';
import { serveObject, etagMatches } from '../../main/http/serve-object.js';
import { parseDigest } from '../../main/digest.js';
import { contentTypeOf, SAFE_HEADERS } from './content-type.js';
import type { RawStore } from './store.js';

const notFound = (path: string) => new HttpError('NOT_FOUND', `${path} not found`);

export function createFiles(ctx: Context, store: RawStore) {
  return {
    async get(req: Req, reply: Reply, path: string): Promise<void> {
      const got = await store.load(path);
      if (!got) throw notFound(path);
      const reader = await ctx.blobs.open(parseDigest(`sha256:${got.file.sha256}`)!);
      if (!reader) {
        ctx.log.error('raw: file content missing from blob store', { path });
        throw notFound(path);
      }
      for (const [k, v] of SAFE_HEADERS) reply.header(k, v);
      reply.header('Last-Modified', new Date(got.file.modified).toUTCString());
      await serveObject(req, reply, reader, { contentType: contentTypeOf(path), etag: `"${got.file.sha256}"`, cacheControl: ctx.config.raw.cache_control || undefined });
    },

    /** DELETE, honouring If-Match; the blob stays for gc (another path may share it). */
    async remove(req: Req, reply: Reply, path: string): Promise<void> {
      const got = await store.load(path);
      if (!got) throw notFound(path);
      const ifMatch = req.headers['if-match'];
      if (ifMatch !== undefined && !etagMatches(ifMatch, `"${got.file.sha256}"`)) throw new HttpError('PRECONDITION_FAILED', `${path} is not the version If-Match names`);
      if (!(await store.remove(path, got.version))) throw new HttpError('PRECONDITION_FAILED', `${path} changed meanwhile`);
      reply.status(204).send();
    },
  };
}
