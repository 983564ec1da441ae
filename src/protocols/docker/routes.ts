// Parses /v2/ paths from the right, so repository names may have any depth and
// may even contain "blobs" or "manifests" as components.
import { oci } from './errors.js';

export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; uuid: string }
  | { kind: 'referrers'; name: string; digest: string };

function decode(seg: string): string {
  if (!seg.includes('%')) return seg;
  try {
    return decodeURIComponent(seg);
  } catch {
    throw oci('NAME_INVALID', 'malformed percent-encoding in path');
  }
}

const ROUTE_MEMO_MAX = 4096;
const memo = new Map<string, Route | null>();

/**
 * null when the path is not a registry route at all (404). A fleet pulls the
 * same few paths over and over: each is parsed once (the memo is cleared when
 * full, so odd paths cannot grow it without bound).
 */
export function parseRoute(path: string): Route | null {
  let r = memo.get(path);
  if (r === undefined) {
    r = parse(path); // throws on bad percent-encoding: never memoised
    if (r !== null) Object.freeze(r); // shared by every request for this path
    if (memo.size >= ROUTE_MEMO_MAX) memo.clear();
    memo.set(path, r);
  }
  return r;
}

function parse(path: string): Route | null {
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  if (!path.startsWith('/v2/')) return null;
  const segs = path.slice(4).split('/').map(decode);
  if (segs.length === 1 && segs[0] === '_catalog') return { kind: 'catalog' };
  const n = segs.length;
  const name = (end: number) => segs.slice(0, end).join('/');
  // .../blobs/uploads/ and .../blobs/uploads/<uuid>
  if (n >= 4 && segs[n - 3] === 'blobs' && segs[n - 2] === 'uploads') {
    return segs[n - 1] === '' ? { kind: 'uploads', name: name(n - 3) } : { kind: 'upload', name: name(n - 3), uuid: segs[n - 1]! };
  }
  if (n >= 3 && segs[n - 2] === 'blobs' && segs[n - 1] === 'uploads') return { kind: 'uploads', name: name(n - 2) };
  if (n >= 3 && segs[n - 2] === 'blobs') return { kind: 'blob', name: name(n - 2), digest: segs[n - 1]! };
  if (n >= 3 && segs[n - 2] === 'manifests') return { kind: 'manifest', name: name(n - 2), reference: segs[n - 1]! };
  if (n >= 3 && segs[n - 2] === 'tags' && segs[n - 1] === 'list') return { kind: 'tags', name: name(n - 2) };
  if (n >= 3 && segs[n - 2] === 'referrers') return { kind: 'referrers', name: name(n - 2), digest: segs[n - 1]! };
  return null;
}
