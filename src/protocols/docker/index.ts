// Docker Registry v2 / OCI Distribution 1.1, hosted. One module per resource;
// this file only routes and decides what access each request needs.
import type { Context, Protocol } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import type { Access, Requirement } from '../../main/auth/types.js';
import { methodNotAllowed } from '../../main/errors.js';
import { oci, renderOciError } from './errors.js';
import { parseRoute, type Route } from './routes.js';
import { checkName } from './names.js';
import { createBlobs } from './blobs.js';
import { createUploads } from './uploads.js';
import { createManifests } from './manifests.js';
import { createTags } from './tags.js';
import { createCatalog } from './catalog.js';
import { createReferrers } from './referrers.js';
import { ManifestStore } from './manifest-store.js';
import { hostedContent } from './content.js';
import { dockerBrowse } from './browse.js';
import { dockerProxy } from './proxy/index.js';

const API_VERSION = 'registry/2.0';
const API_HEADER = ['Docker-Distribution-API-Version', API_VERSION] as const;

const accessOf = (method: string): Access => (method === 'GET' || method === 'HEAD' ? 'read' : method === 'DELETE' ? 'delete' : 'write');

/** The requirement of a request, naming its repository (none for the ping, the catalog and unknown paths). */
function requirement(req: Req): Requirement {
  let r: Route | null;
  try {
    r = parseRoute(req.path);
  } catch {
    r = null; // malformed path: refused by handle(), after the gate
  }
  const access = accessOf(req.method);
  return r === null || r.kind === 'base' || r.kind === 'catalog' ? { access } : { access, resource: { kind: 'repository', name: r.name } };
}

export async function dockerProtocol(ctx: Context): Promise<Protocol> {
  // One store per registry, so every docker module shares its caches and their invalidation.
  const store = new ManifestStore(ctx);
  // Reads go through the content seam: a pull-through cache wraps it here.
  const hosted = hostedContent(ctx, store);
  const proxy = dockerProxy(ctx, store, hosted);
  const content = proxy?.content ?? hosted;
  const blobs = createBlobs(ctx, content);
  const uploads = await createUploads(ctx);
  const manifests = createManifests(store, content, API_HEADER);
  const tags = createTags(content);
  const catalog = createCatalog(ctx);
  const referrers = createReferrers(store);

  async function route(req: Req, reply: Reply, r: Route): Promise<void> {
    if (r.kind === 'base') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed('GET, HEAD');
      return reply.json(200, {});
    }
    if (r.kind === 'catalog') return catalog.handle(req, reply);
    checkName(r.name);
    switch (r.kind) {
      case 'tags':
        return tags.handle(req, reply, r.name);
      case 'manifest':
        return manifests.handle(req, reply, r.name, r.reference);
      case 'blob':
        return blobs.handle(req, reply, r.name, r.digest);
      case 'uploads':
        return uploads.handleStart(req, reply, r.name);
      case 'upload':
        return uploads.handleSession(req, reply, r.name, r.uuid);
      case 'referrers':
        return referrers.handle(req, reply, r.name, r.digest);
    }
  }

  return {
    name: 'docker',
    matches: (p) => p === '/v2' || p.startsWith('/v2/'),
    access: requirement,
    cached(req) {
      const r = parseRoute(req.path);
      return r?.kind === 'manifest' ? manifests.cached(req, r.name, r.reference) : undefined;
    },
    async handle(req, reply) {
      reply.header(API_HEADER[0], API_HEADER[1]);
      const r = parseRoute(req.path);
      if (!r) throw oci('NAME_UNKNOWN', 'unknown registry route');
      await route(req, reply, r);
    },
    error: renderOciError,
    async close() {
      proxy?.close();
      await uploads.close();
    },
    // pages show what is stored here; browsing never asks an upstream
    browse: dockerBrowse(ctx, store, hosted),
  };
}
