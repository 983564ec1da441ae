// Package documents ("packuments") as npm reads them: the full document, the
// abbreviated install document (Accept: application/vnd.npm.install-v1+json),
// and single versions by number or dist-tag. Tarball URLs are built at render
// time from the request's link base (public_url, else the host the client
// asked for), so nothing cached holds a link. They always point under /npm/,
// also in documents read at the root: a path no other format can shadow, and
// covered by a token scoped to the root (npm looks tokens up by URL prefix).
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { etagMatches } from '../../main/http/serve-object.js';
import { notFound } from './errors.js';
import { parseName } from './names.js';
import { revString, type Manifest, type NpmStore, type PackageState } from './store.js';

export const ABBREVIATED = 'application/vnd.npm.install-v1+json';

/** Fields of a version the abbreviated document keeps (what an installer needs). */
const INSTALL_FIELDS = [
  'name', 'version', 'deprecated', 'dependencies', 'optionalDependencies', 'devDependencies',
  'bundleDependencies', 'bundledDependencies', 'peerDependencies', 'peerDependenciesMeta',
  'acceptDependencies', 'bin', 'directories', 'dist', 'engines', 'cpu', 'os', 'libc', 'funding',
  'license', '_hasShrinkwrap', 'hasInstallScript',
];

export function tarballUrl(base: string, name: string, file: string): string {
  return `${base}/npm/${name}/-/${file}`;
}

/** Shared caches may keep responses only when nobody needs to log in to read them. */
export function cacheScope(ctx: Context): string {
  return ctx.config.auth.enabled && !ctx.config.auth.anonymous_read ? 'private' : 'public';
}

function fileOf(state: PackageState, version: string): string | undefined {
  for (const [file, f] of Object.entries(state.files)) if (f.version === version) return file;
  return undefined;
}

export function renderVersion(base: string, state: PackageState, version: string): Manifest {
  const m = state.versions[version]!;
  const file = fileOf(state, version);
  const dist = { ...m.dist, ...(file ? { tarball: tarballUrl(base, state.name, file) } : {}) };
  return { ...m, dist };
}

function hasInstallScript(m: Manifest): boolean {
  const s = m.scripts as Record<string, unknown> | undefined;
  return !!s && typeof s === 'object' && ['preinstall', 'install', 'postinstall'].some((k) => typeof s[k] === 'string');
}

export function renderFull(base: string, state: PackageState): Record<string, unknown> {
  const versions: Record<string, Manifest> = {};
  for (const v of Object.keys(state.versions)) versions[v] = renderVersion(base, state, v);
  return {
    ...state.info,
    _id: state.name,
    _rev: revString(state),
    name: state.name,
    'dist-tags': state.distTags,
    versions,
    time: { created: state.created, modified: state.modified, ...state.times },
    maintainers: state.maintainers,
  };
}

export function renderAbbreviated(base: string, state: PackageState): Record<string, unknown> {
  const versions: Record<string, Record<string, unknown>> = {};
  for (const v of Object.keys(state.versions)) {
    const full = renderVersion(base, state, v);
    const out: Record<string, unknown> = {};
    for (const k of INSTALL_FIELDS) if (full[k] !== undefined) out[k] = full[k];
    if (out.hasInstallScript === undefined && hasInstallScript(full)) out.hasInstallScript = true;
    versions[v] = out;
  }
  return { name: state.name, modified: state.modified, 'dist-tags': state.distTags, versions };
}

/** True when the client prefers (or accepts with q > 0) the abbreviated document. */
function wantsAbbreviated(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.trim().split(';').map((s) => s.trim());
    if (type?.toLowerCase() !== ABBREVIATED) return false;
    const q = params.find((p) => p.startsWith('q='));
    return !q || Number(q.slice(2)) > 0;
  });
}

/** Reads a package that must exist and have versions (404 otherwise). */
export async function readExisting(store: NpmStore, name: string): Promise<PackageState> {
  if (!parseName(name)) throw notFound(`package ${name}`);
  const state = await store.read(name);
  if (!state || Object.keys(state.versions).length === 0) throw notFound(`package ${name}`);
  return state;
}

export function createPackuments(ctx: Context, store: NpmStore) {
  function sendJson(req: Req, reply: Reply, value: unknown, etag: string, type: string, lastModified: string): void {
    reply
      .header('ETag', etag)
      .header('Vary', 'Accept')
      .header('Last-Modified', new Date(lastModified).toUTCString());
    // A ?write=true read fetches the revision for an update: never serve it from a cache.
    reply.header('Cache-Control', req.query.get('write') === 'true' ? 'private, no-cache' : `${cacheScope(ctx)}, max-age=0, must-revalidate`);
    if (etagMatches(req.headers['if-none-match'], etag)) return reply.status(304).send();
    reply.status(200).header('Content-Type', type).send(JSON.stringify(value));
  }

  return {
    async getPackage(req: Req, reply: Reply, name: string): Promise<void> {
      const state = await readExisting(store, name);
      const abbreviated = wantsAbbreviated(req.headers.accept) && req.query.get('write') !== 'true';
      const rev = revString(state);
      const base = ctx.linkBase(req);
      if (abbreviated) sendJson(req, reply, renderAbbreviated(base, state), `"${rev}-i"`, `${ABBREVIATED}; charset=utf-8`, state.modified);
      else sendJson(req, reply, renderFull(base, state), `"${rev}-f"`, 'application/json; charset=utf-8', state.modified);
    },

    async getVersion(req: Req, reply: Reply, name: string, spec: string): Promise<void> {
      const state = await readExisting(store, name);
      const version = Object.hasOwn(state.distTags, spec) ? state.distTags[spec]! : spec;
      if (!Object.hasOwn(state.versions, version)) throw notFound(`version ${spec} of ${name}`);
      sendJson(req, reply, renderVersion(ctx.linkBase(req), state, version), `"${revString(state)}-v-${version}"`, 'application/json; charset=utf-8', state.modified);
    },
  };
}
