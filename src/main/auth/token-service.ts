// Token management behind the token HTTP API: who the caller is, and create /
// list / revoke with the role rules. Only the htpasswd password manages
// tokens (as NORA): an API token in the password field is refused and counts
// as a failed login, so a leaked token can neither list, revoke nor mint
// tokens (a minted token would outlive the leaked one's revocation). Only
// users in admin_users may mint admin tokens; they see and revoke every
// token. Revoke takes any unambiguous prefix of a listed hash_prefix.
import type { Role } from './types.js';
import { HttpError } from '../errors.js';
import { log as processLog, type Logger } from '../log.js';
import type { Authenticator } from './authenticator.js';
import type { HashPool } from './hash-pool.js';
import { PoolBusy } from './hash-pool.js';
import { isToken, newToken, tokenId } from './token-format.js';
import { TokenStoreError, type TokenStore } from './token-store.js';

/** An htpasswd user who proved the password. */
export interface Caller {
  user: string;
  /** in admin_users: mints admin tokens, sees and revokes every token */
  admin: boolean;
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
  /** Tells other replicas (Redis) that a token was revoked here. */
  onRevoked: ((id: string) => void) | null = null;

  constructor(
    private readonly auth: Authenticator,
    private readonly store: TokenStore,
    private readonly pool: HashPool,
    private readonly adminUsers: ReadonlySet<string>,
    private readonly log: Logger = processLog,
  ) {}

  /** The user's htpasswd entry as a digest, null once removed: changes when the password does. */
  passwordStamp(user: string): string | null {
    return this.auth.passwordStamp(user);
  }

  /** Checks body credentials: the htpasswd password only, never an API token. */
  async login(username: string, password: string, ip: string): Promise<Caller> {
    const cred = { kind: 'password' as const, user: username, secret: password };
    // A token-shaped password is never bcrypted (as on every other route).
    const tokenShaped = isToken(password);
    let r;
    try {
      r = tokenShaped ? this.auth.refuse(cred, ip) : this.auth.authenticate(cred, ip);
      if (r instanceof Promise) r = await r;
    } catch (e) {
      if (e instanceof TokenStoreError) throw new HttpError('UNAVAILABLE', 'token storage unavailable');
      throw e;
    }
    if ('fail' in r) {
      if (r.fail === 'locked')
        throw new HttpError('TOO_MANY_REQUESTS', `too many failed login attempts; retry after ${r.retryAfter} seconds`, { headers: { 'Retry-After': String(r.retryAfter) } });
      if (r.fail === 'busy') throw new HttpError('TOO_MANY_REQUESTS', 'too many logins being verified; retry shortly', { headers: { 'Retry-After': '1' } });
      throw new HttpError('UNAUTHORIZED', tokenShaped ? r.message : 'invalid credentials');
    }
    return { user: r.identity.user, admin: this.adminUsers.has(r.identity.user) };
  }

  async create(caller: Caller, role: Role, ttlDays: number, description: string | null, ip: string): Promise<{ token: string; expires_in_days: number }> {
    if (role === 'admin' && !caller.admin) {
      this.refused('token_create', caller, ip, 'admin role not permitted');
      throw new HttpError('DENIED', 'admin role is not permitted for this account; add it to auth.admin_users');
    }
    const now = Math.floor(Date.now() / 1000);
    const expires = now + ttlDays * DAY;
    for (let attempt = 0; attempt < 3; attempt++) {
      const token = newToken();
      const id = tokenId(token);
      let hash: string;
      try {
        hash = await this.pool.argon2Hash(token);
      } catch (e) {
        if (e instanceof PoolBusy) throw new HttpError('UNAVAILABLE', 'server busy; retry shortly', { headers: { 'Retry-After': '1' } });
        throw e;
      }
      const rec = { token_hash: hash, user: caller.user, created_at: now, expires_at: expires, last_used: null, description, role };
      if (await this.store.create(id, rec)) {
        this.log.info('token created', {
          event: 'token_create', user: caller.user, role, token_prefix: id, expires_at: expires, ip,
        });
        return { token, expires_in_days: ttlDays };
      }
    }
    throw new Error('could not allocate a unique token id');
  }

  async list(caller: Caller, ip: string): Promise<{ tokens: TokenInfo[] }> {
    const all = await this.store.list();
    const visible = caller.admin ? all : all.filter((t) => t.user === caller.user);
    this.log.info('tokens listed', { event: 'token_list', user: caller.user, scope: caller.admin ? 'all' : 'own', count: visible.length, ip });
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

  /**
   * Revokes the one token of the caller's (an admin: anyone's) whose id starts
   * with `prefix` (6 to 16 lowercase hex, checked by the API). Several → 409
   * saying how many; none, or a concurrent revoke won → 404.
   */
  async revoke(caller: Caller, prefix: string, ip: string): Promise<{ revoked: string }> {
    const matches = await this.revocable(caller, prefix);
    if (matches.length > 1) {
      this.refused('token_revoke', caller, ip, `ambiguous (${matches.length})`, prefix);
      throw new HttpError('CONFLICT', `hash_prefix ${prefix} matches ${matches.length} ${caller.admin ? '' : 'of your '}tokens; send more of its characters (the list shows 16)`);
    }
    const m = matches[0];
    // Someone else's token answers exactly like a missing one.
    if (m === undefined || !(await this.store.remove(m.id))) {
      this.refused('token_revoke', caller, ip, 'not found', prefix);
      throw new HttpError('NOT_FOUND', 'token not found');
    }
    this.auth.tokenRevoked(m.id);
    this.onRevoked?.(m.id);
    this.log.info('token revoked', { event: 'token_revoke', user: caller.user, owner: m.owner, token_prefix: m.id, ip });
    return { revoked: m.id };
  }

  /** The caller's tokens whose id starts with prefix; an admin's include anyone's, and unreadable files (owner unknown). */
  private async revocable(caller: Caller, prefix: string): Promise<{ id: string; owner?: string }[]> {
    const out: { id: string; owner?: string }[] = [];
    for (const id of await this.store.ids(prefix)) {
      let rec;
      try {
        rec = await this.store.read(id);
      } catch (e) {
        if (!(e instanceof TokenStoreError)) throw e;
        if (caller.admin) out.push({ id }); // a corrupt file: only an admin may remove it
        continue;
      }
      if (rec !== null && (caller.admin || rec.user === caller.user)) out.push({ id, owner: rec.user });
    }
    return out;
  }

  private refused(event: string, caller: Caller, ip: string, reason: string, prefix?: string): void {
    this.log.warn('token request refused', { event, user: caller.user, reason, token_prefix: prefix, ip });
  }
}
