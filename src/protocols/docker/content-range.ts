// The Content-Range header of a blob upload chunk. The OCI spec's form is
// "<start>-<end>" (inclusive); the RFC 9110 form "bytes <start>-<end>/<total|*>"
// that some clients send is accepted too.

export interface ChunkRange {
  start: number;
  /** inclusive */
  end: number;
}

const SPEC_FORM = /^(\d{1,15})-(\d{1,15})$/;
const RFC_FORM = /^bytes (\d{1,15})-(\d{1,15})\/(?:\d{1,15}|\*)$/;

/** null when the header is malformed (including end < start). */
export function parseChunkRange(header: string): ChunkRange | null {
  const v = header.trim();
  const m = SPEC_FORM.exec(v) ?? RFC_FORM.exec(v);
  if (!m) return null;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) return null;
  return { start, end };
}

/** The Range header value for an upload holding `size` bytes ("0-0" when empty, as distribution does). */
export function uploadedRange(size: number): string {
  return `0-${Math.max(size - 1, 0)}`;
}
