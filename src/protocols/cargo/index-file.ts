// The sparse index (RFC 2789) under /cargo/index/: config.json, which tells
// cargo where downloads and the API are, and one file per crate at its
// canonical path, rendered from the crate document, with an ETag (sha256 of the
// body) and Last-Modified so cargo's revalidations cost a 304.
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError } from '../../main/errors.js';
import { etagMatches } from '../../main/http/serve-object.js';
import { indexPath, isValidCrate } from './names.js';
import { renderIndex, type CargoStore } from './store.js';

async function sha256Hex(body: string): Promise<string> {
  // WebCrypto hashes off the event loop thread.
  const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body));
  return Buffer.from(d).toString('hex');
}

function notModified(req: Req, etag: string, modified: Date): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) return etagMatches(inm, etag);
  const since = Date.parse(req.headers['if-modified-since'] ?? '');
  return !Number.isNaN(since) && Math.floor(modified.getTime() / 1000) <= Math.floor(since / 1000);
}

export function createIndexFiles(ctx: Context, store: CargoStore) {
  const authRequired = ctx.config.auth.enabled && !ctx.config.auth.anonymous_read;
  const scope = authRequired ? 'private' : 'public';
  return {
    config(req: Req, reply: Reply): void {
      const base = ctx.linkBase(req);
      reply
        .header('Cache-Control', `${scope}, max-age=300`)
        .json(200, { dl: `${base}/cargo/api/v1/crates`, api: `${base}/cargo`, 'auth-required': authRequired });
    },

    /** `rest` is the path below /cargo/index/, e.g. "se/rd/serde". */
    async file(req: Req, reply: Reply, rest: string): Promise<void> {
      const name = rest.slice(rest.lastIndexOf('/') + 1);
      if (!isValidCrate(name) || rest !== indexPath(name)) throw new HttpError('NOT_FOUND', `no index file at ${rest}`);
      const s = await store.read(name);
      // Another spelling of the crate is not it: cargo then tries the other '-'/'_' spellings itself.
      if (!s || s.name.toLowerCase() !== name || s.versions.length === 0) throw new HttpError('NOT_FOUND', `crate \`${name}\` does not exist`);
      const body = renderIndex(s);
      const etag = `"${await sha256Hex(body)}"`;
      const modified = new Date(s.modified);
      reply.header('ETag', etag).header('Last-Modified', modified.toUTCString()).header('Cache-Control', `${scope}, no-cache`);
      if (notModified(req, etag, modified)) {
        reply.status(304).send();
        return;
      }
      reply.status(200).header('Content-Type', 'application/json').send(body);
    },
  };
}
