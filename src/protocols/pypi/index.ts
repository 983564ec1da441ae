// PyPI, hosted: the simple index under /simple/ (pip), uploads by twine's
// legacy API at /simple/ (as NORA), /pypi/ and /legacy/, file downloads at
// /simple/<project>/<file>. This file routes and decides access.
import type { Context, Protocol } from '../../main/protocol.js';
import type { Requirement } from '../../main/auth/types.js';
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError, methodNotAllowed } from '../../main/errors.js';
import { renderPypiError } from './errors.js';
import { PypiStore } from './store.js';
import { hostedPypiContent } from './content.js';
import { proxiedPypiContent } from './proxy.js';
import { pypiUpstreams } from '../../main/config.js';
import { createUpload } from './upload.js';
import { createSimpleIndex } from './simple-index.js';
import { createFiles } from './files.js';
import { createYank } from './yank.js';
import { pypiBrowse } from './browse.js';

const PREFIXES = ['/simple', '/pypi', '/legacy'];
const UPLOAD_PATHS = new Set(PREFIXES.flatMap((p) => [p, `${p}/`]));

const isRead = (m: string) => m === 'GET' || m === 'HEAD';

function decodeSegments(path: string): string[] | null {
  try {
    return path.split('/').map(decodeURIComponent);
  } catch {
    return null;
  }
}

const READ: Requirement = { access: 'read' };
const WRITE: Requirement = { access: 'write' };

/** Reads need `read`, uploads and yanks `write`; paths naming a project name it (an upload names it in its body). */
function requirement(req: Req): Requirement {
  const read = isRead(req.method);
  const segs = decodeSegments(req.path);
  const project = segs !== null && (segs[1] === 'simple' || segs[1] === 'pypi') ? segs[2] : undefined;
  if (project === undefined || project === '') return read ? READ : WRITE;
  return { access: read ? 'read' : 'write', resource: { kind: 'package', name: project } };
}

export function pypiProtocol(ctx: Context): Protocol {
  const store = new PypiStore(ctx);
  // Reads go through the content seam; with upstream indexes configured, the pull-through cache wraps it.
  const hosted = hostedPypiContent(ctx, store);
  const proxy = pypiUpstreams(ctx.config).length > 0 ? proxiedPypiContent(ctx, hosted) : null;
  const content = proxy ?? hosted;
  const upload = createUpload(ctx, store);
  const index = createSimpleIndex(ctx, store, content);
  const files = createFiles(ctx, content);
  const yank = createYank(store);

  async function handle(req: Req, reply: Reply): Promise<void> {
    const path = req.path;
    if (UPLOAD_PATHS.has(path) && req.method === 'POST') return upload.handle(req, reply);
    const segs = decodeSegments(path);
    if (!segs) throw new HttpError('BAD_REQUEST', 'malformed percent-encoding in path');
    // segs[0] is '' (leading slash), segs[1] the prefix
    if (segs[1] === 'pypi' && segs.length === 5 && (segs[4] === 'yank' || segs[4] === 'unyank'))
      return yank.handle(req, reply, segs[2]!, segs[3]!, segs[4] === 'yank');
    if (segs[1] !== 'simple') throw new HttpError('NOT_FOUND');
    if (!isRead(req.method)) throw methodNotAllowed('GET, HEAD');
    if (path === '/simple') {
      reply.status(301).header('Location', `${ctx.linkBase(req)}/simple/`).send();
      return;
    }
    if (path === '/simple/') return index.list(req, reply);
    const rest = segs.slice(2);
    if (rest.length === 1) return index.project(req, reply, rest[0]!, false);
    if (rest.length === 2 && rest[1] === '') return index.project(req, reply, rest[0]!, true);
    if (rest.length === 2) return files.get(req, reply, rest[0]!, rest[1]!);
    throw new HttpError('NOT_FOUND');
  }

  return {
    name: 'pypi',
    matches: (p) => PREFIXES.some((x) => p === x || p.startsWith(`${x}/`)),
    access: requirement,
    cached(req) {
      // Project pages at their normalised URL /simple/<project>/ (percent-encoding never spells a normalised name).
      const p = req.path;
      if (!p.startsWith('/simple/') || !p.endsWith('/') || p.indexOf('/', 8) !== p.length - 1) return undefined;
      return index.cached(req, p.slice(8, -1));
    },
    handle,
    error: renderPypiError,
    browse: pypiBrowse(store, hosted), // stored projects only: browsing never asks an upstream
    close: async () => proxy?.close(),
  };
}
