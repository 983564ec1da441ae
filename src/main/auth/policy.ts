// Who may do what: roles against the access a request needs, and when no
// credentials are needed at all.
import type { Role } from '../http/types.js';
import type { Access } from '../protocol.js';
import type { Config } from '../config.js';

export const ROLE_RANK: Readonly<Record<Role, number>> = { read: 1, write: 2, admin: 3 };

/** read pulls; write also pushes and deletes; admin also does admin operations. */
const NEEDED: Readonly<Record<Access, number>> = { public: 0, read: 1, write: 2, delete: 2, admin: 3 };

export function allows(role: Role, access: Access): boolean {
  return ROLE_RANK[role] >= NEEDED[access];
}

/**
 * Reads without credentials. anonymous_read opens reads on every format; for
 * Docker the /v2/ ping still challenges (so `docker login` checks the password
 * and clients learn the Basic scheme) unless docker_anon_pull is on, which opens
 * Docker reads including the ping. /v2/_catalog always needs credentials.
 */
export function anonymousAllowed(auth: Config['auth'], access: Access, format: string, path: string): boolean {
  if (access !== 'read') return false;
  if (format !== 'docker') return auth.anonymous_read;
  if (path === '/v2/_catalog') return false;
  if (auth.docker_anon_pull) return true;
  return auth.anonymous_read && path !== '/v2/' && path !== '/v2';
}
