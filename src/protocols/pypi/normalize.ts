// Project names (PEP 503 normalisation, PEP 508 validity) and distribution
// file names: what may be stored, and whether a file belongs to a project.
const PROJECT = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;

/** PEP 503: runs of '-', '_', '.' become one '-', lower case. */
export function normalize(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

export function isValidProject(name: string): boolean {
  return name.length <= 200 && PROJECT.test(name);
}

/** A normalised name is what storage keys and URLs use. */
export function isNormalized(name: string): boolean {
  return isValidProject(name) && normalize(name) === name;
}

export const EXTENSIONS = ['.whl', '.tar.gz', '.zip', '.tgz', '.egg'] as const;

export function extensionOf(filename: string): string | null {
  const lower = filename.toLowerCase();
  return EXTENSIONS.find((e) => lower.endsWith(e)) ?? null;
}

/** Why a file name cannot be stored, or null when it can. */
export function filenameProblem(filename: string): string | null {
  if (filename.length === 0 || filename.length > 255) return 'file name must be 1 to 255 characters';
  if (filename.includes('\0')) return 'file name contains NUL';
  if (filename.includes('/') || filename.includes('\\')) return 'file name contains a path separator';
  if (filename.includes('..')) return "file name contains '..'";
  if (!/^[\x21-\x7e]+$/.test(filename)) return 'file name must be printable ASCII without spaces';
  if (/[<>"'&%#?]/.test(filename)) return 'file name contains a character not allowed in distribution file names';
  if (!extensionOf(filename)) return `file name must end with one of ${EXTENSIONS.join(', ')}`;
  return null;
}

/**
 * Whether `filename` is a distribution of project `norm` at `version`:
 * wheels are `{name}-{version}(-{build})?-{py}-{abi}-{platform}.whl`, the rest
 * `{name}-{version}.{ext}` (older tools keep the name's own spelling).
 */
export function belongsTo(filename: string, norm: string, version: string): boolean {
  const ext = extensionOf(filename)!;
  const stem = filename.slice(0, filename.length - ext.length);
  const v = normalize(version);
  if (ext === '.whl') {
    const parts = stem.split('-');
    if (parts.length !== 5 && parts.length !== 6) return false;
    return normalize(parts[0]!) === norm && normalize(parts[1]!) === v;
  }
  if (ext === '.egg') {
    // {name}-{version}(-{pyver}(-{platform})?)?.egg
    const parts = stem.split('-');
    return parts.length >= 2 && normalize(parts[0]!) === norm && normalize(parts[1]!) === v;
  }
  return normalize(stem) === `${norm}-${v}`;
}
