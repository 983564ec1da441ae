// GET/HEAD/DELETE /v2/<name>/blobs/<digest>. Bytes stream from the
// repository's content (content.ts: the hosted store, or a cache around it).
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { serveObject } from '../../main/http/serve-object.js';
import type { Digest } from '../../main/digest.js';
import { oci } from './errors.js';
import { methodNotAllowed } from '../../main/errors.js';
import { checkDigest } from './names.js';
import { unlinkBlob } from './layer-links.js';
import type { DockerContent } from './content.js';

export function createBlobs(ctx: Context, content: DockerContent) {
  async function get(req: Req, reply: Reply, name: string, d: Digest): Promise<void> {
    const reader = await content.blob(name, d, { head: req.method === 'HEAD' });
    if (!reader) throw unknown(d);
    reply.header('Docker-Content-Digest', d.value);
    await serveObject(req, reply, reader, {
      contentType: 'application/octet-stream',
      etag: `"${d.value}"`,
      cacheControl: 'max-age=31536000, immutable',
    });
  }
  async function remove(reply: Reply, name: string, d: Digest): Promise<void> {
    if (!(await unlinkBlob(ctx, name, d))) throw unknown(d);
    reply.status(202).header('Docker-Content-Digest', d.value).send();
  }

  return {
    async handle(req: Req, reply: Reply, name: string, digest: string): Promise<void> {
      const method = req.method;
      if (method !== 'GET' && method !== 'HEAD' && method !== 'DELETE') throw methodNotAllowed('GET, HEAD, DELETE');
      const d = checkDigest(digest);
      if (method === 'DELETE') return remove(reply, name, d);
      return get(req, reply, name, d);
    },
  };
}

function unknown(d: Digest) {
  return oci('BLOB_UNKNOWN', 'blob unknown to registry', { digest: d.value });
}
