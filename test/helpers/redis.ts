// The shared Redis of the replica tests (.ci/services/redis.sh writes its URL).
import { readFile } from 'node:fs/promises';

const ENV_FILE = `${process.env.REDIS_TEST_DIR ?? '/tmp/nora-ts-redis'}/env`;
export const REDIS_ABSENT = `Redis is not running (no ${ENV_FILE}): start it with \`bash .ci/services/redis.sh start\``;

/** redis://127.0.0.1:<port>, or null when the service script has not been started. */
export async function redisUrl(): Promise<string | null> {
  const text = await readFile(ENV_FILE, 'utf8').catch(() => null);
  return text?.match(/^REDIS_TEST_URL=(.+)$/m)?.[1] ?? null;
}
