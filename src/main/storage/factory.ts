// Picks the storage driver from `storage.mode`: one for content, and one for
// API tokens (a private directory on local disk; with an object store, a
// prefix of the same bucket, hidden from listings, so every replica shares them).
import { ConfigError, type Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { StorageDriver } from './driver.js';
import { LocalDriver } from './drivers/local.js';
import { MemoryDriver } from './drivers/memory.js';
import { S3Driver, S3SetupError } from './drivers/s3.js';

/** Where tokens live in the bucket (".nora-" keys are hidden from the content's listings, and gc's walk). */
const S3_TOKENS = '.nora-tokens/';

export async function contentDriver(config: Config, metrics?: Metrics): Promise<StorageDriver> {
  switch (config.storage.mode) {
    case 'memory':
      return new MemoryDriver();
    case 'local': {
      const d = new LocalDriver(config.storage.path);
      await d.init().catch((e: Error) => {
        throw new Error(`storage directory ${d.root} cannot be used (${e.message}); set storage.path / NORA_STORAGE_PATH`);
      });
      return d;
    }
    case 's3':
      return s3Driver(config, '', metrics);
  }
}

/** Token files: 0600 in a 0700 directory, temp files beside them, as NORA keeps them. */
export async function tokenDriver(config: Config): Promise<StorageDriver> {
  if (config.storage.mode === 'memory') return new MemoryDriver();
  if (config.storage.mode === 's3') return s3Driver(config, S3_TOKENS);
  const d = new LocalDriver(config.auth.token_storage, { private: true });
  try {
    await d.init();
  } catch (e) {
    throw new Error(`token directory ${d.root} cannot be used (${(e as Error).message}); set auth.token_storage / NORA_AUTH_TOKEN_STORAGE`);
  }
  return d;
}

async function s3Driver(config: Config, root: string, metrics?: Metrics): Promise<S3Driver> {
  const s = config.storage;
  const d = new S3Driver({
    url: s.s3_url,
    bucket: s.bucket,
    accessKey: s.s3_access_key,
    secretKey: s.s3_secret_key,
    region: s.s3_region,
    virtualHosted: s.s3_virtual_hosted,
    root,
  });
  if (metrics) d.instrument(metrics);
  try {
    await d.init();
  } catch (e) {
    d.close();
    // A bucket that is not there or keys that are refused are the operator's settings (exit 2).
    if (e instanceof S3SetupError) throw new ConfigError(e.key, e.message);
    throw e;
  }
  return d;
}

/**
 * Whether other registry processes may use the same storage at once (an
 * object store behind several replicas). Local and memory storage belong to
 * one process, which may then treat every leftover writer as a dead one's.
 */
export function sharedStorage(config: Config): boolean {
  return config.storage.mode === 's3';
}
