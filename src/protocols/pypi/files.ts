// Distribution downloads, GET/HEAD /simple/<project>/<filename>, and their
// PEP 658 metadata at <filename>.metadata, streamed from the project's content
// (content.ts) with ETag and Range.
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { serveObject } from '../../main/http/serve-object.js';
import { HttpError } from '../../main/errors.js';
import { isValidProject, normalize } from './normalize.js';
import type { PypiContent } from './content.js';

function contentType(filename: string): string {
  const f = filename.toLowerCase();
  if (f.endsWith('.whl') || f.endsWith('.zip') || f.endsWith('.egg')) return 'application/zip';
  if (f.endsWith('.tar.gz') || f.endsWith('.tgz')) return 'application/gzip';
  return 'application/octet-stream';
}

export function createFiles(ctx: Context, content: PypiContent) {
  return {
    async get(req: Req, reply: Reply, project: string, filename: string): Promise<void> {
      if (!isValidProject(project)) throw new HttpError('NOT_FOUND', `${filename} not found`);
      const f = await content.file(normalize(project), filename);
      if (!f) throw new HttpError('NOT_FOUND', `${filename} not found`);
      const scope = ctx.config.auth.enabled && !ctx.config.auth.anonymous_read ? 'private' : 'public';
      await serveObject(req, reply, f.reader, {
        contentType: f.isMeta ? 'text/plain; charset=utf-8' : contentType(f.dist),
        etag: `"${f.sha256}"`,
        cacheControl: `${scope}, max-age=31536000, immutable`,
      });
    },
  };
}
