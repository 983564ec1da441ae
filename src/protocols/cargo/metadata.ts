// The publish API's JSON metadata checked and turned into an index entry.
// Index dependencies name the crate as the dependent's code sees it: `name` is
// the rename (publish's `explicit_name_in_toml`), `package` the crate itself.
// Features using `dep:` or `?/` go to `features2` (entry v2), so older cargo
// versions that cannot read them skip the entry instead of failing.
import { HttpError } from '../../main/errors.js';
import { isValidCrate, isValidVersion } from './names.js';
import type { IndexDep, IndexEntry } from './store.js';

export interface PublishMeta {
  name: string;
  vers: string;
  description: string | null;
  entry: Omit<IndexEntry, 'cksum'>;
}

const bad = (why: string) => new HttpError('BAD_REQUEST', `invalid publish metadata: ${why}`);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const optString = (v: unknown, field: string): string | null => {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw bad(`${field} must be a string`);
  return v;
};
const KINDS = new Set(['normal', 'dev', 'build']);

function dependency(d: unknown, i: number): IndexDep {
  if (!isObj(d)) throw bad(`deps[${i}] must be an object`);
  const name = d.name;
  if (typeof name !== 'string' || !isValidCrate(name)) throw bad(`deps[${i}].name is not a crate name`);
  if (typeof d.version_req !== 'string' || d.version_req === '') throw bad(`deps[${i}].version_req must be a string`);
  const features = d.features ?? [];
  if (!isStrings(features)) throw bad(`deps[${i}].features must be a list of strings`);
  const kind = d.kind ?? 'normal';
  if (typeof kind !== 'string' || !KINDS.has(kind)) throw bad(`deps[${i}].kind must be normal, dev or build`);
  const rename = optString(d.explicit_name_in_toml, `deps[${i}].explicit_name_in_toml`);
  if (rename !== null && !/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/.test(rename)) throw bad(`deps[${i}].explicit_name_in_toml is not a valid name`);
  const out: IndexDep = {
    name: rename ?? name,
    req: d.version_req,
    features,
    optional: d.optional === true,
    default_features: d.default_features !== false,
    target: optString(d.target, `deps[${i}].target`),
    kind,
    registry: optString(d.registry, `deps[${i}].registry`),
  };
  if (rename !== null) out.package = name;
  return out;
}

function splitFeatures(f: unknown): { features: Record<string, string[]>; features2?: Record<string, string[]> } {
  if (f === undefined || f === null) return { features: {} };
  if (!isObj(f)) throw bad('features must be an object');
  const features: Record<string, string[]> = {};
  const features2: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(f)) {
    if (!isStrings(v)) throw bad(`features.${k} must be a list of strings`);
    (v.some((x) => x.startsWith('dep:') || x.includes('?/')) ? features2 : features)[k] = v;
  }
  return Object.keys(features2).length ? { features, features2 } : { features };
}

/** Parses the metadata bytes; every refusal says which field is wrong. */
export function parsePublishMeta(json: Buffer): PublishMeta {
  let m: unknown;
  try {
    m = JSON.parse(json.toString('utf8'));
  } catch {
    throw bad('not JSON');
  }
  if (!isObj(m)) throw bad('expected a JSON object');
  const { name, vers } = m;
  if (typeof name !== 'string' || !isValidCrate(name)) throw bad(`${JSON.stringify(name)} is not a crate name (letters, digits, - and _, a letter first, at most 64)`);
  if (typeof vers !== 'string' || !isValidVersion(vers)) throw bad(`version ${JSON.stringify(vers)} is not SemVer`);
  const deps = m.deps ?? [];
  if (!Array.isArray(deps)) throw bad('deps must be a list');
  if (deps.length > 4096) throw bad('too many dependencies');
  const links = optString(m.links, 'links');
  const rustVersion = optString(m.rust_version, 'rust_version');
  const { features, features2 } = splitFeatures(m.features);
  const entry: Omit<IndexEntry, 'cksum'> = {
    name,
    vers,
    deps: deps.map(dependency),
    features,
    ...(features2 ? { features2 } : {}),
    yanked: false,
    links,
    v: features2 ? 2 : 1,
    rust_version: rustVersion,
  };
  return { name, vers, description: optString(m.description, 'description'), entry };
}
