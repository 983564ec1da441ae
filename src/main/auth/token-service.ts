// Token management behind the token HTTP API: who the caller is (htpasswd user
// or API token, checked through the same cache, lockout and audit as every
// other login), and create / list / revoke with the role rules:
// only users in admin_users may mint admin tokens, a token never mints a token
// of a higher role or one that outlives it, admins see and revoke every token.
import type { Role } from '../http/types.js';
import { log } from '../log.js';
import type { Authenticator } from './authenticator.js';
import type { HashPool } from './hash-pool.js';
import { PoolBusy } from './hash-pool.js';
import { ROLE_RANK } from './policy.js';
import { newToken, TOKEN_ID_RE, TOKEN_RE, tokenId } from './token-format.js';
import { TokenStoreError, type TokenStore } from './token-store.js';

export interface Caller {
  user: string;
  role: Role;
  via: 'htpasswd' | 'token';
  /** sees and revokes every token */
  admin: boolean;
  /** for token callers: its id and expiry (unix seconds) */
  tokenId?: string;
  tokenExpiresAt?: number;
}

/** A refusal the API renders as {"error": message}. */
export class ServiceError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface TokenInfo {
  hash_prefix: string;
  created_at: number;
  expires_at: number;
  last_used: number | null;
  description: string | null;
  role: Role;
  /** owner, only in an admin's listing (which spans users) */
  user?: string;
}

const DAY = 86_400;

export class TokenService {
  constructor(
    private readonly auth: Authenticator,
    private readonly store: TokenStore,
    private readonly pool: HashPool,
    private readonly adminUsers: ReadonlySet<string>,
  ) {}

  /** Checks body credentials (password, or an API token as the password). */
  async login(username: string, password: string, ip: string): Promise<Caller> {
    const cred = TOKEN_RE.test(password)
      ? { kind: 'token' as const, user: username, secret: password }
      : { kind: 'password' as const, user: username, secret: password };
    let r;
    try {
      r = this.auth.authenticate(cred, ip);
      if (r instanceof Promise) r = await r;
    } catch (e) {
      if (e instanceof TokenStoreError) throw new ServiceError(503, 'token storage unavailable');
      throw e;
    }
    if ('fail' in r) {
      if (r.fail === 'locked')
        throw new ServiceError(429, `too many failed login attempts; retry after ${r.retryAfter} seconds`, { 'Retry-After': String(r.retryAfter) });
      if (r.fail === 'busy') throw new ServiceError(429, 'too many logins being verified; retry shortly', { 'Retry-After': '1' });
      throw new ServiceError(401, 'invalid credentials');
    }
    const id = r.identity;
    if (id.via === 'token') {
      return { user: id.user, role: id.role, via: 'token', admin: id.role === 'admin', tokenId: r.tokenId, tokenExpiresAt: r.expiresAt / 1000 };
    }
    return { user: id.user, role: id.role, via: 'htpasswd', admin: this.adminUsers.has(id.user) };
  }

  async create(caller: Caller, role: Role, ttlDays: number, description: string | null, ip: string): Promise<{ token: string; expires_in_days: number }> {
    const ceiling: Role = caller.via === 'token' ? caller.role : caller.admin ? 'admin' : 'write';
    if (ROLE_RANK[role] > ROLE_RANK[ceiling]) {
      this.refused('token_create', caller, ip, `role ${role} above ${ceiling}`);
      if (caller.via === 'token') throw new ServiceError(403, `a ${caller.role} token cannot create a ${role} token`);
      throw new ServiceError(403, 'admin role is not permitted for this account; add it to auth.admin_users');
    }
    const now = Math.floor(Date.now() / 1000);
    const expires = now + ttlDays * DAY;
    if (caller.tokenExpiresAt !== undefined && expires > caller.tokenExpiresAt) {
      const left = Math.max(0, Math.floor((caller.tokenExpiresAt - now) / DAY));
      throw new ServiceError(422, `ttl_days: a token cannot create a token that outlives it (at most ${left} days here)`);
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const token = newToken();
      const id = tokenId(token);
      let hash: string;
      try {
        hash = await this.pool.argon2Hash(token);
      } catch (e) {
        if (e instanceof PoolBusy) throw new ServiceError(503, 'server busy; retry shortly', { 'Retry-After': '1' });
        throw e;
      }
      const rec = { token_hash: hash, user: caller.user, created_at: now, expires_at: expires, last_used: null, description, role };
      if (await this.store.create(id, rec)) {
        log.info('token created', {
          event: 'token_create', user: caller.user, via: caller.via, by_token: caller.tokenId, role, token_prefix: id, expires_at: expires, ip,
        });
        return { token, expires_in_days: ttlDays };
      }
    }
    throw new Error('could not allocate a unique token id');
  }

  async list(caller: Caller, ip: string): Promise<{ tokens: TokenInfo[] }> {
    const all = await this.store.list();
    const visible = caller.admin ? all : all.filter((t) => t.user === caller.user);
    log.info('tokens listed', { event: 'token_list', user: caller.user, via: caller.via, scope: caller.admin ? 'all' : 'own', count: visible.length, ip });
    return {
      tokens: visible.map((t) => {
        const info: TokenInfo = {
          hash_prefix: t.id,
          created_at: t.created_at,
          expires_at: t.expires_at,
          last_used: t.last_used,
          description: t.description,
          role: t.role,
        };
        if (caller.admin) info.user = t.user;
        return info;
      }),
    };
  }

  async revoke(caller: Caller, hashPrefix: string, ip: string): Promise<{ revoked: string }> {
    let rec;
    try {
      rec = await this.store.read(hashPrefix);
    } catch (e) {
      if (e instanceof TokenStoreError) rec = caller.admin ? { user: caller.user } : null; // a corrupt file: only an admin may remove it
      else throw e;
    }
    // Someone else's token answers exactly like a missing one.
    if (rec === null || (!caller.admin && rec.user !== caller.user) || !(await this.store.remove(hashPrefix))) {
      this.refused('token_revoke', caller, ip, 'not found', TOKEN_ID_RE.test(hashPrefix) ? hashPrefix : undefined);
      throw new ServiceError(404, 'token not found');
    }
    this.auth.tokenRevoked(hashPrefix);
    log.info('token revoked', { event: 'token_revoke', user: caller.user, via: caller.via, owner: rec.user, token_prefix: hashPrefix, ip });
    return { revoked: hashPrefix };
  }

  private refused(event: string, caller: Caller, ip: string, reason: string, prefix?: string): void {
    log.warn('token request refused', { event, user: caller.user, via: caller.via, reason, token_prefix: prefix, ip });
  }
}
