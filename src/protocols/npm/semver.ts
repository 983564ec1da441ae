// Version validity and precedence (to check a publish and pick `latest`), on npm's own
// `semver`, so nora-ts orders versions exactly as the npm CLI does. Only the class is
// loaded (the whole package costs ~100 ms of start-up; the class ~5x less).
import SemVer from 'semver/classes/semver.js';

export type { SemVer };

/**
 * A valid Semantic Versioning 2.0.0 version in its canonical spelling, or null.
 * semver's strict parse also takes a leading "v" and surrounding blanks (what it trims),
 * which it drops; a registry stores the spelling a client sent, so those are refused here.
 */
export function parseSemver(v: string): SemVer | null {
  if (v.length > 256 || v[0] === 'v' || v !== v.trim()) return null;
  try {
    return new SemVer(v);
  } catch {
    return null; // not semver, or a number past 2^53
  }
}

export function isSemver(v: string): boolean {
  return parseSemver(v) !== null;
}

/** Precedence of two versions, build metadata ignored (invalid ones sort first). */
export function compareSemver(a: string, b: string): number {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (!x || !y) return (x ? 1 : 0) - (y ? 1 : 0);
  return x.compare(y);
}

/** The highest version, preferring releases over pre-releases (what `latest` falls back to). */
export function highest(versions: Iterable<string>): string | undefined {
  let bestRelease: SemVer | undefined;
  let bestAny: SemVer | undefined;
  for (const v of versions) {
    const p = parseSemver(v);
    if (!p) continue;
    if (!bestAny || p.compare(bestAny) > 0) bestAny = p;
    if (!p.prerelease.length && (!bestRelease || p.compare(bestRelease) > 0)) bestRelease = p;
  }
  return (bestRelease ?? bestAny)?.raw;
}
