// Distribution downloads, GET/HEAD /simple/<project>/<filename>, and their
// PEP 658 metadata at <filename>.metadata, streamed from the blob store with
// ETag and Range.
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { serveObject } from '../../main/http/serve-object.js';
import { parseDigest } from '../../main/digest.js';
import { HttpError } from '../../main/errors.js';
import { isValidProject, normalize } from './normalize.js';
import type { PypiStore } from './store.js';

function contentType(filename: string): string {
  const f = filename.toLowerCase();
  if (f.endsWith('.whl') || f.endsWith('.zip') || f.endsWith('.egg')) return 'application/zip';
  if (f.endsWith('.tar.gz') || f.endsWith('.tgz')) return 'application/gzip';
  return 'application/octet-stream';
}

export function createFiles(ctx: Context, store: PypiStore) {
  return {
    async get(req: Req, reply: Reply, project: string, filename: string): Promise<void> {
      if (!isValidProject(project)) throw new HttpError('NOT_FOUND', `${filename} not found`);
      const s = await store.read(normalize(project));
      // Own keys only: "__proto__" or "constructor" must not find Object.prototype's members.
      const has = (name: string) => !!s && Object.hasOwn(s.files, name);
      const isMeta = filename.endsWith('.metadata') && !has(filename);
      const dist = isMeta ? filename.slice(0, -'.metadata'.length) : filename;
      const f = has(dist) ? s!.files[dist] : undefined;
      const target = isMeta ? f?.metadata : f;
      if (!f || !target) throw new HttpError('NOT_FOUND', `${filename} not found`);
      const reader = await ctx.blobs.open(parseDigest(`sha256:${target.sha256}`)!);
      if (!reader) {
        ctx.log.error('pypi: file content missing from blob store', { project, filename });
        throw new HttpError('NOT_FOUND', `content of ${filename} not found`);
      }
      const scope = ctx.config.auth.enabled && !ctx.config.auth.anonymous_read ? 'private' : 'public';
      await serveObject(req, reply, reader, {
        contentType: isMeta ? 'text/plain; charset=utf-8' : contentType(dist),
        etag: `"${target.sha256}"`,
        cacheControl: `${scope}, max-age=31536000, immutable`,
      });
    },
  };
}
