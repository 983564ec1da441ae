// API token format: "nra_" + 32 lowercase hex characters (128 random bits).
// A token's id is the first 16 hex characters of its SHA-256: it names the
// token's file (lookup without trying every stored hash) and is the
// hash_prefix shown in listings, as in NORA. Revoking takes any prefix of it
// of at least 6 characters (the product document revokes with 6).
import { createHash, randomBytes } from 'node:crypto';

export const TOKEN_RE = /^nra_[0-9a-f]{32}$/;
export const TOKEN_ID_RE = /^[0-9a-f]{16}$/;
export const ID_PREFIX_RE = /^[0-9a-f]{6,16}$/;

/**
 * Whether `s` is shaped like a token (TOKEN_RE), checked without a regexp: a
 * successful match keeps its subject in RegExp.input until the next one, and a
 * secret must not outlive its request in the heap.
 */
export function isToken(s: string): boolean {
  if (s.length !== 36 || !s.startsWith('nra_')) return false;
  for (let i = 4; i < 36; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

export function newToken(): string {
  return 'nra_' + randomBytes(16).toString('hex');
}

export function tokenSha256(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export function tokenId(token: string): string {
  return tokenSha256(token).toString('hex', 0, 8);
}
