// Repository names and references as the OCI distribution spec defines them.
import { looksLikeDigest, parseDigest, type Digest } from '../../main/digest.js';
import { oci } from './errors.js';

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
export const MAX_NAME_LENGTH = 255;

export function isValidName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return false;
  return name.split('/').every((c) => COMPONENT.test(c));
}

export function checkName(name: string): string {
  if (!isValidName(name)) throw oci('NAME_INVALID', 'invalid repository name', { name: name.slice(0, 300) });
  return name;
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

export type Reference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: Digest };

/**
 * A manifest reference: a tag, or a digest (sha256/sha512 only); null for a
 * string no manifest can be known by (neither a tag nor a digest). Throws
 * DIGEST_INVALID for a malformed or unsupported digest.
 */
export function readReference(ref: string): Reference | null {
  if (ref.includes(':')) {
    const d = parseDigest(ref);
    if (d) return { kind: 'digest', digest: d };
    if (looksLikeDigest(ref)) throw oci('DIGEST_INVALID', 'invalid digest', { reference: ref.slice(0, 200) });
    return null;
  }
  return isValidTag(ref) ? { kind: 'tag', tag: ref } : null;
}

/** A reference to store a manifest under: one no manifest could have is refused. */
export function parseReference(ref: string): Reference {
  const r = readReference(ref);
  if (r === null) throw oci('MANIFEST_INVALID', ref.includes(':') ? 'invalid digest' : 'invalid tag', { reference: ref.slice(0, 200) });
  return r;
}

export function checkDigest(s: string): Digest {
  const d = parseDigest(s);
  if (!d) throw oci('DIGEST_INVALID', 'invalid or unsupported digest', { digest: s.slice(0, 200) });
  return d;
}
