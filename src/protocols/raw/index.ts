// Raw files, hosted (NORA's /raw/): any file at any path, PUT (streamed,
// conditional), GET/HEAD (ETag, Range), DELETE, and a JSON listing of a
// directory at its path with a trailing slash. This file routes and decides access.
import type { Context, Protocol } from '../../main/protocol.js';
import type { Requirement } from '../../main/auth/types.js';
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError, methodNotAllowed } from '../../main/errors.js';
import { renderRawError } from './errors.js';
import { rawPath } from './keys.js';
import { RawStore } from './store.js';
import { createUpload } from './upload.js';
import { createFiles } from './files.js';
import { createListing } from './listing.js';
import { rawBrowse } from './browse.js';

const ACCESS: Record<string, Requirement['access']> = { GET: 'read', HEAD: 'read', PUT: 'write', DELETE: 'delete' };

export function rawProtocol(ctx: Context): Protocol {
  const store = new RawStore(ctx);
  const upload = createUpload(ctx, store);
  const files = createFiles(ctx, store);
  const list = createListing(ctx, store);
  const enabled = ctx.config.raw.enabled;

  async function handle(req: Req, reply: Reply): Promise<void> {
    const path = rawPath(req.path);
    const isDir = path === '' || path.endsWith('/');
    switch (req.method) {
      case 'GET':
      case 'HEAD':
        return isDir ? list(req, reply, path) : files.get(req, reply, path);
      case 'PUT':
        if (isDir) throw new HttpError('BAD_REQUEST', 'PUT needs a file path, not a directory');
        return upload(req, reply, path);
      case 'DELETE':
        if (isDir) throw new HttpError('BAD_REQUEST', 'DELETE needs a file path, not a directory');
        return files.remove(req, reply, path);
      default:
        throw methodNotAllowed(isDir ? 'GET, HEAD' : 'GET, HEAD, PUT, DELETE');
    }
  }

  return {
    name: 'raw',
    matches: (p) => enabled && (p === '/raw' || p.startsWith('/raw/')),
    access: (req) => ({ access: ACCESS[req.method] ?? 'write', resource: { kind: 'package', name: req.path.slice(5) || '/' } }),
    handle,
    error: renderRawError,
    ...(enabled ? { browse: rawBrowse(ctx, store) } : {}),
  };
}
