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
 * The version a distribution file of project `norm` names, or null when the
 * file is not one of `norm`'s: wheels are
 * `{name}-{version}(-{build})?-{py}-{abi}-{platform}.whl`, eggs
 * `{name}-{version}(-{pyver}(-{platform})?)?.egg`, the rest
 * `{name}-{version}.{ext}` (older tools keep the name's own spelling).
 */
export function versionIn(filename: string, norm: string): string | null {
  const ext = extensionOf(filename);
  if (!ext) return null;
  const stem = filename.slice(0, filename.length - ext.length);
  if (ext === '.whl' || ext === '.egg') {
    const parts = stem.split('-');
    const ok = ext === '.whl' ? parts.length === 5 || parts.length === 6 : parts.length >= 2;
    return ok && normalize(parts[0]!) === norm && parts[1] ? parts[1] : null;
  }
  for (let i = stem.indexOf('-'); i > 0; i = stem.indexOf('-', i + 1)) {
    if (normalize(stem.slice(0, i)) === norm) return stem.slice(i + 1) || null;
  }
  return null;
}

/** Whether `filename` is a distribution of project `norm` at `version`. */
export function belongsTo(filename: string, norm: string, version: string): boolean {
  const v = versionIn(filename, norm);
  return v !== null && normalize(v) === normalize(version);
}
