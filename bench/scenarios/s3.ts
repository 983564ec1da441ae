// The push and pull scenarios again with content on S3 (the shared Ceph RADOS
// Gateway of .ci/services/ceph.sh): nora-ts in storage.mode = "s3" beside
// distribution's s3-aws driver (regionendpoint) on the same gateway, each with
// a fresh bucket per measurement. Compare with the local-disk ids (2, 5a, 5b);
// s3-2r pulls with blob GETs redirected to the store on both sides.
import type { Scenario, Value } from '../scenario.js';
import { cephS3, CEPH_START } from '../s3-store.js';
import { parallelPulls, redirectedPulls } from './blob-pulls.js';
import { bigPush, parallelPush } from './push.js';

/** `s` on radosgw; with `redirect`, both registries answer blob GETs with a 307 to the store. */
function onS3(s: Scenario, redirect = false): Scenario {
  return {
    ...s,
    id: `s3-${s.id}`,
    title: `${s.title}, on S3 (radosgw)`,
    async run(ctx, name) {
      const s3 = await cephS3();
      if (!s3) return Object.fromEntries(s.metrics.map((m) => [m.key, { na: `no radosgw: ${CEPH_START}` } as Value]));
      return s.run({ ...ctx, s3: { ...s3, redirect } }, name);
    },
  };
}

export const s3Scenarios: Scenario[] = [onS3(parallelPulls), onS3(redirectedPulls, true), onS3(bigPush), onS3(parallelPush)];
