// Serves one stored object over HTTP with the validators and partial-content
// support package clients rely on: ETag / If-None-Match (304), Range (206/416)
// guarded by If-Range, HEAD. The body streams from positional reads.
import type { ObjectReader } from '../storage/driver.js';
import type { Reply, Req } from './types.js';
import { parseRange } from './range.js';

export interface ServeOptions {
  contentType: string;
  /** strong validator, with its quotes */
  etag: string;
  cacheControl?: string;
}

/** True when an If-None-Match list names `etag` (weak comparison, as RFC 9110 asks for GET). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v.replace(/^W\//, '') === bare;
  });
}

/** Streams `reader` (closing it afterwards) as the response to a GET or HEAD. */
export async function serveObject(req: Req, reply: Reply, reader: ObjectReader, opts: ServeOptions): Promise<void> {
  try {
    reply.header('ETag', opts.etag).header('Accept-Ranges', 'bytes');
    if (opts.cacheControl) reply.header('Cache-Control', opts.cacheControl);
    if (etagMatches(req.headers['if-none-match'], opts.etag)) {
      reply.status(304).send();
      return;
    }
    reply.header('Content-Type', opts.contentType);
    const size = reader.size;
    const ifRange = req.headers['if-range'];
    const range = ifRange !== undefined && ifRange !== opts.etag ? { kind: 'none' as const } : parseRange(req.headers.range, size);
    if (range.kind === 'unsatisfiable') {
      reply.status(416).header('Content-Range', `bytes */${size}`).send();
      return;
    }
    let start = 0;
    let length = size;
    if (range.kind === 'ok') {
      start = range.start;
      length = range.end - range.start + 1;
      reply.status(206).header('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    } else {
      reply.status(200);
    }
    // A verifying reader may check the content here, before any header is sent.
    await reader.prepare?.(start, length);
    await reply.sendFile({ handle: reader, start, length });
  } finally {
    await reader.close();
  }
}
