// GET /raw/<dir>/: a JSON page of what is directly below a directory, in byte
// order, `limit` (default 100, at most 1000) names after `after`; `next` is
// the `after` of the following page, null on the last.
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError } from '../../main/errors.js';
import { dirKey } from './keys.js';
import { SAFE_HEADERS } from './content-type.js';
import type { RawStore } from './store.js';

export type Entry = { name: string; type: 'file'; size: number; sha256: string; modified: string } | { name: string; type: 'directory' };

/** One page of a directory ('' or 'a/b/'); null when a directory other than the root has nothing below it. */
export async function listDirectory(ctx: Context, store: RawStore, dir: string, after: string | undefined, limit: number): Promise<{ entries: Entry[]; next: string | null } | null> {
  const page = await ctx.storage.list(dirKey(dir), { after, limit });
  if (dir !== '' && page.names.length === 0 && after === undefined) return null;
  const entries: Entry[] = [];
  for (const name of page.names) {
    const got = await store.load(`${dir}${name}`);
    entries.push(got ? { name, type: 'file', size: got.file.size, sha256: got.file.sha256, modified: got.file.modified } : { name, type: 'directory' });
  }
  return { entries, next: page.more ? page.names[page.names.length - 1]! : null };
}

export function createListing(ctx: Context, store: RawStore) {
  return async function list(req: Req, reply: Reply, dir: string): Promise<void> {
    const limit = Math.min(1000, Math.max(1, Number.parseInt(req.query.get('limit') ?? '100', 10) || 100));
    const after = req.query.get('after') ?? undefined;
    const page = await listDirectory(ctx, store, dir, after, limit);
    if (page === null) throw new HttpError('NOT_FOUND', `${dir} not found`);
    for (const [k, v] of SAFE_HEADERS) reply.header(k, v);
    reply.header('Cache-Control', 'no-cache').json(200, { path: dir, ...page });
  };
}
