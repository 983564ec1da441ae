// Docker Registry v2 / OCI Distribution 1.1, hosted. One module per resource;
// this file only routes and decides what access each request needs.
import type { Context, Protocol, Access } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
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

const API_VERSION = 'registry/2.0';
const API_HEADER = ['Docker-Distribution-API-Version', API_VERSION] as const;

export function notAllowed(reply: Reply, allow: string): never {
  reply.header('Allow', allow);
  throw oci('UNSUPPORTED', 'method not allowed', undefined, 405);
}

export async function dockerProtocol(ctx: Context): Promise<Protocol> {
  const blobs = createBlobs(ctx);
  const uploads = await createUploads(ctx);
  // One store per registry, so every docker module shares its caches and their invalidation.
  const store = new ManifestStore(ctx);
  const manifests = createManifests(store);
  const tags = createTags(store);
  const catalog = createCatalog(ctx);
  const referrers = createReferrers(store);

  async function route(req: Req, reply: Reply, r: Route): Promise<void> {
    if (r.kind === 'base') {
      if (req.method !== 'GET' && req.method !== 'HEAD') notAllowed(reply, 'GET, HEAD');
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
    access(req: Req): Access {
      if (req.method === 'GET' || req.method === 'HEAD') return 'read';
      if (req.method === 'DELETE') return 'delete';
      return 'write';
    },
    fromMemory(req) {
      const r = parseRoute(req.path);
      return r?.kind === 'manifest' ? manifests.fromMemory(req, r.name, r.reference, API_HEADER) : undefined;
    },
    async handle(req, reply) {
      reply.header(API_HEADER[0], API_HEADER[1]);
      const r = parseRoute(req.path);
      if (!r) throw oci('NAME_UNKNOWN', 'unknown registry route', undefined, 404);
      await route(req, reply, r);
    },
    error: renderOciError,
    close: () => uploads.close(),
  };
}
