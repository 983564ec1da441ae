// The crates API under /cargo/api/v1/crates: downloads of a version's .crate
// (streamed from the blob store with ETag and Range), yank/unyank, the owners
// list and search, each answering what cargo expects.
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError } from '../../main/errors.js';
import { serveObject } from '../../main/http/serve-object.js';
import { parseDigest } from '../../main/digest.js';
import { canonical, highest, isValidCrate, versionKey } from './names.js';
import type { CargoStore, CrateState, CrateVersion } from './store.js';

const missingCrate = (name: string) => new HttpError('NOT_FOUND', `crate \`${name}\` does not exist`);

function findVersion(s: CrateState, vers: string): CrateVersion | undefined {
  return s.versions.find((v) => v.entry.vers === vers) ?? s.versions.find((v) => versionKey(v.entry.vers) === versionKey(vers));
}

export function createCratesApi(ctx: Context, store: CargoStore) {
  async function crate(name: string): Promise<CrateState> {
    const s = isValidCrate(name) ? await store.read(name) : null;
    if (!s) throw missingCrate(name);
    return s;
  }

  return {
    async download(req: Req, reply: Reply, name: string, vers: string): Promise<void> {
      const v = findVersion(await crate(name), vers);
      if (!v) throw new HttpError('NOT_FOUND', `crate \`${name}\` has no version ${vers}`);
      const reader = await ctx.blobs.open(parseDigest(`sha256:${v.entry.cksum}`)!);
      if (!reader) {
        ctx.log.error('cargo: .crate missing from blob store', { crate: name, vers });
        throw new HttpError('NOT_FOUND', `the .crate of ${name}@${vers} is missing`);
      }
      const scope = ctx.config.auth.enabled && !ctx.config.auth.anonymous_read ? 'private' : 'public';
      await serveObject(req, reply, reader, { contentType: 'application/gzip', etag: `"${v.entry.cksum}"`, cacheControl: `${scope}, max-age=31536000, immutable` });
    },

    /** Yanked versions stay downloadable (a lock file naming one still builds); resolution skips them. */
    async yank(reply: Reply, name: string, vers: string, yanked: boolean): Promise<void> {
      if (!isValidCrate(name)) throw missingCrate(name);
      await store.update(name, (cur) => {
        if (!cur) throw missingCrate(name);
        const state = structuredClone(cur);
        const v = findVersion(state, vers);
        if (!v) throw new HttpError('NOT_FOUND', `crate \`${name}\` has no version ${vers}`);
        if (v.entry.yanked === yanked) return { result: undefined };
        v.entry.yanked = yanked;
        state.modified = new Date().toISOString();
        return { state, result: undefined };
      });
      reply.json(200, { ok: true });
    },

    async owners(reply: Reply, name: string): Promise<void> {
      const s = await crate(name);
      reply.json(200, { users: s.owners.map((login, i) => ({ id: i + 1, login, name: null })) });
    },

    /** Crates whose name contains the query ('-' and '_' alike, any case), newest version each. */
    async search(req: Req, reply: Reply): Promise<void> {
      const q = canonical(req.query.get('q') ?? '');
      const perPage = Math.min(100, Math.max(1, Number.parseInt(req.query.get('per_page') ?? '10', 10) || 10));
      const hits: string[] = [];
      for await (const n of store.names()) if (n.includes(q)) hits.push(n);
      const crates = [];
      for (const n of hits.slice(0, perPage)) {
        const s = await store.read(n);
        if (!s) continue;
        const live = s.versions.filter((v) => !v.entry.yanked);
        const max = highest((live.length ? live : s.versions).map((v) => v.entry.vers));
        const latest = s.versions.find((v) => v.entry.vers === max) ?? s.versions[s.versions.length - 1];
        crates.push({ name: s.name, max_version: max ?? '', description: latest?.description ?? '' });
      }
      reply.json(200, { crates, meta: { total: hits.length } });
    },
  };
}
