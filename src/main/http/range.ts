// Parsing of the Range request header (single range only, as registries use it).

export type RangeResult =
  | { kind: 'none' }
  | { kind: 'ok'; start: number; end: number } // inclusive end
  | { kind: 'unsatisfiable' };

/**
 * A byte position from a run of digits. Beyond 15 significant digits it lies
 * past any object we store, so Infinity keeps the comparisons exact (a huge
 * last-pos is clipped, a huge suffix means everything, a huge first-pos is
 * unsatisfiable) without trusting float rounding.
 */
function position(digits: string): number {
  const s = digits.replace(/^0+(?=\d)/, '');
  return s.length > 15 ? Infinity : Number(s);
}

/**
 * RFC 9110 byte ranges for a resource of `size` bytes. Multiple ranges and
 * malformed headers are ignored (served whole), as the RFC allows; a
 * syntactically valid range that lies outside the resource is unsatisfiable.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return { kind: 'none' };
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return { kind: 'none' };
  const [, a, b] = m;
  if (a === '' && b === '') return { kind: 'none' };
  if (a === '') {
    const suffix = position(b!);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'ok', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = position(a!);
  // Checked first: "bytes=<beyond the end>-" is unsatisfiable, not malformed.
  if (start >= size) return { kind: 'unsatisfiable' };
  let end = b === '' ? size - 1 : position(b!);
  // "bytes=500-0" is invalid; RFC 9110 lets us ignore or refuse it, and the OCI
  // conformance suite expects refusal.
  if (end < start) return { kind: 'unsatisfiable' };
  if (end >= size) end = size - 1;
  return { kind: 'ok', start, end };
}
