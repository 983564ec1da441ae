// The part of Semantic Versioning 2.0.0 a registry needs: validity and precedence
// (to pick `latest` and order versions). Build metadata is ignored for ordering.
export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  pre: (string | number)[];
}

const RE = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export function parseSemver(v: string): SemVer | null {
  if (v.length > 256) return null;
  const m = RE.exec(v);
  if (!m) return null;
  const nums = [m[1], m[2], m[3]].map(Number);
  if (nums.some((n) => !Number.isSafeInteger(n))) return null;
  const pre = m[4] ? m[4].split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [];
  return { major: nums[0]!, minor: nums[1]!, patch: nums[2]!, pre };
}

export function isSemver(v: string): boolean {
  return parseSemver(v) !== null;
}

function cmpId(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Precedence of two valid versions (invalid ones sort first). */
export function compareSemver(a: string, b: string): number {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (!x || !y) return (x ? 1 : 0) - (y ? 1 : 0);
  const d = x.major - y.major || x.minor - y.minor || x.patch - y.patch;
  if (d) return Math.sign(d);
  if (!x.pre.length || !y.pre.length) return (x.pre.length ? -1 : 0) + (y.pre.length ? 1 : 0);
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    if (i >= x.pre.length) return -1;
    if (i >= y.pre.length) return 1;
    const c = cmpId(x.pre[i]!, y.pre[i]!);
    if (c) return Math.sign(c);
  }
  return 0;
}

/** The highest version, preferring releases over pre-releases (what `latest` falls back to). */
export function highest(versions: Iterable<string>): string | undefined {
  let bestRelease: string | undefined;
  let bestAny: string | undefined;
  for (const v of versions) {
    const p = parseSemver(v);
    if (!p) continue;
    if (bestAny === undefined || compareSemver(v, bestAny) > 0) bestAny = v;
    if (!p.pre.length && (bestRelease === undefined || compareSemver(v, bestRelease) > 0)) bestRelease = v;
  }
  return bestRelease ?? bestAny;
}
