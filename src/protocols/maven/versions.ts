// Maven's version order (after ComparableVersion, simplified): versions split
// into numbers and qualifiers at '.', '-' and digit/letter changes; numbers
// compare numerically, trailing zeros do not count (1.0 = 1), and the
// well-known qualifiers sort alpha < beta < milestone < rc < snapshot <
// release < sp, unknown ones after them by name. `latest` and `release` in
// maven-metadata.xml are the highest versions in this order.

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Record<string, string> = { a: 'alpha', b: 'beta', m: 'milestone', cr: 'rc', ga: '', final: '', release: '' };
const RELEASE_RANK = QUALIFIERS.indexOf('');

type Item = number | string;

function items(version: string): Item[] {
  const out: Item[] = [];
  for (const m of version.toLowerCase().matchAll(/\d+|[a-z]+/g)) {
    const s = m[0];
    out.push(/^\d/.test(s) ? Number(s) : (ALIASES[s] ?? s));
  }
  // 1.0.0 = 1 and 1.0-ga = 1: trailing zeros and release qualifiers carry nothing.
  while (out.length && (out[out.length - 1] === 0 || out[out.length - 1] === '')) out.pop();
  return out;
}

function rank(q: string): [number, string] {
  const i = QUALIFIERS.indexOf(q);
  return i >= 0 ? [i, ''] : [QUALIFIERS.length, q];
}

/** An absent item compares as 0 against a number and as a release against a qualifier. */
function compareItems(a: Item | undefined, b: Item | undefined): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (a === undefined) return b === undefined ? 0 : -compareItems(b, undefined);
  if (typeof a === 'number') return b === undefined ? a : 1; // a number outranks any qualifier (1.1 > 1-sp)
  if (typeof b === 'number') return -1;
  const [ra, na] = rank(a);
  const [rb, nb] = b === undefined ? [RELEASE_RANK, ''] : rank(b);
  return ra !== rb ? ra - rb : na < nb ? -1 : na > nb ? 1 : 0;
}

export function compareVersions(a: string, b: string): number {
  const x = items(a);
  const y = items(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const c = compareItems(x[i], y[i]);
    if (c !== 0) return c;
  }
  return 0;
}
