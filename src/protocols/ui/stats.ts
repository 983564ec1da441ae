// Figures the dashboard shows that cost a scan or a storage round trip
// (entries per format, bytes stored, the storage probe): computed at most
// once per TTL, concurrent asks sharing one computation, and served stale
// while a newer one is computed, so a dashboard never waits for a walk of a
// large store (the first view waits at most a moment, then shows "counting").
import type { Logger } from '../../main/log.js';

export class Cached<T> {
  private value: { v: T; at: number } | null = null;
  private loading: Promise<T | undefined> | null = null;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly ttlMs: number,
    private readonly log: Logger,
    private readonly what: string,
  ) {}

  /** The latest value (refreshing it in the background when older than the TTL); the first time, waits up to waitMs, then undefined. */
  async get(waitMs = 50): Promise<T | undefined> {
    if (this.value === null || Date.now() - this.value.at >= this.ttlMs) {
      this.loading ??= this.load().then(
        (v) => {
          this.value = { v, at: Date.now() };
          this.loading = null;
          return v;
        },
        (e) => {
          this.loading = null;
          this.log.warn('ui: could not compute a dashboard figure', { what: this.what, error: String(e) });
          return undefined;
        },
      );
    }
    if (this.value !== null) return this.value.v;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((ok) => (timer = setTimeout(() => ok(undefined), waitMs)));
    try {
      return await Promise.race([this.loading!, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
