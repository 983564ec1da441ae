// Picks the storage driver from `storage.mode`: one for content, and one for
// API tokens (a private directory on local disk; with an object store, tokens
// will live under a prefix of the same bucket).
import type { Config } from '../config.js';
import type { StorageDriver } from './driver.js';
import { LocalDriver } from './drivers/local.js';
import { MemoryDriver } from './drivers/memory.js';

export async function contentDriver(config: Config): Promise<StorageDriver> {
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
  }
}

/** Token files: 0600 in a 0700 directory, temp files beside them, as NORA keeps them. */
export async function tokenDriver(config: Config): Promise<StorageDriver> {
  if (config.storage.mode === 'memory') return new MemoryDriver();
  const d = new LocalDriver(config.auth.token_storage, { private: true });
  try {
    await d.init();
  } catch (e) {
    throw new Error(`token directory ${d.root} cannot be used (${(e as Error).message}); set auth.token_storage / NORA_AUTH_TOKEN_STORAGE`);
  }
  return d;
}
