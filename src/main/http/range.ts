// Parsing of the Range request header (single range only, as registries use it).

export type RangeResult =
  | { kind: 'none' }
  | { kind: 'ok'; start: number; end: number } // inclusive end
  | { kind: 'unsatisfiable' };

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
  if (a!.length > 15 || b!.length > 15) return { kind: 'unsatisfiable' };
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'ok', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  // Checked first: "bytes=<beyond the end>-" is unsatisfiable, not malformed.
  if (start >= size) return { kind: 'unsatisfiable' };
  let end = b === '' ? size - 1 : Number(b);
  // "bytes=500-0" is invalid; RFC 9110 lets us ignore or refuse it, and the OCI
  // conformance suite expects refusal.
  if (end < start) return { kind: 'unsatisfiable' };
  if (end >= size) end = size - 1;
  return { kind: 'ok', start, end };
}
