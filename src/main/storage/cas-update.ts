// Read-modify-write of one small stored document that stays right with
// several writers, in this process or others (replicas on one object store):
// the new version is written only if the stored one is still the one read
// (create-if-absent or compare-and-swap); otherwise the change is decided
// again on what the other writer stored.
import type { StorageDriver } from './driver.js';

export class CasConflict extends Error {
  constructor(readonly key: string) {
    super(`${key} kept changing under ${MAX_ATTEMPTS} attempts to update it`);
  }
}

/** Enough for a few busy writers per document; each retry waits a little longer (at most 50 ms). */
const MAX_ATTEMPTS = 16;

/**
 * Runs `decide` on the parsed current document (null when absent) and writes
 * what it returns as `next` (undefined writes nothing). Throws CasConflict
 * when other writers won every attempt.
 */
export async function casUpdate<D, R>(
  storage: StorageDriver,
  key: string,
  parse: (data: Buffer) => D,
  decide: (current: D | null) => Promise<{ next?: D; result: R }>,
): Promise<R> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const got = await storage.get(key);
    const { next, result } = await decide(got ? parse(got.data) : null);
    if (next === undefined) return result;
    const cond = got ? { ifMatch: got.version } : { ifAbsent: true as const };
    if ((await storage.put(key, JSON.stringify(next), cond)) !== null) return result;
    // Spread the retries of writers that collided so they do not collide again in step.
    await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
  }
  throw new CasConflict(key);
}
