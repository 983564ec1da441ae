// Who a caller is and what a request needs of them. A leaf module: the auth
// gate, the policy, the token service and the Protocol contract all depend on
// these types, so they depend on nothing.

export type Role = 'read' | 'write' | 'admin';

export interface Identity {
  user: string;
  role: Role;
  /** how the caller proved who they are */
  via: 'anonymous' | 'htpasswd' | 'token' | 'oidc' | 'auth-off';
  /** first hex characters of the token's hash id, when via = token */
  tokenPrefix?: string;
  /** the repositories / packages an OIDC identity may write; absent = wherever its role allows */
  scope?: WriteScope;
}

/** A restriction of writes to some names (auth/namespace-scope.ts). */
export interface WriteScope {
  /** the OIDC provider whose rules made it (metrics label) */
  readonly provider: string;
  /** true: a write outside the scope is allowed, but logged and counted */
  readonly audit: boolean;
  allows(name: string): boolean;
}

/** The kind of operation a request performs. `public` skips authentication entirely. */
export type Access = 'public' | 'read' | 'write' | 'delete' | 'admin';

/** What an operation concerns: a Docker repository or a package of a format. */
export interface Resource {
  readonly kind: 'repository' | 'package';
  /** the repository or package name as the format spells it (e.g. "library/alpine", "@scope/pkg") */
  readonly name: string;
}

/**
 * What a request (or one step of it, such as reading a mount's source
 * repository) needs from the caller. `resource` is absent for operations on
 * the registry as a whole (the /v2/ ping, the catalog, search, metrics).
 */
export interface Requirement {
  readonly access: Access;
  readonly resource?: Resource;
}
