// GET/HEAD/DELETE /v2/<name>/blobs/<digest>. Bytes stream from the
// repository's content (content.ts: the hosted store, or a cache around it),
// or, with storage.s3_redirect, straight from the object store after a 307.
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
  const { s3_redirect: redirect, s3_redirect_expiry_secs: expirySecs } = ctx.config.storage;
  const redirected = ctx.metrics.counterFamily('nora_docker_blob_redirects_total', []);
  ctx.metrics.describe('nora_docker_blob_redirects_total', 'Blob GETs answered with a 307 to a presigned object-store URL (storage.s3_redirect)');

  async function get(req: Req, reply: Reply, name: string, d: Digest): Promise<void> {
    // Only a stored blob's GET goes to the store (the gate came first, the link check is
    // blobUrl's); a HEAD, an unknown blob, and one still being filled are answered here.
    const url = redirect && req.method === 'GET' ? await content.blobUrl(name, d, expirySecs) : null;
    if (url) {
      reply.status(307).header('Docker-Content-Digest', d.value).header('Location', url).send();
      redirected();
      return;
    }
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
