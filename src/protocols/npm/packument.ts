// Package documents ("packuments") as npm reads them: the full document, the
// abbreviated install document (Accept: application/vnd.npm.install-v1+json),
// and single versions by number or dist-tag. Tarball URLs are built at render
// time from the request's link base (public_url, else the host the client
// asked for), so nothing cached holds a link. They always point under /npm/,
// also in documents read at the root: a path no other format can shadow, and
// covered by a token scoped to the root (npm looks tokens up by URL prefix).
import type { Context } from '../../main/protocol.js';
import { sendMemoryResponse, type MemoryResponse, type ReadView, type Reply, type Req } from '../../main/http/types.js';
import { AnswerCache, answerOf, respond, type Answer } from '../../main/http/answer-cache.js';
import type { Route } from './routes.js';
import { notFound } from './errors.js';
import { parseName } from './names.js';
import { revString, type Manifest, type NpmStore, type PackageState } from './store.js';
import type { NpmContent } from './content.js';

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
export async function readExisting(content: NpmContent, name: string): Promise<PackageState> {
  if (!parseName(name)) throw notFound(`package ${name}`);
  const state = await content.packument(name);
  if (!state || Object.keys(state.versions).length === 0) throw notFound(`package ${name}`);
  return state;
}

/** Headers a 304 keeps: all but Content-Type. */
const keptOn304 = (name: string) => name !== 'Content-Type';

const JSON_TYPE = 'application/json; charset=utf-8';

/** The rendered answer for a document: the validators and caching rules npm's clients revalidate with. */
function answer(value: unknown, etag: string, type: string, lastModified: string, cacheControl: string): Answer {
  const headers: [string, string][] = [
    ['ETag', etag],
    ['Vary', 'Accept'],
    ['Last-Modified', new Date(lastModified).toUTCString()],
    ['Cache-Control', cacheControl],
    ['Content-Type', type],
  ];
  return answerOf(etag, headers, JSON.stringify(value), keptOn304);
}

/** A document variant: the full or abbreviated packument, or one version by number or dist-tag. */
type Variant = { kind: 'full' } | { kind: 'abbreviated' } | { kind: 'version'; spec: string };

function render(base: string, state: PackageState, v: Variant, cacheControl: string): Answer {
  const rev = revString(state);
  switch (v.kind) {
    case 'abbreviated':
      return answer(renderAbbreviated(base, state), `"${rev}-i"`, `${ABBREVIATED}; charset=utf-8`, state.modified, cacheControl);
    case 'full':
      return answer(renderFull(base, state), `"${rev}-f"`, JSON_TYPE, state.modified, cacheControl);
    case 'version': {
      const version = Object.hasOwn(state.distTags, v.spec) ? state.distTags[v.spec]! : v.spec;
      if (!Object.hasOwn(state.versions, version)) throw notFound(`version ${v.spec} of ${state.name}`);
      return answer(renderVersion(base, state, version), `"${rev}-v-${version}"`, JSON_TYPE, state.modified, cacheControl);
    }
  }
}

/** Cache key of a variant rendered with links to `base`. */
function variantKey(v: Variant, base: string): string {
  return `${v.kind === 'version' ? `v:${v.spec}` : v.kind}\n${base}`;
}

/** Bytes of rendered package documents kept for the memory path. */
const MAX_CACHED_BYTES = 64 * 1024 * 1024;

/** Reads go through `content`; `store` says when a package changed. */
export function createPackuments(ctx: Context, content: NpmContent, store: NpmStore) {
  const cache = new AnswerCache<PackageState>({ maxBytes: MAX_CACHED_BYTES });
  store.onChange((name) => cache.invalidate(name));
  const shared = `${cacheScope(ctx)}, max-age=0, must-revalidate`;
  const load = (name: string) => async () => {
    const state = await readExisting(content, name);
    return { rev: revString(state), state };
  };

  /** Sends the answer to a read: rendered once per revision, variant and link base, and kept for the memory path. */
  async function send(req: Req, reply: Reply, name: string, v: Variant): Promise<void> {
    const base = ctx.linkBase(req);
    // A ?write=true read fetches the revision for an update: never answered from a cache.
    if (req.query.get('write') === 'true') {
      const a = render(base, await readExisting(content, name), v, 'private, no-cache');
      return sendMemoryResponse(reply, respond(a, req));
    }
    const a = await cache.answer(name, variantKey(v, base), load(name), (state) => render(base, state, v, shared));
    sendMemoryResponse(reply, respond(a, req));
  }

  return {
    getPackage(req: Req, reply: Reply, name: string): Promise<void> {
      const abbreviated = wantsAbbreviated(req.headers.accept) && req.query.get('write') !== 'true';
      return send(req, reply, name, abbreviated ? { kind: 'abbreviated' } : { kind: 'full' });
    },

    getVersion(req: Req, reply: Reply, name: string, spec: string): Promise<void> {
      return send(req, reply, name, { kind: 'version', spec });
    },

    /** The answer the full path would send, from memory (see Protocol.cached); a query always takes the full path. */
    cached(req: ReadView, route: Route): MemoryResponse | undefined {
      if (req.rawQuery !== '') return undefined;
      let v: Variant;
      if (route.kind === 'package' && route.rev === null) v = wantsAbbreviated(req.headers.accept) ? { kind: 'abbreviated' } : { kind: 'full' };
      else if (route.kind === 'version') v = { kind: 'version', spec: route.spec };
      else return undefined;
      const a = cache.peek(route.name, variantKey(v, ctx.linkBase(req)));
      return a && respond(a, req);
    },
  };
}
