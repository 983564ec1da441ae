// /v2/_catalog: every repository (a directory under docker/ holding _manifests),
// n/last paginated. The walk is depth-first over sorted directory listings and
// stops as soon as a page is full, so work and memory follow n, not the number
// of repositories.
//
// Order is component-wise, as CNCF distribution orders it: "a/b" comes before
// "a-b" because the component "a" sorts before "a-b". `last` uses the same order.
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { methodNotAllowed } from '../../main/errors.js';
import type { StorageDriver } from '../../main/storage/driver.js';
import { isValidName } from './names.js';
import { parsePage, setNextLink } from './pagination.js';

/** Component-wise comparison of repository names ('/' sorts before every other character). */
export function compareNames(a: string, b: string): number {
  const x = a.replaceAll('/', '\0');
  const y = b.replaceAll('/', '\0');
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Up to `want` repository names after `last`, in component order; with
 * `filter`, only names containing it (the walk then goes on until a page of
 * matches is full or every repository was seen).
 */
export async function listRepositories(storage: StorageDriver, want: number, last?: string, filter?: (name: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dirKey: string, name: string): Promise<void> => {
    const children = (await storage.list(dirKey, { prefixesOnly: true })).names;
    if (name !== '' && children.includes('_manifests') && (last === undefined || compareNames(name, last) > 0) && (filter === undefined || filter(name))) {
      out.push(name);
    }
    for (const c of children) {
      if (out.length >= want) return;
      // '_' entries are a repository's own data; anything else invalid is not a repository.
      if (c.startsWith('_') || !isValidName(c)) continue;
      const child = name === '' ? c : `${name}/${c}`;
      // Skip subtrees that hold only names up to `last`.
      if (last !== undefined && compareNames(child, last) < 0 && !last.startsWith(child + '/')) continue;
      await visit(`${dirKey}/${c}`, child);
    }
  };
  if (want > 0) await visit('docker', '');
  return out.slice(0, want);
}

export function createCatalog(ctx: Context) {
  const collect = (want: number, last: string | undefined) => listRepositories(ctx.storage, want, last);

  return {
    async handle(req: Req, reply: Reply): Promise<void> {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed('GET, HEAD');
      const { n, last } = parsePage(req);
      // One extra name tells whether another page follows.
      const names = await collect(n === 0 ? 0 : n + 1, last);
      const more = names.length > n;
      const repositories = more ? names.slice(0, n) : names;
      if (more) setNextLink(reply, '/v2/_catalog', n, repositories[repositories.length - 1]!);
      reply.json(200, { repositories });
    },
  };
}
