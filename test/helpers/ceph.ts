// The shared Ceph RADOS Gateway of the S3 tests (.ci/services/ceph.sh; the bench
// reads it through the same module). Each test file makes its own bucket and
// removes it (objects and unfinished uploads included) at the end.
import type { Test } from 'tap';
import { CEPH_ENV_FILE, CEPH_START, createBucket, type CephS3 } from '../../bench/s3-store.js';

export { adminClient, cephS3, type CephS3 } from '../../bench/s3-store.js';
export const CEPH_ABSENT = `Ceph radosgw is not running (no ${CEPH_ENV_FILE}): start it with \`${CEPH_START}\``;

/** Creates an empty bucket for this test and removes it with everything in it at teardown. */
export async function freshBucket(t: Test, s3: CephS3, label = 'test'): Promise<string> {
  const b = await createBucket(s3, label);
  t.teardown(() => b.remove());
  return b.bucket;
}

/** The NORA_* storage variables of a registry on `bucket` of the gateway. */
export function cephEnv(s3: CephS3, bucket: string): Record<string, string> {
  return {
    NORA_STORAGE_MODE: 's3',
    NORA_STORAGE_S3_URL: s3.url,
    NORA_STORAGE_BUCKET: bucket,
    NORA_STORAGE_S3_ACCESS_KEY: s3.accessKey,
    NORA_STORAGE_S3_SECRET_KEY: s3.secretKey,
    NORA_STORAGE_S3_REGION: s3.region,
  };
}

/** The storage settings of a registry on `bucket` (at `url`, the gateway's by default), as config overrides and as NORA_* variables. */
export function s3Storage(c: CephS3, bucket: string, url = c.url) {
  const storage = { mode: 's3' as const, s3_url: url, bucket, s3_access_key: c.accessKey, s3_secret_key: c.secretKey, s3_region: c.region };
  return { storage, env: cephEnv({ ...c, url }, bucket) };
}
