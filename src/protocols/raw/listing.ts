// GET /raw/<dir>/: a JSON page of what is directly below a directory, in byte
// order, `limit` (default 100, at most 1000) names after `after`; `next` is
// the `after` of the following page, null on the last.
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError } from '../../main/errors.js';
import { dirKey } from './keys.js';
import { SAFE_HEADERS } from './content-type.js';
import type { RawStore } from './store.js';

type Entry = { name: string; type: 'file'; size: number; sha256: string; modified: string } | { name: string; type: 'directory' };

export function createListing(ctx: Context, store: RawStore) {
  return async function list(req: Req, reply: Reply, dir: string): Promise<void> {
    const limit = Math.min(1000, Math.max(1, Number.parseInt(req.query.get('limit') ?? '100', 10) || 100));
    const after = req.query.get('after') ?? undefined;
    const page = await ctx.storage.list(dirKey(dir), { after, limit });
    if (dir !== '' && page.names.length === 0 && after === undefined) throw new HttpError('NOT_FOUND', `${dir} not found`);
    const entries: Entry[] = [];
    for (const name of page.names) {
      const got = await store.load(`${dir}${name}`);
      entries.push(got ? { name, type: 'file', size: got.file.size, sha256: got.file.sha256, modified: got.file.modified } : { name, type: 'directory' });
    }
    for (const [k, v] of SAFE_HEADERS) reply.header(k, v);
    reply.header('Cache-Control', 'no-cache').json(200, { path: dir, entries, next: page.more ? page.names[page.names.length - 1]! : null });
  };
}
