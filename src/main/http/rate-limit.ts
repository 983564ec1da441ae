// Request-rate limits ([rate_limit], NORA's keys): one token bucket per caller
// and class. The caller is the authenticated identity when there is one (a
// NATed CI fleet is one IP but many identities), else the client IP (as
// ClientIp resolves it behind trusted proxies). Classes: `auth` for the token
// API (it takes passwords in the body), `upload` for writes, `general` for
// reads; /health, /ready and /metrics are never limited. Refills are computed
// lazily from the time of the last take, so an idle bucket costs nothing but
// its entry; buckets that have refilled completely are dropped by a sweep, and
// the table is capped, so memory stays bounded whoever sends requests.
import type { Config } from '../config.js';
import type { Identity } from '../auth/types.js';
import type { Metrics } from '../metrics.js';
import { HttpError } from '../errors.js';
import { ClientIp } from '../auth/client-ip.js';
import type { ReadView } from './types.js';

export type RateClass = 'auth' | 'upload' | 'general';

const SWEEP_MS = 30_000;
/** Most callers tracked per class; past it the oldest entry goes (that caller starts again with a full bucket). */
const MAX_BUCKETS = 100_000;

interface Bucket {
  tokens: number;
  /** ms epoch of the last refill */
  at: number;
  /** false once swept: a memo of it is stale */
  live: boolean;
}

class Buckets {
  private readonly map = new Map<string, Bucket>();
  /** the bucket of an identity object seen before: the cached-read path looks callers up without building a key */
  private readonly memo = new WeakMap<Identity, Bucket>();
  private readonly perMs: number;

  constructor(
    private readonly rps: number,
    private readonly burst: number,
  ) {
    this.perMs = rps / 1000;
  }

  get size(): number {
    return this.map.size;
  }

  /** 0 when the request may go ahead (one token taken), else the seconds until a token is there. */
  take(b: Bucket, now: number): number {
    const tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.perMs);
    b.at = now;
    if (tokens >= 1) {
      b.tokens = tokens - 1;
      return 0;
    }
    b.tokens = tokens;
    return Math.max(1, Math.ceil((1 - tokens) / this.rps));
  }

  of(key: string, now: number): Bucket {
    let b = this.map.get(key);
    if (b === undefined) {
      if (this.map.size >= MAX_BUCKETS) this.drop(this.map.keys().next().value!);
      b = { tokens: this.burst, at: now, live: true };
      this.map.set(key, b);
    }
    return b;
  }

  ofIdentity(identity: Identity, now: number): Bucket {
    const m = this.memo.get(identity);
    if (m !== undefined && m.live) return m;
    const b = this.of(`${identity.via}\n${identity.user}`, now);
    this.memo.set(identity, b);
    return b;
  }

  /** Drops the buckets that have refilled completely: a new one would be the same. */
  sweep(now: number): void {
    for (const [k, b] of this.map) if (b.tokens + (now - b.at) * this.perMs >= this.burst) this.drop(k);
  }

  private drop(key: string): void {
    const b = this.map.get(key);
    if (b !== undefined) b.live = false;
    this.map.delete(key);
  }
}

/** Callers without an identity of their own share their address's bucket. */
const byAddress = (identity: Identity) => identity.via === 'anonymous' || identity.via === 'auth-off';

export class RateLimiter {
  private readonly classes: Record<RateClass, Buckets>;
  private readonly refused: (cls: RateClass) => void;
  private readonly timer: NodeJS.Timeout;
  private readonly ips: ClientIp;

  constructor(c: Config['rate_limit'], trustedProxies: readonly string[], metrics: Metrics) {
    // Resolved here too: with auth off no gate resolves the address behind a proxy.
    this.ips = new ClientIp(trustedProxies);
    this.classes = {
      auth: new Buckets(c.auth_rps, c.auth_burst),
      upload: new Buckets(c.upload_rps, c.upload_burst),
      general: new Buckets(c.general_rps, c.general_burst),
    };
    metrics.describe('nora_rate_limited_total', 'Requests refused with 429 by the request-rate limiter, by class');
    this.refused = metrics.counterFamily('nora_rate_limited_total', ['class']);
    metrics.gauge('nora_rate_limit_buckets', () => this.tracked);
    this.timer = setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  /** Forgets callers whose buckets have refilled (run every 30 s). */
  sweep(now = Date.now()): void {
    for (const b of Object.values(this.classes)) b.sweep(now);
  }

  get tracked(): number {
    return this.classes.auth.size + this.classes.upload.size + this.classes.general.size;
  }

  /**
   * 0 to go ahead, else the Retry-After seconds. The request's address is
   * only read for callers without an identity. `count` false: the caller will
   * ask again on the path that answers the refusal (the cached-read path),
   * which counts it.
   */
  wait(cls: RateClass, identity: Identity, req: ReadView, count = true): number {
    const now = Date.now();
    const buckets = this.classes[cls];
    const b = byAddress(identity) ? buckets.of(this.ips.resolve(req), now) : buckets.ofIdentity(identity, now);
    const w = buckets.take(b, now);
    if (w > 0 && count) this.refused(cls);
    return w;
  }

  close(): void {
    clearInterval(this.timer);
  }
}

export function rateLimited(seconds: number): HttpError {
  return new HttpError('TOO_MANY_REQUESTS', `rate limit exceeded; retry after ${seconds} seconds`, { headers: { 'Retry-After': String(seconds) } });
}
