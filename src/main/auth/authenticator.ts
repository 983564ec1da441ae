// Turns one credential into a verified identity. The hot path is a cache hit:
// an HMAC of the credential, one LRU lookup, a constant-time digest compare —
// nothing awaited. A miss runs one worker task shared by every concurrent
// request carrying the same credential (single-flight); only successes are
// cached. Failures feed the per-IP lockout and write one audit line.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Identity } from '../http/types.js';
import { log } from '../log.js';
import { describe, inc } from '../metrics.js';
import type { Credential } from './credentials.js';
import { PoolBusy, type HashPool } from './hash-pool.js';
import type { Htpasswd } from './htpasswd.js';
import type { Lockout } from './lockout.js';
import { TOKEN_RE, tokenId, tokenSha256 } from './token-format.js';
import type { TokenStore } from './token-store.js';

const CACHE_MAX = 10_000;
/** LRU key = this many leading bytes of the HMAC; the entry keeps all 32 for the constant-time check */
const KEY_BYTES = 18;

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

type Reason = 'password' | 'token' | 'expired' | 'owner';
type Outcome =
  | { ok: true; v: Verified; cacheable: boolean }
  | { ok: false; reason: Reason; id?: string };

interface Entry {
  mac: Buffer;
  v: Verified;
}

const MESSAGES: Record<Reason, string> = {
  password: 'invalid username or password',
  token: 'invalid token',
  expired: 'token expired',
  owner: 'invalid token',
};

describe('nora_auth_cache_hits_total', 'Requests whose credentials were found in the verified-credential cache');
describe('nora_auth_cache_misses_total', 'Requests whose credentials had to be verified');

export class Authenticator {
  private readonly key = randomBytes(32);
  private readonly cache: LRUCache<string, Entry> | null;
  private readonly inflight = new Map<string, { mac: Buffer; p: Promise<Outcome> }>();
  private dummy: { cost: number; hash: Promise<string> } | null = null;

  constructor(
    private readonly htpasswd: Htpasswd,
    private readonly store: TokenStore,
    private readonly pool: HashPool,
    readonly lockout: Lockout,
    cacheTtlSecs: number,
  ) {
    this.cache = cacheTtlSecs > 0 ? new LRUCache<string, Entry>({ max: CACHE_MAX, ttl: cacheTtlSecs * 1000 }) : null;
  }

  /** Prepares the dummy hash unknown users are checked against. */
  async prepare(): Promise<void> {
    await this.dummyHash();
  }

  /**
   * Verifies a credential for a client IP. Returns synchronously on a cache hit
   * or a lockout; throws TokenStoreError if the token store cannot be read.
   */
  authenticate(cred: Credential, ip: string): Verified | AuthFailure | Promise<Verified | AuthFailure> {
    const wait = this.lockout.retryAfter(ip);
    if (wait > 0) return { fail: 'locked', retryAfter: wait };
    const mac = this.mac(cred);
    const k = mac.toString('base64', 0, KEY_BYTES);
    if (this.cache !== null) {
      const hit = this.cache.get(k);
      if (hit !== undefined && timingSafeEqual(hit.mac, mac)) {
        if (hit.v.expiresAt >= Date.now()) {
          inc('nora_auth_cache_hits_total');
          this.succeeded(hit.v, ip);
          return hit.v;
        }
        this.cache.delete(k);
      }
    }
    inc('nora_auth_cache_misses_total');
    return this.slow(cred, mac, k, ip);
  }

  private mac(cred: Credential): Buffer {
    // A token authenticates by itself: whatever user name accompanies it shares the entry.
    // The user's length keeps (user, password) pairs unambiguous whatever they contain.
    const text = cred.kind === 'token' ? `t:${cred.secret}` : `p${cred.user.length}:${cred.user}${cred.secret}`;
    return createHmac('sha256', this.key).update(text).digest();
  }

  private async slow(cred: Credential, mac: Buffer, k: string, ip: string): Promise<Verified | AuthFailure> {
    let out: Outcome;
    try {
      out = await this.shared(cred, mac, k);
    } catch (e) {
      if (e instanceof PoolBusy) return { fail: 'busy' };
      throw e;
    }
    if (!out.ok) return this.failed(cred, ip, out.reason, out.id);
    this.succeeded(out.v, ip);
    return out.v;
  }

  /** One verification per distinct credential at a time; concurrent callers share it. */
  private shared(cred: Credential, mac: Buffer, k: string): Promise<Outcome> {
    const running = this.inflight.get(k);
    if (running !== undefined && timingSafeEqual(running.mac, mac)) return running.p;
    const p = this.verify(cred)
      .then((out) => {
        if (out.ok && out.cacheable && this.cache !== null) this.cache.set(k, { mac, v: out.v });
        return out;
      })
      .finally(() => {
        if (this.inflight.get(k)?.p === p) this.inflight.delete(k);
      });
    this.inflight.set(k, { mac, p });
    return p;
  }

  private async verify(cred: Credential): Promise<Outcome> {
    return cred.kind === 'password' ? this.verifyPassword(cred) : this.verifyToken(cred.secret);
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
    if (!TOKEN_RE.test(token)) return { ok: false, reason: 'token' };
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
      log.info('legacy token hash upgraded to argon2id', { token_prefix: id });
    } catch (e) {
      log.warn('legacy token hash not upgraded', { token_prefix: id, error: (e as Error).message });
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

  private failed(cred: Credential, ip: string, reason: Reason, id?: string): AuthFailure {
    const { failures, lockedFor } = this.lockout.failure(ip);
    log.warn('auth failure', {
      event: 'auth_failure',
      kind: cred.kind === 'password' ? 'htpasswd' : 'token',
      user: cred.kind === 'password' ? cred.user : undefined,
      token_prefix: id,
      reason,
      ip,
      failures,
    });
    if (lockedFor > 0) log.warn('auth lockout', { event: 'auth_lockout', ip, failures, lock_seconds: lockedFor });
    return { fail: 'invalid', message: MESSAGES[reason] };
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

  private evict(match: (v: Verified) => boolean): void {
    if (this.cache === null) return;
    const doomed: string[] = [];
    for (const [k, e] of this.cache.entries()) if (match(e.v)) doomed.push(k);
    for (const k of doomed) this.cache.delete(k);
  }
}
