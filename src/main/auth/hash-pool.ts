// The Piscina pool that runs every bcrypt and argon2 operation off the main
// thread. One task per worker at a time, so concurrent argon2 jobs (which use
// libuv's shared threadpool) are capped at the pool size.
import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Metrics } from '../metrics.js';

/** Queued tasks beyond this are refused instead of growing memory without bound. */
const MAX_QUEUE = 4096;

export class PoolBusy extends Error {
  constructor() {
    super('credential verification backlog is full');
  }
}

async function exists(url: URL): Promise<boolean> {
  try {
    await access(fileURLToPath(url));
    return true;
  } catch {
    return false;
  }
}

/**
 * The compiled worker: next to this module when running from dist/; when the
 * TypeScript sources run directly (tests), the build output in dist/.
 */
async function workerFile(): Promise<string> {
  const candidates = [
    new URL('../../workers/hash-worker.js', import.meta.url),
    new URL('../../../dist/src/workers/hash-worker.js', import.meta.url),
  ];
  for (const c of candidates) if (await exists(c)) return c.href;
  throw new Error('hash worker not found (dist/src/workers/hash-worker.js): run `npm run build`');
}

export class HashPool {
  private readonly verified: (kind: string) => void;

  private constructor(
    private readonly pool: Piscina,
    metrics: Metrics,
  ) {
    metrics.describe('nora_auth_verifications_total', 'Credential verifications run in the hash workers, by kind');
    metrics.describe('nora_worker_pool_queue', 'Hash tasks waiting for a free worker');
    this.verified = metrics.counterFamily('nora_auth_verifications_total', ['kind']);
    metrics.gauge('nora_worker_pool_queue', () => (this.closed ? 0 : pool.queueSize));
  }

  static async create(size: number, metrics: Metrics): Promise<HashPool> {
    const pool = new Piscina({
      filename: await workerFile(),
      // One worker stays warm for the next login; more start when logins queue
      // up and leave after a minute idle (each holds ~10 MB).
      minThreads: 1,
      maxThreads: size,
      concurrentTasksPerWorker: 1,
      // The worker is plain compiled JS: don't inherit loaders (e.g. a test runner's TS hooks)
      execArgv: [],
      idleTimeout: 60_000,
      // our own admission check below refuses first; this is only a backstop
      maxQueue: MAX_QUEUE * 2,
    });
    return new HashPool(pool, metrics);
  }

  private closed = false;

  get queueSize(): number {
    return this.pool.queueSize;
  }

  private run<T>(name: string, task: object): Promise<T> {
    if (this.closed || this.pool.queueSize >= MAX_QUEUE) throw new PoolBusy();
    return this.pool.run(task, { name }) as Promise<T>;
  }

  /** Runs a verification task and counts it once it has run. */
  private async verify(kind: 'bcrypt' | 'argon2', name: string, task: object): Promise<boolean> {
    const running = this.run<boolean>(name, task);
    try {
      return await running;
    } finally {
      this.verified(kind);
    }
  }

  bcryptCompare(password: string, hash: string): Promise<boolean> {
    return this.verify('bcrypt', 'bcryptCompare', { password, hash });
  }

  async bcryptHash(password: string, cost: number): Promise<string> {
    return this.run<string>('bcryptHash', { password, cost });
  }

  argon2Verify(hash: string, password: string): Promise<boolean> {
    return this.verify('argon2', 'argon2Verify', { hash, password });
  }

  async argon2Hash(password: string): Promise<string> {
    return this.run<string>('argon2Hash', { password });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.destroy();
  }
}
