// The optional Redis/Valkey connection replicas share (auth.redis_url): one
// client for commands (lockout counters) and one subscribed to the auth
// channel, where a replica announces a revoked token or changed users so every
// other replica evicts its verified-credential cache at once instead of at
// the TTL. Commands fail fast while Redis is away (no offline queue), and the
// URL, which may hold a password, is never logged.
import { Redis } from 'ioredis';
import type { Logger } from '../log.js';

const CHANNEL = 'nora:auth';

export type AuthEvent = { t: 'token'; id: string } | { t: 'users' };

export class RedisLink {
  readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly handlers: ((e: AuthEvent) => void)[] = [];
  private readonly resyncs: (() => void)[] = [];
  private down = false;

  constructor(url: string, private readonly log: Logger) {
    const opts = {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 2000,
      retryStrategy: (times: number) => Math.min(100 * times, 1000),
    };
    this.cmd = new Redis(url, opts);
    // The subscriber queues its SUBSCRIBE until connected (and resubscribes after a drop).
    this.sub = new Redis(url, { ...opts, enableOfflineQueue: true });
    for (const c of [this.cmd, this.sub]) c.on('error', (e: Error) => this.lost(e));
    void this.sub.subscribe(CHANNEL).catch((e: Error) => this.lost(e));
    this.sub.on('message', (_channel: string, text: string) => this.deliver(text));
    for (const c of [this.cmd, this.sub]) {
      c.on('ready', () => {
        if (!this.down || !this.connected) return;
        this.down = false;
        this.log.info('redis reachable again');
        // Announcements sent while we were away are lost: whoever listens starts afresh.
        for (const r of this.resyncs) r();
      });
    }
  }

  /** Both connections up (/ready fails otherwise). */
  get connected(): boolean {
    return this.cmd.status === 'ready' && this.sub.status === 'ready';
  }

  onEvent(h: (e: AuthEvent) => void): void {
    this.handlers.push(h);
  }

  /** Called when the subscription comes back after a drop (events may have been missed). */
  onResync(h: () => void): void {
    this.resyncs.push(h);
  }

  publish(e: AuthEvent): void {
    // Best effort: a replica that misses it still expires the entry at the TTL.
    this.cmd.publish(CHANNEL, JSON.stringify(e)).catch((err: Error) => this.lost(err));
  }

  private deliver(text: string): void {
    let e: AuthEvent;
    try {
      e = JSON.parse(text) as AuthEvent;
    } catch {
      return;
    }
    if (e.t !== 'token' && e.t !== 'users') return;
    if (e.t === 'token' && typeof e.id !== 'string') return;
    for (const h of this.handlers) h(e);
  }

  private lost(e: Error): void {
    if (this.down) return;
    this.down = true;
    this.log.warn('redis unreachable: revocations reach other replicas at the cache TTL, lockout counts per replica', {
      error: (e as NodeJS.ErrnoException).code ?? e.message,
    });
  }

  async close(): Promise<void> {
    this.cmd.disconnect();
    this.sub.disconnect();
  }
}
