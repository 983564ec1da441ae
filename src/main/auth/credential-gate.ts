// The auth gate when auth is enabled: resolves the client IP, reads the
// credential, authenticates it (cache first), and checks the role against the
// access the request needs. Refusals are HttpErrors the server renders in
// the format's own error shape.
import type { ReadView, Req } from '../http/types.js';
import { HttpError } from '../errors.js';
import type { Config } from '../config.js';
import type { AuthGate, RedisState } from './gate.js';
import type { Access, Identity, Requirement, Role } from './types.js';
import type { Authenticator, AuthFailure } from './authenticator.js';
import type { ClientIp } from './client-ip.js';
import { parseAuthorization } from './credentials.js';
import { allows, anonymousAllowed, permits, scopeAllows } from './policy.js';
import { TokenStoreError } from './token-store.js';
import type { TokenService } from './token-service.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

const ANONYMOUS: Identity = Object.freeze({ user: 'anonymous', role: 'read', via: 'anonymous' });

function unauthorized(challenge: Readonly<Record<string, string>>, message: string): HttpError {
  return new HttpError('UNAUTHORIZED', message, { headers: challenge });
}

export class CredentialGate implements AuthGate {
  readonly enabled = true;
  private readonly challenge: Readonly<Record<string, string>>;
  private readonly required: HttpError;
  private readonly malformed: HttpError;
  private readonly unsupported: HttpError;
  private readonly scopeDecisions: (provider: string, decision: string) => void;

  constructor(
    private readonly auth: Config['auth'],
    realm: string,
    private readonly ips: ClientIp,
    private readonly authenticator: Authenticator,
    readonly tokens: TokenService,
    readonly ready: () => Promise<void>,
    readonly redis: () => RedisState,
    private readonly onClose: () => Promise<void>,
    private readonly log: Logger,
    metrics: Metrics,
  ) {
    metrics.describe('nora_auth_namespace_scope_total', 'OIDC writes checked against the namespace scope, by provider and decision (allow, deny, audit)');
    this.scopeDecisions = metrics.counterFamily('nora_auth_namespace_scope_total', ['provider', 'decision']);
    this.challenge = Object.freeze({ 'WWW-Authenticate': `Basic realm="${realm.replace(/["\\]/g, '')}"` });
    this.required = unauthorized(this.challenge, 'authentication required');
    this.malformed = unauthorized(this.challenge, 'malformed Basic credentials');
    this.unsupported = unauthorized(this.challenge, 'unsupported Authorization scheme (use Basic, or Bearer with an nra_ token or an OIDC token)');
  }

  async check(req: Req, need: Requirement, format: string): Promise<HttpError | null> {
    const access = need.access;
    req.clientIp = this.ips.resolve(req);
    if (access === 'public') {
      req.identity = ANONYMOUS;
      return null;
    }
    const now = this.quick(req, access, format);
    if (now !== undefined) {
      req.identity = now;
      return null;
    }
    const cred = parseAuthorization(req.headers.authorization);
    if (typeof cred === 'string') {
      if (cred === 'none' && anonymousAllowed(this.auth, access, format, req.path)) {
        req.identity = ANONYMOUS;
        return null;
      }
      return cred === 'none' ? this.required : cred === 'malformed' ? this.malformed : this.unsupported;
    }
    let r;
    try {
      r = this.authenticator.authenticate(cred, req.clientIp, req.headers.authorization);
      if (r instanceof Promise) r = await r;
    } catch (e) {
      if (e instanceof TokenStoreError) throw new HttpError('UNAVAILABLE', 'token verification unavailable');
      throw e;
    }
    if ('fail' in r) return this.denial(r);
    req.identity = r.identity;
    if (!allows(r.identity.role, access)) return forbidden(r.identity.role, access);
    return this.scoped(r.identity, need);
  }

  /** NORA's namespace scope on an OIDC identity's writes: refused (403), or allowed and logged in audit mode. */
  private scoped(identity: Identity, need: Requirement): HttpError | null {
    const inside = scopeAllows(identity, need);
    if (inside === undefined) return null;
    const scope = identity.scope!;
    const decision = inside ? 'allow' : scope.audit ? 'audit' : 'deny';
    this.scopeDecisions(scope.provider, decision);
    if (inside) return null;
    const name = need.resource!.name;
    this.log.warn('OIDC write outside the namespace scope', { event: 'oidc_scope', provider: scope.provider, user: identity.user, resource: name, decision });
    if (scope.audit) return null;
    return new HttpError('DENIED', `this OIDC identity may not write ${name} (outside its namespace scope)`);
  }

  quick(req: ReadView, access: Access, format: string): Identity | undefined {
    const header = req.headers.authorization;
    if (header === undefined || header === '') {
      return anonymousAllowed(this.auth, access, format, req.path) ? ANONYMOUS : undefined;
    }
    const v = this.authenticator.quick(header, () => this.clientIp(req));
    if (v === undefined || !allows(v.identity.role, access)) return undefined;
    // A scoped write needs its resource checked: check() does that.
    return v.identity.scope !== undefined && access !== 'read' ? undefined : v.identity;
  }

  permits(identity: Identity, need: Requirement, format: string): boolean {
    return permits(this.auth, identity, need, format) && this.scoped(identity, need) === null;
  }

  clientIp(req: ReadView): string {
    return this.ips.resolve(req);
  }

  private denial(f: AuthFailure): HttpError {
    switch (f.fail) {
      case 'invalid':
        return unauthorized(this.challenge, f.message);
      case 'locked':
        return new HttpError('TOO_MANY_REQUESTS', `too many failed login attempts; retry after ${f.retryAfter} seconds`, {
          headers: { 'Retry-After': String(f.retryAfter) },
        });
      case 'busy':
        return new HttpError('TOO_MANY_REQUESTS', 'too many logins being verified; retry shortly', { headers: { 'Retry-After': '1' } });
    }
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

function forbidden(role: Role, access: Access): HttpError {
  return new HttpError('DENIED', `the ${role} role does not allow ${access} access`);
}
