// Checks a published tarball against what the client says it is: the
// attachment's base64 must be canonical, the bytes must be gzip, and every
// Subresource Integrity entry (dist.integrity, as npm's ssri writes it) and the
// sha1 `shasum` must match.
import { createHash } from 'node:crypto';
import { HttpError } from '../../main/errors.js';

const SRI_ALGORITHMS = new Set(['sha512', 'sha384', 'sha256', 'sha1']);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface TarballDigests {
  /** hex */
  sha512: string;
  /** hex */
  sha1: string;
}

/** Decodes `_attachments[file]`: strict base64 (Node's decoder would skip junk silently), length, gzip magic. */
export function decodeAttachment(file: string, att: unknown): Buffer {
  if (!att || typeof att !== 'object') throw new HttpError('BAD_REQUEST', `attachment ${file} is not an object`);
  const { data, length } = att as { data?: unknown; length?: unknown };
  if (typeof data !== 'string' || data.length === 0) throw new HttpError('BAD_REQUEST', `attachment ${file} has no data`);
  if (data.length % 4 !== 0 || !BASE64.test(data)) throw new HttpError('BAD_REQUEST', `attachment ${file} is not valid base64`);
  const buf = Buffer.from(data, 'base64');
  if (length !== undefined && length !== buf.length)
    throw new HttpError('BAD_REQUEST', `attachment ${file} length ${String(length)} does not match its ${buf.length} decoded bytes`);
  if (buf.length < 2 || buf[0] !== 0x1f || buf[1] !== 0x8b) throw new HttpError('BAD_REQUEST', `attachment ${file} is not a gzip tarball`);
  return buf;
}

export function verifyTarball(version: string, data: Buffer, dist: unknown): TarballDigests {
  const d = (dist && typeof dist === 'object' ? dist : {}) as { integrity?: unknown; shasum?: unknown };
  const sha512 = createHash('sha512').update(data);
  const sha512b64 = sha512.copy().digest('base64');
  const digests: TarballDigests = { sha512: sha512.digest('hex'), sha1: createHash('sha1').update(data).digest('hex') };
  let checked = 0;
  if (d.integrity !== undefined) {
    if (typeof d.integrity !== 'string') throw new HttpError('BAD_REQUEST', `dist.integrity of ${version} must be a string`);
    for (const entry of d.integrity.trim().split(/\s+/)) {
      const m = /^([a-z0-9]+)-([A-Za-z0-9+/=]+)(\?.*)?$/.exec(entry);
      if (!m || !SRI_ALGORITHMS.has(m[1]!)) continue;
      const actual = m[1] === 'sha512' ? sha512b64 : createHash(m[1]!).update(data).digest('base64');
      if (actual !== m[2]) throw new HttpError('BAD_REQUEST', `integrity check failed for ${version}: tarball does not match dist.integrity (${m[1]})`);
      checked++;
    }
  }
  if (d.shasum !== undefined) {
    if (typeof d.shasum !== 'string' || d.shasum.toLowerCase() !== digests.sha1)
      throw new HttpError('BAD_REQUEST', `integrity check failed for ${version}: tarball does not match dist.shasum`);
    checked++;
  }
  if (checked === 0) throw new HttpError('BAD_REQUEST', `version ${version} has neither dist.integrity nor dist.shasum`);
  return digests;
}
