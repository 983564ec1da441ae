// The storage a suite runs on: local disk always; S3 on the shared Ceph RADOS
// Gateway (.ci/services/ceph.sh) when it runs, with a fresh bucket for every
// registry. Suites written against a StorageMode run unchanged in both.
import type { Test } from 'tap';
import type { Config } from '../../src/main/config.js';
import { createBucket } from '../../bench/s3-store.js';
import { CEPH_ABSENT, cephS3, s3Storage } from './ceph.js';
import { StoreView } from './store-snapshot.js';
import type { Running } from './registry.js';

export type ModeName = 'local' | 's3';

export interface StorageMode {
  readonly name: ModeName;
  /** false, or why this mode cannot run on this machine */
  readonly skip: string | false;
  /** storage settings for one new registry, and how to remove what they made */
  storage(label: string): Promise<{ settings: Partial<Config['storage']>; remove(): Promise<void> }>;
}

export async function storageMode(name: ModeName): Promise<StorageMode> {
  if (name === 'local') return { name, skip: false, storage: async () => ({ settings: {}, remove: async () => {} }) };
  const ceph = await cephS3();
  return {
    name,
    skip: ceph ? false : CEPH_ABSENT,
    async storage(label) {
      const b = await createBucket(ceph!, label);
      return { settings: s3Storage(ceph!, b.bucket).storage, remove: () => b.remove() };
    },
  };
}

/**
 * Starts a registry on the mode's storage and opens a view of its store. At
 * t's teardown the registry closes first (it may still write, e.g. token
 * last_used), then the view, then the bucket goes.
 */
export async function startOn<R extends Running>(
  t: Test,
  mode: StorageMode,
  label: string,
  start: (storage: Partial<Config['storage']>) => Promise<R>,
): Promise<{ r: R; store: StoreView }> {
  const { settings, remove } = await mode.storage(label);
  let r: R | undefined;
  let store: StoreView | undefined;
  t.teardown(async () => {
    await r?.close();
    store?.close();
    await remove();
  });
  r = await start(settings);
  store = await StoreView.of(r.config);
  return { r, store };
}
