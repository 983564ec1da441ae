// Small JSON documents changed read-modify-write (a crate's versions, a
// project's files): one update at a time per key in this process, and across
// replicas a write only if the document is unchanged since it was read (the
// driver's compare-and-swap), deciding again on what the other writer wrote.
import type { StorageDriver } from './driver.js';
import type { Logger } from '../log.js';
import { KeyedLock } from '../keyed-lock.js';
import { HttpError } from '../errors.js';

/** tries of one update against writers in other processes */
const MAX_ATTEMPTS = 8;

export interface Loaded<S> {
  state: S;
  version: string;
}

export class JsonDocuments<S> {
  private readonly lock = new KeyedLock();

  /** `valid` tells a document of this kind from a corrupt one; `what` names the kind in logs. */
  constructor(
    private readonly storage: StorageDriver,
    private readonly log: Logger,
    private readonly what: string,
    private readonly valid: (v: unknown, key: string) => v is S,
  ) {}

  async read(key: string): Promise<S | null> {
    return (await this.load(key))?.state ?? null;
  }

  async load(key: string): Promise<Loaded<S> | null> {
    const got = await this.storage.get(key);
    if (!got) return null;
    let v: unknown;
    try {
      v = JSON.parse(got.data.toString('utf8'));
    } catch {
      v = undefined;
    }
    // Never overwrite what cannot be read: report it instead.
    if (!this.valid(v, key)) {
      this.log.error(`${this.what}: corrupt stored document`, { key });
      throw new HttpError('INTERNAL', `stored ${this.what} metadata is unreadable`);
    }
    return { state: v, version: got.version };
  }

  /** Runs `fn` on the current state under the key's lock; a returned state is written, undefined leaves it. */
  async update<T>(key: string, fn: (cur: S | null) => Promise<{ state?: S; result: T }> | { state?: S; result: T }): Promise<T> {
    return this.lock.run(key, async () => {
      for (let attempt = 1; ; attempt++) {
        const got = await this.load(key);
        const { state, result } = await fn(got?.state ?? null);
        if (state === undefined) return result;
        const cond = got ? { ifMatch: got.version } : { ifAbsent: true as const };
        if ((await this.storage.put(key, JSON.stringify(state), cond)) !== null) return result;
        // Another process changed the document since it was read.
        if (attempt >= MAX_ATTEMPTS) throw new HttpError('CONFLICT', `${this.what} is being changed concurrently; try again`);
        await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
      }
    });
  }
}
