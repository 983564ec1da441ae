// npm registry, hosted, under /npm/ and, for requests from npm clients, at the
// root (npm appends its paths to the registry URL, and the product document's
// .npmrc names the root). This file routes and decides what access each
// request needs; one module per resource does the work.
import type { Context, Protocol } from '../../main/protocol.js';
import type { Access, Requirement } from '../../main/auth/types.js';
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError, methodNotAllowed } from '../../main/errors.js';
import { notFound, renderNpmError } from './errors.js';
import { parseName } from './names.js';
import { fromNpmClient, parseRoute, underPrefix, type Route } from './routes.js';
import { NpmStore } from './store.js';
import { hostedNpmContent } from './content.js';
import { proxiedNpmContent } from './proxy.js';
import { createPackuments } from './packument.js';
import { createPublish } from './publish.js';
import { createUpdate } from './update.js';
import { createUnpublish } from './unpublish.js';
import { createTarballs } from './tarball.js';
import { createDistTags } from './dist-tags.js';
import { createSearch } from './search.js';
import { npmBrowse } from './browse.js';

const routeCache = new WeakMap<Req, Route>();
function routeOf(req: Req): Route {
  let r = routeCache.get(req);
  if (!r) {
    r = parseRoute(req.path);
    routeCache.set(req, r);
  }
  return r;
}

const isRead = (m: string) => m === 'GET' || m === 'HEAD';

const PUBLIC: Requirement = { access: 'public' };
const READ: Requirement = { access: 'read' };

/** Access per route: reads need `read`; changes `write`; removing a whole package `admin`. */
export function npmAccess(req: Req): Requirement {
  const r = routeOf(req);
  switch (r.kind) {
    case 'ping':
    case 'login': // answered with an explanation, whoever asks
      return PUBLIC;
    case 'whoami':
    case 'search':
    case 'audit': // answered locally with "no advisories"; nothing is forwarded anywhere
      return READ;
    case 'unknown':
      return isRead(req.method) ? READ : { access: 'write' };
    default: {
      const access: Access = r.kind === 'package' && req.method === 'DELETE' ? 'admin' : isRead(req.method) ? 'read' : 'write';
      return { access, resource: { kind: 'package', name: r.name } };
    }
  }
}

export function npmProtocol(ctx: Context): Protocol {
  const store = new NpmStore(ctx);
  // Reads go through the content seam; with npm.proxy set, the pull-through cache wraps it.
  const hosted = hostedNpmContent(ctx, store);
  const proxy = ctx.config.npm.proxy ? proxiedNpmContent(ctx, hosted) : null;
  const content = proxy ?? hosted;
  const packuments = createPackuments(ctx, content, store);
  const publish = createPublish(ctx, store);
  const update = createUpdate(store);
  const unpublish = createUnpublish(store);
  const tarballs = createTarballs(ctx, content);
  const distTags = createDistTags(content, store);
  const search = createSearch(ctx, store);
  const bodyLimit = ctx.config.server.body_limit_mb * 1024 * 1024;

  async function put(req: Req, reply: Reply, name: string, rev: string | null): Promise<void> {
    const parsed = parseName(name);
    if (!parsed) throw new HttpError('BAD_REQUEST', `invalid package name ${JSON.stringify(name)}`);
    let doc: unknown;
    try {
      doc = JSON.parse((await req.readBody(bodyLimit)).toString('utf8'));
    } catch (e) {
      if (e instanceof SyntaxError) throw new HttpError('BAD_REQUEST', 'request body is not valid JSON');
      throw e;
    }
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new HttpError('BAD_REQUEST', 'request body must be a package document');
    const d = doc as Record<string, unknown>;
    if ((d.name !== undefined && d.name !== name) || (d._id !== undefined && d._id !== name))
      throw new HttpError('BAD_REQUEST', `package name in the document does not match the URL (${name})`);
    const att = d._attachments;
    if (att && typeof att === 'object' && Object.keys(att).length > 0) return publish.publish(req, reply, parsed, d);
    return update.update(req, reply, name, d, rev);
  }

  async function route(req: Req, reply: Reply, r: Route): Promise<void> {
    const m = req.method;
    switch (r.kind) {
      case 'ping':
        if (!isRead(m)) throw methodNotAllowed('GET, HEAD');
        return reply.json(200, {});
      case 'whoami':
        if (!isRead(m)) throw methodNotAllowed('GET, HEAD');
        // As NORA: with auth on, whoami names a verified user even when reads are anonymous.
        if (ctx.config.auth.enabled && req.identity?.via === 'anonymous')
          throw new HttpError('UNAUTHORIZED', 'authentication required', { headers: { 'WWW-Authenticate': `Basic realm="${(ctx.config.server.public_url || 'nora').replace(/["\\]/g, '')}"` } });
        return reply.json(200, { username: req.identity?.user ?? 'anonymous' });
      case 'search':
        return search.handle(req, reply);
      case 'audit':
        if (m !== 'POST') throw methodNotAllowed('POST');
        await req.readBody(8 * 1024 * 1024);
        return reply.json(200, {});
      case 'login':
        throw new HttpError('NOT_FOUND', 'user login is not supported here: create a token (POST /api/tokens) and set //<host>/:_authToken=<token> in .npmrc');
      case 'dist-tags':
        return distTags.handle(req, reply, r.name, r.tag);
      case 'package':
        if (isRead(m) && r.rev === null) return packuments.getPackage(req, reply, r.name);
        if (m === 'PUT') return put(req, reply, r.name, r.rev);
        if (m === 'DELETE' && r.rev !== null) {
          if (!parseName(r.name)) throw notFound(`package ${r.name}`);
          return unpublish.removePackage(req, reply, r.name, r.rev);
        }
        throw methodNotAllowed(r.rev === null ? 'GET, HEAD, PUT' : 'PUT, DELETE');
      case 'version':
        if (!isRead(m)) throw methodNotAllowed('GET, HEAD');
        return packuments.getVersion(req, reply, r.name, r.spec);
      case 'tarball': {
        if (isRead(m) && r.rev === null) return tarballs.get(req, reply, r.name, r.file);
        const name = parseName(r.name);
        if (m === 'DELETE' && r.rev !== null && name) return unpublish.removeTarball(req, reply, name, r.file, r.rev);
        if (m === 'DELETE' && r.rev !== null) throw notFound(`package ${r.name}`);
        throw methodNotAllowed(r.rev === null ? 'GET, HEAD' : 'DELETE');
      }
      case 'unknown':
        throw notFound('resource');
    }
  }

  return {
    name: 'npm',
    matches: underPrefix,
    claims: (req) => fromNpmClient(req.headers),
    access: npmAccess,
    // Only paths under /npm/ reach it: a request at the root is npm's by its headers, which the memory path does not read.
    cached: (req) => packuments.cached(req, parseRoute(req.path)),
    handle: (req, reply) => route(req, reply, routeOf(req)),
    error: renderNpmError,
    browse: npmBrowse(ctx, store, hosted, search.summaries), // stored packages only: browsing never asks an upstream
    close: async () => proxy?.close(),
  };
}
