// Maven, hosted, under /maven2/ (NORA's prefix): deploys by PUT, reads by
// GET/HEAD in the Maven 2 layout. This file routes and decides access; the
// path parser keeps everything outside the layout away from storage.
import type { Context, Protocol } from '../../main/protocol.js';
import type { Requirement } from '../../main/auth/types.js';
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError, methodNotAllowed } from '../../main/errors.js';
import { PREFIX, coordinates, parseMavenPath, type MavenPath } from './paths.js';
import { renderMavenError } from './errors.js';
import { MavenStore } from './store.js';
import { mavenBrowse } from './browse.js';
import { hostedMavenContent } from './content.js';
import { createReads } from './reads.js';
import { createDeploy } from './deploy.js';

const isRead = (m: string) => m === 'GET' || m === 'HEAD';

/** Parsed once per request: access() and handle() both need it. */
const parsed = new WeakMap<Req, MavenPath>();
function pathOf(req: Req): MavenPath {
  let p = parsed.get(req);
  if (!p) parsed.set(req, (p = parseMavenPath(req.path)));
  return p;
}

/** Reads need `read`, deploys `write`; a path in the layout names its groupId:artifactId. */
function requirement(req: Req): Requirement {
  const access = isRead(req.method) ? 'read' : 'write';
  try {
    return { access, resource: { kind: 'package', name: coordinates(pathOf(req)) } };
  } catch {
    return { access }; // refused by handle() once the caller is admitted
  }
}

export function mavenProtocol(ctx: Context): Protocol {
  const store = new MavenStore(ctx);
  // Reads go through the content seam: a pull-through cache wraps it here.
  const content = hostedMavenContent(ctx, store);
  const reads = createReads(ctx, content);
  const deploy = createDeploy(ctx, store);

  async function handle(req: Req, reply: Reply): Promise<void> {
    if (req.path === PREFIX || req.path === `${PREFIX}/`) throw new HttpError('NOT_FOUND', 'no directory listing: name a file in the Maven 2 layout');
    const p = pathOf(req);
    if (isRead(req.method)) return reads.get(req, reply, p);
    if (req.method === 'PUT') return deploy.put(req, reply, p);
    throw methodNotAllowed('GET, HEAD, PUT');
  }

  return {
    name: 'maven',
    matches: (p) => ctx.config.maven.enabled && (p === PREFIX || p.startsWith(`${PREFIX}/`)),
    access: requirement,
    handle,
    error: renderMavenError,
    ...(ctx.config.maven.enabled ? { browse: mavenBrowse(ctx, store, content) } : {}),
  };
}
