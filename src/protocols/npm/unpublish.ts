// Removal: DELETE /npm/<name>/-rev/<rev> removes a whole package (admin);
// DELETE /npm/<name>/-/<file>/-rev/<rev> is npm's second step of unpublishing
// one version, after the PUT that dropped the version from the document.
// Tarball bytes stay in the content-addressed store (they may be shared);
// nothing links to them any more, so they are no longer served.
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError } from '../../main/errors.js';
import { notFound } from './errors.js';
import { tarballFile, type PackageName } from './names.js';
import { revString, type NpmStore } from './store.js';

export function createUnpublish(store: NpmStore) {
  return {
    async removePackage(_req: Req, reply: Reply, name: string, rev: string): Promise<void> {
      await store.update(name, async (cur) => {
        if (!cur) throw notFound(`package ${name}`);
        if (rev !== revString(cur)) throw new HttpError('CONFLICT', `revision conflict: ${name} changed since revision ${rev}; fetch it again`);
        return { state: null, result: undefined };
      });
      reply.json(200, { ok: true, id: name });
    },

    async removeTarball(_req: Req, reply: Reply, name: PackageName, file: string, rev: string): Promise<void> {
      await store.update(name.full, async (cur) => {
        if (!cur) throw notFound(`package ${name.full}`);
        if (rev !== revString(cur)) throw new HttpError('CONFLICT', `revision conflict: ${name.full} changed since revision ${rev}; fetch it again`);
        const f = Object.hasOwn(cur.files, file) ? cur.files[file] : undefined;
        if (f) throw new HttpError('CONFLICT', `${file} belongs to published version ${f.version}; unpublish the version first`);
        if (!Object.keys(cur.unpublished).some((v) => tarballFile(name, v) === file)) throw notFound(`tarball ${file}`);
        return { result: undefined };
      });
      reply.json(200, { ok: true });
    },
  };
}
