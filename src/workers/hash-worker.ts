// Piscina worker: the only place passwords and tokens are hashed. bcrypt uses
// its sync API so it runs on this worker's own thread instead of libuv's shared
// pool; argon2 has only an async API, so the pool runs one task per worker and
// concurrent argon2 jobs never exceed the pool size.
import bcrypt from 'bcrypt';
import argon2 from 'argon2';

/** NORA's Argon2id parameters (argon2 crate defaults): 19 MiB, 2 passes, 1 lane. */
const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export function bcryptCompare(task: { password: string; hash: string }): boolean {
  try {
    return bcrypt.compareSync(task.password, task.hash);
  } catch {
    return false;
  }
}

export function bcryptHash(task: { password: string; cost: number }): string {
  return bcrypt.hashSync(task.password, task.cost);
}

export async function argon2Verify(task: { hash: string; password: string }): Promise<boolean> {
  try {
    return await argon2.verify(task.hash, task.password);
  } catch {
    return false;
  }
}

export function argon2Hash(task: { password: string }): Promise<string> {
  return argon2.hash(task.password, ARGON2_OPTIONS);
}
