// Where replicas keep failed-login records (lockout.ts): Redis counters when
// auth.redis_url is set (one atomic MULTI per failure, expiring by themselves),
// else one small object per IP in the shared store, counted with
// compare-and-swap so concurrent failures on different replicas all count.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { StorageDriver } from '../storage/driver.js';
import { FORGET_MS, type Rec, type SharedFailures } from './lockout.js';

/** tries of one conditional update before giving up (the failure is still counted locally) */
const CAS_ATTEMPTS = 20;

/** An IP is not a secret, but keys stay short and uniform (IPv6 colons, zones). */
const ipKey = (ip: string) => createHash('sha256').update(ip).digest('hex').slice(0, 32);

export class RedisFailures implements SharedFailures {
  constructor(private readonly redis: Redis) {}

  private key(ip: string): string {
    return `nora:lockout:${ipKey(ip)}`;
  }

  async add(ip: string, now: number): Promise<Rec> {
    const k = this.key(ip);
    const res = await this.redis.multi().hincrby(k, 'failures', 1).hset(k, 'last', now).pexpire(k, FORGET_MS).exec();
    const [err, failures] = res?.[0] ?? [new Error('redis transaction discarded'), 0];
    if (err) throw err;
    return { failures: Number(failures), last: now };
  }

  async get(ip: string): Promise<Rec | null> {
    const h = await this.redis.hgetall(this.key(ip));
    const failures = Number(h.failures);
    return failures > 0 ? { failures, last: Number(h.last) || 0 } : null;
  }

  async clear(ip: string): Promise<void> {
    await this.redis.del(this.key(ip));
  }
}

export class StoreFailures implements SharedFailures {
  constructor(
    private readonly storage: StorageDriver,
    private readonly now: () => number = Date.now,
  ) {}

  private key(ip: string): string {
    return `lockout/${ipKey(ip)}.json`;
  }

  private async read(ip: string): Promise<{ rec: Rec | null; version: string | null }> {
    const got = await this.storage.get(this.key(ip));
    if (got === null) return { rec: null, version: null };
    let rec: Rec | null = null;
    try {
      const o = JSON.parse(got.data.toString('utf8')) as Rec;
      if (Number.isInteger(o.failures) && Number.isFinite(o.last) && this.now() - o.last < FORGET_MS) rec = { failures: o.failures, last: o.last };
    } catch {
      // unreadable: counted afresh (and overwritten by the next failure)
    }
    return { rec, version: got.version };
  }

  async add(ip: string, now: number): Promise<Rec> {
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      const { rec, version } = await this.read(ip);
      const next = { failures: (rec?.failures ?? 0) + 1, last: now };
      const cond = version === null ? { ifAbsent: true as const } : { ifMatch: version };
      if ((await this.storage.put(this.key(ip), JSON.stringify(next), cond)) !== null) return next;
    }
    throw new Error('lockout record changed concurrently too often');
  }

  async get(ip: string): Promise<Rec | null> {
    return (await this.read(ip)).rec;
  }

  async clear(ip: string): Promise<void> {
    await this.storage.delete(this.key(ip));
  }
}
