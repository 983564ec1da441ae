// GET/HEAD/DELETE /v2/<name>/blobs/<digest>. Bytes stream from the shared
// content-addressed store; a repository only sees blobs it links.
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { parseRange, type RangeResult } from '../../main/http/range.js';
import type { Digest } from '../../main/digest.js';
import { oci } from './errors.js';
import { checkDigest } from './names.js';
import { isLinked, unlinkBlob } from './layer-links.js';

/**
 * parseRange plus one stricter rule: "bytes=500-0" (last < first) is refused
 * with 416 instead of ignored. RFC 9110 allows either; the OCI conformance
 * suite expects 416.
 */
export function blobRange(header: string | undefined, size: number): RangeResult {
  const m = header ? /^bytes=(\d+)-(\d+)$/.exec(header.trim()) : null;
  if (m && Number(m[2]) < Number(m[1])) return { kind: 'unsatisfiable' };
  return parseRange(header, size);
}

export function createBlobs(ctx: Context) {
  async function get(req: Req, reply: Reply, name: string, d: Digest): Promise<void> {
    if (!(await isLinked(ctx, name, d))) throw unknown(d);
    const reader = await ctx.blobs.open(d);
    if (!reader) throw unknown(d);
    try {
      const size = reader.size;
      const etag = `"${d.value}"`;
      reply
        .header('Content-Type', 'application/octet-stream')
        .header('Docker-Content-Digest', d.value)
        .header('Accept-Ranges', 'bytes')
        .header('ETag', etag)
        .header('Cache-Control', 'max-age=31536000, immutable');
      if (ifNoneMatch(req.headers['if-none-match'], etag)) {
        reply.status(304).send();
        return;
      }
      const range = blobRange(req.headers['range'], size);
      if (range.kind === 'unsatisfiable') {
        reply.status(416).header('Content-Range', `bytes */${size}`).send();
        return;
      }
      if (range.kind === 'ok') {
        const length = range.end - range.start + 1;
        reply.status(206).header('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
        await reply.sendFile({ handle: reader, start: range.start, length });
        return;
      }
      reply.status(200);
      await reply.sendFile({ handle: reader, start: 0, length: size });
    } finally {
      await reader.close();
    }
  }

  async function remove(reply: Reply, name: string, d: Digest): Promise<void> {
    if (!(await unlinkBlob(ctx, name, d))) throw unknown(d);
    reply.status(202).header('Docker-Content-Digest', d.value).send();
  }

  return {
    async handle(req: Req, reply: Reply, name: string, digest: string): Promise<void> {
      const method = req.method;
      if (method !== 'GET' && method !== 'HEAD' && method !== 'DELETE') {
        reply.header('Allow', 'GET, HEAD, DELETE');
        throw oci('UNSUPPORTED', 'method not allowed', undefined, 405);
      }
      const d = checkDigest(digest);
      if (method === 'DELETE') return remove(reply, name, d);
      return get(req, reply, name, d);
    },
  };
}

function unknown(d: Digest) {
  return oci('BLOB_UNKNOWN', 'blob unknown to registry', { digest: d.value });
}

/** True when an If-None-Match header lists `etag` or is "*". */
function ifNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v === etag || v === `W/${etag}`;
  });
}
