// Reads a small upstream body whole (a manifest, a token answer, a package
// document), refusing more than `limit` bytes: what every format needs to
// parse a document, kept in one place.
import { UpstreamError, type UpstreamResponse } from './upstream.js';

/** Reads a small body whole, refusing more than `limit` bytes. */
export async function readSmall(res: UpstreamResponse, limit: number, what: string, upstream: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      res.body.destroy();
      throw new UpstreamError(upstream, `${what} larger than ${limit} bytes`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts, size);
}
