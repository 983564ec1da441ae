// Reads the Authorization header into one credential. Accepted forms:
//   Basic b64(user:password)   htpasswd login
//   Basic b64(anyone:nra_...)  API token as the password (docker login -u token, twine)
//   Bearer nra_...             API token (npm _authToken, curl)
//   nra_...                    raw token without a scheme (cargo)
//   Bearer <JWT>               OIDC token of a CI job
//   Basic b64(anyone:<JWT>)    OIDC token as the password (docker login -u oidc)
import { isToken } from './token-format.js';

export interface Credential {
  /** password = htpasswd user + password; token = an API token; jwt = an OIDC token (user is informational for both) */
  readonly kind: 'password' | 'token' | 'jwt';
  readonly user: string;
  readonly secret: string;
}

/** Why a header carried no usable credential. */
export type NoCredential = 'none' | 'malformed' | 'unsupported';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseAuthorization(header: string | undefined): Credential | NoCredential {
  if (header === undefined) return 'none';
  const h = header.trim();
  if (h === '') return 'none';
  if (h.startsWith('nra_')) return { kind: 'token', user: '', secret: h };
  const sp = h.indexOf(' ');
  if (sp < 0) return 'unsupported';
  const scheme = h.slice(0, sp).toLowerCase();
  const rest = h.slice(sp + 1).trim();
  if (scheme === 'bearer') return rest === '' ? 'malformed' : { kind: isJwt(rest) ? 'jwt' : 'token', user: '', secret: rest };
  if (scheme !== 'basic') return 'unsupported';
  if (!isBase64(rest)) return 'malformed';
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(rest, 'base64'));
  } catch {
    return 'malformed';
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  const user = decoded.slice(0, colon);
  const secret = decoded.slice(colon + 1);
  // Clients that were challenged but hold no credentials send an empty pair.
  if (user === '' && secret === '') return 'none';
  // A password shaped exactly like a token is only ever checked as a token (never bcrypted).
  if (isToken(secret)) return { kind: 'token', user, secret };
  if (isJwt(secret)) return { kind: 'jwt', user, secret };
  return { kind: 'password', user, secret };
}

/**
 * A compact JWS: three base64url parts, the header starting "eyJ" (`{"`).
 * A loop, not a regexp, as in isBase64. A password of this shape is still
 * checked as a password when OIDC is off (see Authenticator).
 */
export function isJwt(s: string): boolean {
  if (!s.startsWith('eyJ')) return false;
  let dots = 0;
  let partLength = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (partLength === 0) return false;
      dots++;
      partLength = 0;
      continue;
    }
    const ok = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95;
    if (!ok) return false;
    partLength++;
  }
  return dots === 2; // an empty signature (alg none) still reaches the verifier, which refuses it
}

/** /^[A-Za-z0-9+/]+={0,2}$/ without a regexp (see isToken: the header carries a secret). */
function isBase64(s: string): boolean {
  let end = s.length;
  if (s.endsWith('==')) end -= 2;
  else if (s.endsWith('=')) end -= 1;
  if (end === 0) return false;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
    if (!ok) return false;
  }
  return true;
}
