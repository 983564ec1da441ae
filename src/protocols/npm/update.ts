// PUT of a package document without attachments: how `npm deprecate` (PUT
// /npm/<name>) and `npm unpublish <pkg>@<version>` (PUT /npm/<name>/-rev/<rev>
// with the version left out) change a package. Only what those commands may
// change is taken from the body: each version's `deprecated` message, the
// dist-tags, and — on a -rev update — which versions remain. Everything else
// of a published version is immutable and ignored.
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError } from '../../main/errors.js';
import { notFound } from './errors.js';
import { checkTag, ensureLatest } from './dist-tags.js';
import { revString, type NpmStore } from './store.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

export function createUpdate(store: NpmStore) {
  return {
    async update(_req: Req, reply: Reply, name: string, doc: Record<string, unknown>, urlRev: string | null): Promise<void> {
      const versions = doc.versions;
      if (!isObject(versions)) throw new HttpError('BAD_REQUEST', 'package document has no versions object');
      const rev = await store.update(name, async (cur) => {
        if (!cur || !Object.keys(cur.versions).length) throw notFound(`package ${name}`);
        const given = urlRev ?? (typeof doc._rev === 'string' ? doc._rev : null);
        if (given !== null && given !== revString(cur))
          throw new HttpError('CONFLICT', `revision conflict: ${name} changed since revision ${given}; fetch it again`);
        const s = structuredClone(cur);
        for (const [v, m] of Object.entries(versions)) {
          // Own keys only: a version named "__proto__" must never reach Object.prototype.
          if (!Object.hasOwn(s.versions, v)) throw new HttpError('BAD_REQUEST', `version ${v} of ${name} is not published; publish it with its tarball`);
          const dep = isObject(m) ? m.deprecated : undefined;
          if (typeof dep === 'string' && dep !== '') s.versions[v]!.deprecated = dep;
          else delete s.versions[v]!.deprecated;
        }
        if (urlRev !== null) {
          const now = new Date().toISOString();
          for (const v of Object.keys(cur.versions)) {
            if (v in versions) continue;
            delete s.versions[v];
            delete s.times[v];
            s.unpublished[v] = now;
            for (const [file, f] of Object.entries(s.files)) if (f.version === v) delete s.files[file];
          }
          if (!Object.keys(s.versions).length)
            throw new HttpError('BAD_REQUEST', `removing every version removes the package: DELETE /npm/${name}/-rev/<rev> instead`);
        }
        const tags = doc['dist-tags'];
        if (tags !== undefined) {
          if (!isObject(tags)) throw new HttpError('BAD_REQUEST', 'dist-tags must be an object');
          const next: Record<string, string> = {};
          for (const [tag, v] of Object.entries(tags)) {
            checkTag(tag);
            if (typeof v !== 'string' || !Object.hasOwn(s.versions, v)) throw new HttpError('BAD_REQUEST', `dist-tag ${tag} points to ${String(v)}, which is not published`);
            next[tag] = v;
          }
          s.distTags = next;
        } else {
          for (const [tag, v] of Object.entries(s.distTags)) if (!Object.hasOwn(s.versions, v)) delete s.distTags[tag];
        }
        ensureLatest(s);
        return { state: s, result: s };
      });
      reply.json(200, { ok: true, id: name, rev: revString(rev) });
    },
  };
}
