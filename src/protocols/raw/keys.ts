// Raw file paths: what follows /raw/, '/'-separated, each segment percent-
// decoded, then printable ASCII without a backslash or an encoded '/', never
// empty, '.' or '..', so a path only ever names a key below raw/ (storage/keys.ts checks again).
import { HttpError } from '../../main/errors.js';

export const ROOT = 'raw';
/** Leaves room below the storage key limit for the raw/ prefix. */
const MAX_PATH = 1000;

/** The decoded path below /raw/ ('' for the root), or a 400 naming what is wrong. */
export function rawPath(urlPath: string): string {
  const rest = urlPath === '/raw' ? '' : urlPath.slice('/raw/'.length);
  if (rest === '') return '';
  const segs = rest.split('/');
  const trailing = segs[segs.length - 1] === '';
  if (trailing) segs.pop();
  const out: string[] = [];
  for (const raw of segs) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      throw new HttpError('BAD_REQUEST', 'malformed percent-encoding in path');
    }
    if (seg === '' || seg === '.' || seg === '..') throw new HttpError('BAD_REQUEST', 'path segments must not be empty, "." or ".."');
    // An encoded '/' (%2F) is not a separator: it would let one segment hide '..' ones.
    if (!/^[\x21-\x2e\x30-\x5b\x5d-\x7e]+$/.test(seg)) throw new HttpError('BAD_REQUEST', 'path must be printable ASCII without spaces, backslashes or encoded slashes');
    out.push(seg);
  }
  const path = out.join('/') + (trailing ? '/' : '');
  if (path.length > MAX_PATH) throw new HttpError('BAD_REQUEST', `path longer than ${MAX_PATH} characters`);
  return path;
}

export const fileKey = (path: string) => `${ROOT}/${path}`;
/** The listing prefix of a directory path ('' or 'a/b/'). */
export const dirKey = (dir: string) => (dir === '' ? ROOT : `${ROOT}/${dir.slice(0, -1)}`);
