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
