// Turns one credential into a verified identity. The hot path is a cache hit:
// one keyed SHA-256 of the Authorization header and one LRU lookup, nothing
// awaited. A miss runs one worker task shared by every concurrent request
// carrying the same credential (single-flight); only successes are cached, and
// only in memory. Failures feed the per-IP lockout and write one audit line.
// Cache and single-flight keys are digests, never the credential: a heap
// snapshot of the process holds no recent password or token.
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Identity } from './types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Credential } from './credentials.js';
import { PoolBusy, type HashPool } from './hash-pool.js';
import { Turnstile } from '../turnstile.js';
import type { Htpasswd } from './htpasswd.js';
import type { Lockout } from './lockout.js';
import { isToken, tokenId, tokenSha256 } from './token-format.js';
import type { TokenStore } from './token-store.js';
import type { OidcVerifier } from './oidc.js';

const CACHE_MAX = 10_000;
/** Requests that continue per event-loop turn after sharing one verification. */
const RESUME_SLICE = 16;

export interface Verified {
  readonly identity: Identity;
  /** ms epoch after which the credential is no longer valid (Infinity for htpasswd) */
  readonly expiresAt: number;
  /** token id (hash_prefix), for tokens */
  readonly tokenId?: string;
  /** the htpasswd hash this password was checked against; a reload that changes it evicts the entry */
  readonly hashRef?: string;
}

export type AuthFailure =
  | { readonly fail: 'locked'; readonly retryAfter: number }
  | { readonly fail: 'invalid'; readonly message: string }
  | { readonly fail: 'busy' };

type Reason = 'password' | 'token' | 'expired' | 'owner' | 'token_as_password' | 'oidc';
type Outcome =
  | { ok: true; v: Verified; cacheable: boolean }
  | { ok: false; reason: Reason; id?: string; detail?: string; provider?: string };

const MESSAGES: Record<Reason, string> = {
  password: 'invalid username or password',
  token: 'invalid token',
  expired: 'token expired',
  owner: 'invalid token',
  token_as_password: 'invalid credentials: token management takes the htpasswd password, not an API token',
  oidc: 'invalid or expired token',
};

export class Authenticator {
  private readonly cache: LRUCache<string, Verified> | null;
  /** keyed by the credential's canonical digest */
  private readonly inflight = new Map<string, Promise<Outcome>>();
  /** per-authenticator random prefix of every digest, so keys reveal nothing outside this process */
  private readonly salt = randomBytes(16).toString('base64url');
  private readonly resume = new Turnstile(RESUME_SLICE);
  private dummy: { cost: number; hash: Promise<string> } | null = null;
  private readonly hits: () => void;
  private readonly misses: () => void;

  constructor(
    private readonly htpasswd: Htpasswd,
    private readonly store: TokenStore,
    private readonly pool: HashPool,
    readonly lockout: Lockout,
    cacheTtlSecs: number,
    private readonly log: Logger,
    metrics: Metrics,
    /** workload-identity tokens, when [auth.oidc] is on with a provider */
    private readonly oidc: OidcVerifier | null = null,
  ) {
    this.cache = cacheTtlSecs > 0 ? new LRUCache<string, Verified>({ max: CACHE_MAX, ttl: cacheTtlSecs * 1000 }) : null;
    metrics.describe('nora_auth_cache_hits_total', 'Requests whose credentials were found in the verified-credential cache');
    metrics.describe('nora_auth_cache_misses_total', 'Requests whose credentials had to be verified');
    this.hits = metrics.counterFamily('nora_auth_cache_hits_total', []);
    this.misses = metrics.counterFamily('nora_auth_cache_misses_total', []);
  }

  /** Prepares the dummy hash unknown users are checked against. */
  async prepare(): Promise<void> {
    await this.dummyHash();
  }

  /**
   * The cache key of a header or canonical credential: SHA-256 over the salt
   * and the text, one crypto.hash call (an HMAC costs several times more; a
   * fixed-length prefix is enough for a key that never leaves the process).
   */
  private digest(text: string): string {
    return hash('sha256', this.salt + text, 'base64');
  }

  /** A cached verification under this digest, or undefined. The caller must already know the client is not locked out. */
  private cached(key: string): Verified | undefined {
    const v = this.cache?.get(key);
    if (v === undefined) return undefined;
    if (v.expiresAt < Date.now()) {
      this.cache!.delete(key);
      return undefined;
    }
    this.hits();
    if (v.tokenId !== undefined) this.store.touch(v.tokenId);
    return v;
  }

  /**
   * The cache-hit half of authenticate(), for the server's synchronous path.
   * `ip` is only called when some client has failed logins on record.
   */
  quick(header: string, ip: () => string): Verified | undefined {
    if (this.cache === null) return undefined;
    if (!this.lockout.active) return this.cached(this.digest(header));
    const addr = ip();
    if (this.lockout.retryAfter(addr) > 0) return undefined;
    const v = this.cached(this.digest(header));
    if (v !== undefined) this.lockout.success(addr);
    return v;
  }

  /**
   * Verifies a credential for a client IP. `header` is the Authorization
   * header it came in, absent for credentials from a request body. Returns
   * synchronously on a cache hit or a lockout; throws TokenStoreError if the
   * token store cannot be read.
   */
  authenticate(cred: Credential, ip: string, header?: string): Verified | AuthFailure | Promise<Verified | AuthFailure> {
    const wait = this.lockout.retryAfter(ip);
    if (wait > 0) return { fail: 'locked', retryAfter: wait };
    const byHeader = header === undefined || this.cache === null ? undefined : this.digest(header);
    let hit = byHeader === undefined ? undefined : this.cached(byHeader);
    let byCredential: string | undefined;
    if (hit === undefined && this.cache !== null) {
      // Another spelling of a verified credential (Bearer vs Basic token, a
      // token under another user name): remember this spelling too.
      byCredential = this.digest(canonical(cred));
      if ((hit = this.cached(byCredential)) !== undefined && byHeader !== undefined) this.cache.set(byHeader, hit);
    }
    if (hit !== undefined) {
      this.lockout.success(ip);
      return hit;
    }
    this.misses();
    return this.slow(cred, byCredential ?? this.digest(canonical(cred)), byHeader, ip);
  }

  /**
   * Refuses a credential of a kind this route does not take (an API token in
   * the token API's password field) without verifying it: it counts toward
   * the lockout like a wrong password, so a token cannot be tried for free.
   */
  refuse(cred: Credential, ip: string): AuthFailure {
    const wait = this.lockout.retryAfter(ip);
    if (wait > 0) return { fail: 'locked', retryAfter: wait };
    return this.failed(cred, ip, 'token_as_password');
  }

  private async slow(cred: Credential, byCredential: string, byHeader: string | undefined, ip: string): Promise<Verified | AuthFailure> {
    if (this.lockout.shared !== null) {
      // Failures this client made on other replicas count here too.
      await this.lockout.refresh(ip);
      const wait = this.lockout.retryAfter(ip);
      if (wait > 0) return { fail: 'locked', retryAfter: wait };
    }
    let out: Outcome;
    try {
      out = await this.shared(cred, byCredential);
    } catch (e) {
      if (e instanceof PoolBusy) return { fail: 'busy' };
      throw e;
    } finally {
      // everyone who waited on this verification is released now: a slice per turn
      await this.resume.pass();
    }
    if (!out.ok) {
      const f = this.failed(cred, ip, out.reason, out.id, out.detail, out.provider);
      // Answered only once counted where every replica looks.
      await this.lockout.recorded(ip);
      return f;
    }
    if (out.cacheable && this.cache !== null && byHeader !== undefined) this.cache.set(byHeader, out.v);
    this.succeeded(out.v, ip);
    return out.v;
  }

  /** One verification per distinct credential at a time; concurrent callers share it. */
  private shared(cred: Credential, k: string): Promise<Outcome> {
    const running = this.inflight.get(k);
    if (running !== undefined) return running;
    const p = this.verify(cred)
      .then((out) => {
        // Cached before the in-flight entry goes, so no request in between starts a second verification.
        if (out.ok && out.cacheable && this.cache !== null) this.cache.set(k, out.v);
        return out;
      })
      .finally(() => {
        if (this.inflight.get(k) === p) this.inflight.delete(k);
      });
    this.inflight.set(k, p);
    return p;
  }

  private async verify(cred: Credential): Promise<Outcome> {
    if (cred.kind === 'jwt') {
      if (this.oidc !== null) return this.verifyJwt(cred.secret);
      // OIDC off: a JWT-shaped Basic password is just a password.
      cred = { ...cred, kind: cred.user === '' ? 'token' : 'password' };
    }
    return cred.kind === 'password' ? this.verifyPassword(cred) : this.verifyToken(cred.secret);
  }

  /** Cached until the token's exp, never longer (the cache TTL may end it sooner). */
  private async verifyJwt(jwt: string): Promise<Outcome> {
    const r = await this.oidc!.verify(jwt);
    if (!r.ok) return { ok: false, reason: 'oidc', detail: r.detail, provider: r.provider };
    return { ok: true, cacheable: true, v: { identity: r.identity, expiresAt: r.expiresAt } };
  }

  private async verifyPassword(cred: Credential): Promise<Outcome> {
    const hash = this.htpasswd.get(cred.user);
    // Unknown users cost one bcrypt too, so timing does not reveal who exists.
    const ok = await this.pool.bcryptCompare(cred.secret, hash ?? (await this.dummyHash()));
    // The entry must still be the one we checked (the file may have been reloaded meanwhile).
    if (!ok || hash === undefined || this.htpasswd.get(cred.user) !== hash) return { ok: false, reason: 'password' };
    const identity: Identity = Object.freeze({ user: cred.user, role: 'write', via: 'htpasswd' });
    return { ok: true, cacheable: true, v: { identity, expiresAt: Number.POSITIVE_INFINITY, hashRef: hash } };
  }

  private async verifyToken(token: string): Promise<Outcome> {
    if (!isToken(token)) return { ok: false, reason: 'token' };
    const id = tokenId(token);
    const epoch = this.store.epoch;
    const rec = await this.store.read(id);
    if (rec === null) return { ok: false, reason: 'token' };
    let ok: boolean;
    if (rec.token_hash.startsWith('$argon2')) {
      ok = await this.pool.argon2Verify(rec.token_hash, token);
    } else {
      // NORA's legacy format: unsalted SHA-256 hex; upgraded to Argon2id on first use.
      ok = /^[0-9a-f]{64}$/.test(rec.token_hash) && timingSafeEqual(Buffer.from(rec.token_hash, 'hex'), tokenSha256(token));
      if (ok) await this.upgradeLegacy(id, token);
    }
    if (!ok) return { ok: false, reason: 'token', id };
    if (Date.now() > rec.expires_at * 1000) return { ok: false, reason: 'expired', id };
    // Tokens of a user removed from htpasswd stop working with the user.
    if (!this.htpasswd.has(rec.user)) return { ok: false, reason: 'owner', id };
    const identity: Identity = Object.freeze({ user: rec.user, role: rec.role, via: 'token', tokenPrefix: id });
    return { ok: true, cacheable: this.store.epoch === epoch, v: { identity, expiresAt: rec.expires_at * 1000, tokenId: id } };
  }

  private async upgradeLegacy(id: string, token: string): Promise<void> {
    try {
      const rec = await this.store.read(id);
      if (rec === null) return;
      const { id: _id, ...fields } = rec;
      await this.store.replace(id, { ...fields, token_hash: await this.pool.argon2Hash(token) });
      this.log.info('legacy token hash upgraded to argon2id', { token_prefix: id });
    } catch (e) {
      this.log.warn('legacy token hash not upgraded', { token_prefix: id, error: (e as Error).message });
    }
  }

  private dummyHash(): Promise<string> {
    const cost = this.htpasswd.maxCost();
    if (this.dummy === null || this.dummy.cost !== cost) {
      const hash = this.pool.bcryptHash(randomBytes(18).toString('base64'), cost);
      this.dummy = { cost, hash };
      hash.catch(() => {
        if (this.dummy?.hash === hash) this.dummy = null;
      });
    }
    return this.dummy.hash;
  }

  private succeeded(v: Verified, ip: string): void {
    this.lockout.success(ip);
    if (v.tokenId !== undefined) this.store.touch(v.tokenId);
  }

  private failed(cred: Credential, ip: string, reason: Reason, id?: string, detail?: string, provider?: string): AuthFailure {
    const { failures, lockedFor } = this.lockout.failure(ip);
    this.log.warn('auth failure', {
      event: 'auth_failure',
      kind: cred.kind === 'password' ? 'htpasswd' : cred.kind === 'jwt' && this.oidc !== null ? 'oidc' : 'token',
      user: cred.kind === 'password' ? cred.user : undefined,
      token_prefix: id,
      reason,
      provider,
      detail,
      ip,
      failures,
    });
    if (lockedFor > 0) this.log.warn('auth lockout', { event: 'auth_lockout', ip, failures, lock_seconds: lockedFor });
    return { fail: 'invalid', message: MESSAGES[reason] };
  }

  /**
   * A digest of the user's current htpasswd entry, null when there is none:
   * a sign-in session remembers it, and ends when a password change or a
   * removal changes it (as the cache drops its entries).
   */
  passwordStamp(user: string): string | null {
    const h = this.htpasswd.get(user);
    // Unsalted, so every replica and restart computes the same stamp for a stored session.
    return h === undefined ? null : hash('sha256', h, 'base64url');
  }

  /** After an htpasswd reload: drop entries of changed or removed users, and tokens of removed owners. */
  usersChanged(changed: Set<string>): void {
    void this.dummyHash().catch(() => {});
    this.evict((v) => (v.tokenId === undefined ? changed.has(v.identity.user) : !this.htpasswd.has(v.identity.user)));
  }

  /** After a revoke: the token stops working on the next request. */
  tokenRevoked(id: string): void {
    this.evict((v) => v.tokenId === id);
  }

  /** After missed invalidations (Redis was away): everything is verified afresh. */
  forgetAll(): void {
    this.cache?.clear();
  }

  private evict(match: (v: Verified) => boolean): void {
    if (this.cache === null) return;
    const doomed: string[] = [];
    for (const [k, v] of this.cache.entries()) if (match(v)) doomed.push(k);
    for (const k of doomed) this.cache.delete(k);
  }
}

/**
 * One string per credential, whatever header spelling carried it (digested
 * before use). A token authenticates by itself, so the user name beside it is
 * left out; the user's length keeps (user, password) pairs unambiguous
 * whatever they contain. Header values hold no newline, so it never equals one.
 */
function canonical(cred: Credential): string {
  if (cred.kind === 'password') return `\np${cred.user.length}:${cred.user}${cred.secret}`;
  return cred.kind === 'token' ? `\nt:${cred.secret}` : `\nj:${cred.secret}`;
}
