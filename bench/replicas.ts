// Push and pull through one replica, and through three replicas behind nginx,
// all on one radosgw bucket (.ci/services/ceph.sh), with the peak RSS of each
// replica. `node dist/bench/replicas.js` prints one Markdown table; one run,
// figures for this machine only.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeFixtures } from './fixtures.js';
import { startNora } from './servers/nora.js';
import { cephS3, createBucket, CEPH_START } from './s3-store.js';
import { startBalancer } from './nginx.js';
import { pushStreamed, send } from './registry-client.js';
import { generatedDigest } from './content.js';
import { sampleRss } from './procfs.js';
import { MB, MiB } from './stats.js';
import { REPO } from './scenario.js';

const BLOBS = 16;
const SIZE = 8 * MiB;
const PULL_ROUNDS = 4;

interface Row {
  setup: string;
  pushMBps: number;
  pullMBps: number;
  rssMB: number[];
}

async function measure(replicas: number): Promise<Row> {
  const s3 = await cephS3();
  if (!s3) throw new Error(`no radosgw: ${CEPH_START}`);
  const fx = await makeFixtures(0);
  const bucket = await createBucket(s3, 'replicas-bench');
  const dir = await mkdtemp(join(tmpdir(), 'nora-replicas-bench-'));
  const servers = [];
  try {
    for (let i = 0; i < replicas; i++) servers.push(await startNora({ auth: true, creds: fx.creds, s3: { ...s3, bucket: bucket.bucket } }));
    const lb = replicas > 1 ? await startBalancer(dir, servers.map((s) => Number(new URL(s.url).port))) : null;
    try {
      const url = lb?.url ?? servers[0]!.url;
      const auth = servers[0]!.auth;
      const samplers = servers.map((s) => sampleRss(s.pid, 50));
      const blobs = Array.from({ length: BLOBS }, (_, i) => ({ seed: 5000 + i, digest: generatedDigest(5000 + i, SIZE) }));
      let t0 = performance.now();
      await Promise.all(blobs.map((b) => pushStreamed(url, REPO, b.seed, SIZE, b.digest, auth)));
      const pushMBps = (BLOBS * SIZE) / MB / ((performance.now() - t0) / 1000);
      t0 = performance.now();
      for (let r = 0; r < PULL_ROUNDS; r++) {
        await Promise.all(
          blobs.map(async (b) => {
            const res = await send(`${url}/v2/${REPO}/blobs/${b.digest}`, 'GET', { Authorization: auth! });
            if (res.status !== 200 || res.body.length !== SIZE) throw new Error(`pull ${b.digest}: ${res.status}`);
          }),
        );
      }
      const pullMBps = (PULL_ROUNDS * BLOBS * SIZE) / MB / ((performance.now() - t0) / 1000);
      const rssMB = (await Promise.all(samplers.map((s) => s.stop()))).map((m) => m.peakRssBytes / MB);
      return { setup: replicas === 1 ? '1 replica' : `${replicas} replicas behind nginx`, pushMBps, pullMBps, rssMB };
    } finally {
      await lb?.stop();
    }
  } finally {
    for (const s of servers) await s.stop();
    await bucket.remove();
    await fx.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

const rows = [await measure(1), await measure(3)];
console.log(`| setup (S3 on radosgw, ${BLOBS} parallel ${SIZE / MiB} MiB blobs) | push MB/s | pull MB/s (${PULL_ROUNDS} rounds) | peak RSS per replica (MB) |`);
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.setup} | ${r.pushMBps.toFixed(0)} | ${r.pullMBps.toFixed(0)} | ${r.rssMB.map((m) => m.toFixed(0)).join(' / ')} |`);
process.exit(0);
