// Cargo, hosted: the sparse index (RFC 2789) under /cargo/index/ and the
// crates API under /cargo/api/v1/ (publish, yank/unyank, owners, search,
// download). cargo sends its token raw in Authorization (the gate also takes
// Bearer). This file routes and decides access.
import type { Context, Protocol } from '../../main/protocol.js';
import type { Requirement } from '../../main/auth/types.js';
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError, methodNotAllowed } from '../../main/errors.js';
import { renderCargoError } from './errors.js';
import { CargoStore } from './store.js';
import { createIndexFiles } from './index-file.js';
import { createPublish } from './publish.js';
import { createCratesApi } from './crates-api.js';
import { cargoBrowse } from './browse.js';

const INDEX = '/cargo/index/';
const CRATES = '/cargo/api/v1/crates';

const isRead = (m: string) => m === 'GET' || m === 'HEAD';

/** The segments below /cargo/api/v1/crates/, decoded; null when the path is not there or not decodable. */
function crateSegments(path: string): string[] | null {
  if (!path.startsWith(`${CRATES}/`)) return null;
  try {
    return path.slice(CRATES.length + 1).split('/').map(decodeURIComponent);
  } catch {
    return null;
  }
}

/** The crate a path names: an index file's last segment, or the first segment below the crates API (not `new`). */
function crateOf(path: string): string | undefined {
  if (path.startsWith(INDEX)) return path === `${INDEX}config.json` ? undefined : path.slice(path.lastIndexOf('/') + 1);
  const first = crateSegments(path)?.[0];
  return first === 'new' ? undefined : first;
}

/** Reads need `read`; publish, yank and unyank `write`. */
function requirement(req: Req): Requirement {
  const access = isRead(req.method) ? 'read' : 'write';
  const name = crateOf(req.path);
  return name ? { access, resource: { kind: 'package', name } } : { access };
}

export function cargoProtocol(ctx: Context): Protocol {
  const store = new CargoStore(ctx);
  const index = createIndexFiles(ctx, store);
  const publish = createPublish(ctx, store);
  const api = createCratesApi(ctx, store);
  const enabled = ctx.config.cargo.enabled;

  async function handle(req: Req, reply: Reply): Promise<void> {
    const path = req.path;
    if (path.startsWith(INDEX)) {
      if (!isRead(req.method)) throw methodNotAllowed('GET, HEAD');
      if (path === `${INDEX}config.json`) return index.config(req, reply);
      return index.file(req, reply, path.slice(INDEX.length));
    }
    if (path === CRATES) {
      if (!isRead(req.method)) throw methodNotAllowed('GET, HEAD');
      return api.search(req, reply);
    }
    const segs = crateSegments(path);
    if (!segs) throw new HttpError('NOT_FOUND', `no such cargo API path ${path}`);
    const [name, second, action] = segs as [string, string | undefined, string | undefined];
    if (segs.length === 1 && name === 'new') {
      if (req.method !== 'PUT') throw methodNotAllowed('PUT');
      return publish(req, reply);
    }
    if (segs.length === 2 && second === 'owners') {
      if (!isRead(req.method)) throw methodNotAllowed('GET, HEAD', 'owners can only be listed here');
      return api.owners(reply, name);
    }
    if (segs.length === 3 && action === 'download') {
      if (!isRead(req.method)) throw methodNotAllowed('GET, HEAD');
      return api.download(req, reply, name, second!);
    }
    if (segs.length === 3 && action === 'yank') {
      if (req.method !== 'DELETE') throw methodNotAllowed('DELETE');
      return api.yank(reply, name, second!, true);
    }
    if (segs.length === 3 && action === 'unyank') {
      if (req.method !== 'PUT') throw methodNotAllowed('PUT');
      return api.yank(reply, name, second!, false);
    }
    throw new HttpError('NOT_FOUND', `no such cargo API path ${path}`);
  }

  return {
    name: 'cargo',
    matches: (p) => enabled && (p === '/cargo' || p.startsWith('/cargo/')),
    access: requirement,
    handle,
    error: renderCargoError,
    ...(enabled ? { browse: cargoBrowse(store) } : {}),
  };
}
