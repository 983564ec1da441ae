// Who may do what: roles against the access a request needs, and when no
// credentials are needed at all. A role grants its access to every repository
// and package (as in NORA), except that an OIDC identity's writes are bounded
// by its namespace scope (reads never are): the requirement's resource names
// what a write concerns.
import type { Config } from '../config.js';
import type { Access, Identity, Requirement, Role } from './types.js';

export const ROLE_RANK: Readonly<Record<Role, number>> = { read: 1, write: 2, admin: 3 };

/** read pulls; write also pushes and deletes; admin also does admin operations. */
const NEEDED: Readonly<Record<Access, number>> = { public: 0, read: 1, write: 2, delete: 2, admin: 3 };

export function allows(role: Role, access: Access): boolean {
  return ROLE_RANK[role] >= NEEDED[access];
}

/** Reads of a format's content without credentials: Docker's open with either setting, the others with anonymous_read. */
function anonymousReads(auth: Config['auth'], access: Access, format: string): boolean {
  return access === 'read' && (format === 'docker' ? auth.docker_anon_pull || auth.anonymous_read : auth.anonymous_read);
}

/**
 * Reads without credentials. anonymous_read opens reads on every format; for
 * Docker the /v2/ ping still challenges (so `docker login` checks the password
 * and clients learn the Basic scheme) unless docker_anon_pull is on, which opens
 * Docker reads including the ping. /v2/_catalog always needs credentials.
 */
export function anonymousAllowed(auth: Config['auth'], access: Access, format: string, path: string): boolean {
  if (format === 'docker' && (path === '/v2/_catalog' || (!auth.docker_anon_pull && (path === '/v2/' || path === '/v2')))) return false;
  return anonymousReads(auth, access, format);
}

/**
 * Whether a caller the gate has admitted may also do `need`, a second step of
 * the same request (reading a blob mount's source repository). An anonymous
 * caller may read wherever anonymous reads of the format are open.
 */
export function permits(auth: Config['auth'], identity: Identity, need: Requirement, format: string): boolean {
  if (need.access === 'public') return true;
  if (identity.via === 'anonymous') return anonymousReads(auth, need.access, format);
  return allows(identity.role, need.access);
}

/**
 * Whether a scoped identity may do `need`: undefined when no scope applies
 * (no scope, a read, or a write whose target the URL does not name: a PyPI
 * upload names its project in the body, and its handler asks permits() again
 * once it knows), else whether the named resource is inside the scope.
 */
export function scopeAllows(identity: Identity, need: Requirement): boolean | undefined {
  if (identity.scope === undefined || NEEDED[need.access] < NEEDED.write || need.resource === undefined) return undefined;
  return identity.scope.allows(need.resource.name);
}
