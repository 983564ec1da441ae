// Crate names and versions as crates.io accepts and compares them: ASCII
// letters, digits, '-' and '_', a letter first, at most 64 characters; two
// names are the same crate when they differ only in case or in '-' versus '_'.
// Versions are SemVer (npm's parser, shared), build metadata not making a new one.
import { parseSemver } from '../npm/semver.js';

export { compareSemver, highest } from '../npm/semver.js';

const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export function isValidCrate(name: string): boolean {
  return NAME.test(name);
}

/** The form two names are compared in (and stored under). */
export function canonical(name: string): string {
  return name.toLowerCase().replaceAll('-', '_');
}

export function isValidVersion(v: string): boolean {
  return v.length <= 128 && parseSemver(v) !== null;
}

/** The version without build metadata: 1.0.0+a and 1.0.0+b are one version. */
export function versionKey(v: string): string {
  const plus = v.indexOf('+');
  return plus < 0 ? v : v.slice(0, plus);
}

/** The sparse index path of a name: 1/a, 2/ab, 3/a/abc, ab/cd/abcd... (RFC 2789), lower case. */
export function indexPath(name: string): string {
  const n = name.toLowerCase();
  if (n.length <= 2) return `${n.length}/${n}`;
  if (n.length === 3) return `3/${n[0]}/${n}`;
  return `${n.slice(0, 2)}/${n.slice(2, 4)}/${n}`;
}
