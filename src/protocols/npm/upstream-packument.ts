// An upstream registry's packument made into a package state like a hosted
// one, so the same renderer serves it (tarball URLs then point at nora-ts).
// The document is untrusted: it must name the package asked for; a version
// is kept only with a valid number, a plain `.tgz` file name and a sha512
// integrity (the digest its tarball is fetched, checked and stored under);
// anything else in it is dropped, never stored or rendered.
import { parseSemver } from './semver.js';
import { escapeName } from './names.js';
import type { FileEntry, Manifest, PackageState } from './store.js';

/** A package state read from upstream, and where each of its tarballs is fetched. */
export interface UpstreamPackage {
  state: PackageState;
  /** tarball file name → upstream URL */
  sources: Record<string, string>;
}

/** Package-level fields copied from upstream (what `npm view` shows); the rest is dropped. */
const INFO_FIELDS = ['description', 'readme', 'readmeFilename', 'keywords', 'homepage', 'repository', 'bugs', 'license', 'author', 'contributors'];
const FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,250}\.tgz$/;
const SHA512 = /(?:^|\s)sha512-([A-Za-z0-9+/]{86}==)(?:\s|$)/;

const TAG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const isDate = (v: unknown): v is string => typeof v === 'string' && v.length < 64 && !Number.isNaN(Date.parse(v));

/** The last path segment of a tarball URL when it is a plain `.tgz` file name, else null. */
function fileName(tarball: string): string | null {
  try {
    const file = decodeURIComponent(tarball.split(/[?#]/)[0]!.split('/').pop()!);
    return FILE.test(file) ? file : null;
  } catch {
    return null;
  }
}

/** The tarball's upstream URL: dist.tarball when it is on the upstream's origin, else the registry's standard path. */
function sourceOf(upstream: URL, name: string, file: string, tarball: string): string {
  try {
    const u = new URL(tarball);
    if (u.origin === upstream.origin && u.pathname.endsWith(`/${file}`) && !u.username && !u.password) return u.href;
  } catch {
    // not a URL: use the standard path
  }
  return `${upstream.href.replace(/\/+$/, '')}/${escapeName(name)}/-/${file}`;
}

/** Null when the document is not a packument of `name`. */
export function fromUpstream(name: string, doc: unknown, upstream: URL, rev: number): UpstreamPackage | null {
  if (!isObject(doc) || doc.name !== name || !isObject(doc.versions)) return null;
  const time = isObject(doc.time) ? doc.time : {};
  const versions: Record<string, Manifest> = {};
  const times: Record<string, string> = {};
  const files: Record<string, FileEntry> = {};
  const sources: Record<string, string> = {};
  for (const [version, m] of Object.entries(doc.versions)) {
    if (!parseSemver(version) || !isObject(m) || !isObject(m.dist) || typeof m.dist.tarball !== 'string') continue;
    const integrity = typeof m.dist.integrity === 'string' ? SHA512.exec(m.dist.integrity) : null;
    if (!integrity) continue;
    const file = fileName(m.dist.tarball);
    if (file === null || Object.hasOwn(files, file)) continue;
    const { tarball: _dropped, ...dist } = m.dist;
    versions[version] = { ...m, name, version, dist } as Manifest;
    files[file] = {
      version,
      sha512: Buffer.from(integrity[1]!, 'base64').toString('hex'),
      sha1: typeof m.dist.shasum === 'string' ? m.dist.shasum : '',
      size: 0,
    };
    sources[file] = sourceOf(upstream, name, file, m.dist.tarball);
    if (isDate(time[version])) times[version] = time[version];
  }
  const distTags: Record<string, string> = {};
  if (isObject(doc['dist-tags']))
    for (const [tag, v] of Object.entries(doc['dist-tags'])) if (TAG.test(tag) && typeof v === 'string' && Object.hasOwn(versions, v)) distTags[tag] = v;
  const info: Record<string, unknown> = {};
  for (const k of INFO_FIELDS) if (doc[k] !== undefined) info[k] = doc[k];
  const maintainers = Array.isArray(doc.maintainers)
    ? doc.maintainers.filter(isObject).filter((p) => typeof p.name === 'string').map((p) => ({ name: p.name as string, ...(typeof p.email === 'string' ? { email: p.email } : {}) }))
    : [];
  const now = new Date().toISOString();
  const state: PackageState = {
    name,
    rev,
    created: isDate(time.created) ? time.created : now,
    modified: isDate(time.modified) ? time.modified : now,
    distTags,
    versions,
    times,
    files,
    unpublished: {},
    info,
    maintainers,
  };
  return { state, sources };
}
