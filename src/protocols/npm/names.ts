// npm package names: plain (`left-pad`) or scoped (`@scope/name`). Only names a
// new package may have today are accepted (lower case, URL-safe, ≤ 214 chars),
// which also makes every name a safe storage key.
const PART = /^[a-z0-9][a-z0-9._-]*$/;

export interface PackageName {
  /** full name, `@scope/name` or `name` */
  full: string;
  /** without scope (used in tarball file names) */
  base: string;
  scope: string | null;
}

export function parseName(full: string): PackageName | null {
  if (full.length === 0 || full.length > 214) return null;
  if (full.startsWith('@')) {
    const i = full.indexOf('/');
    if (i < 0 || full.indexOf('/', i + 1) >= 0) return null;
    const scope = full.slice(1, i);
    const base = full.slice(i + 1);
    if (!PART.test(scope) || !PART.test(base)) return null;
    return { full, base, scope };
  }
  if (!PART.test(full)) return null;
  return { full, base: full, scope: null };
}

/** The name as npm puts it in a request path: `@scope%2fname`. */
export function escapeName(full: string): string {
  return full.replace('/', '%2f');
}

/** Tarball file name npm uses for a version: `<base>-<version>.tgz`. */
export function tarballFile(name: PackageName, version: string): string {
  return `${name.base}-${version}.tgz`;
}
