// Marks pull-through cache entries as used: a hit touches the entry's object
// (its mtime is what `nora gc --proxy-max-age-days` reads as "last used"), at
// most once an hour per entry, so hits cost no write each.
import type { StorageDriver } from '../storage/driver.js';

const EVERY_MS = 3600_000;
const MAX_REMEMBERED = 100_000;

export class UseMarks {
  private readonly touched = new Map<string, number>();

  constructor(private readonly storage: StorageDriver) {}

  used(key: string): void {
    const now = Date.now();
    if ((this.touched.get(key) ?? 0) > now - EVERY_MS) return;
    if (this.touched.size > MAX_REMEMBERED) this.touched.clear();
    this.touched.set(key, now);
    void this.storage.touch(key).catch(() => {});
  }
}
