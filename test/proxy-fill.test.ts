// The pull-through core against a real HTTP upstream on loopback (behind the
// counting, throttling pass-through): one fetch per key whatever the number
// of readers, readers at their own pace, the first leaving early, an upstream
// dying mid-stream or sending wrong bytes (every reader fails, nothing is
// published, the next join refetches), a Range read during the fill, the
// breaker, and every driver: local and memory through tail(); S3, which has no
// tail(), on the shared Ceph RADOS Gateway (readers wait for the whole fill).
import t, { type Test } from 'tap';
import http from 'node:http';
import { randomBytes, createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Fills, Upstream, UpstreamError, FillCorrupt, type FillReader, type FillSpec } from '../src/main/proxy/index.js';
import { Metrics } from '../src/main/metrics.js';
import { LocalDriver } from '../src/main/storage/drivers/local.js';
import { MemoryDriver } from '../src/main/storage/drivers/memory.js';
import { S3Driver } from '../src/main/storage/drivers/s3.js';
import type { StorageDriver } from '../src/main/storage/driver.js';
import { parseDigest } from '../src/main/digest.js';
import { Logger } from '../src/main/log.js';
import { startPassThrough } from '../bench/pass-through.js';
import { tempDir } from './helpers/registry.js';
import { CEPH_ABSENT, cephS3, freshBucket } from './helpers/ceph.js';

const MiB = 1 << 20;
const content = randomBytes(8 * MiB);
const digest = parseDigest(`sha256:${createHash('sha256').update(content).digest('hex')}`)!;

async function origin(t: Test) {
  const server = http.createServer((req, res) => {
    if (req.url === '/blob' || req.url === '/bad') {
      const body = req.url === '/bad' ? Buffer.from(content).fill(1, 100, 101) : content;
      res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
      res.end(body);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const pt = await startPassThrough(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { rate: 16 * MiB });
  t.teardown(() => pt.close());
  return pt;
}

async function readAll(r: FillReader, chunk = 256 * 1024, delayMs = 0): Promise<Buffer> {
  const out = Buffer.alloc(r.size);
  let pos = 0;
  while (pos < r.size) {
    const { bytesRead } = await r.read(out, pos, Math.min(chunk, r.size - pos), pos);
    if (bytesRead === 0) throw new Error('short read');
    pos += bytesRead;
    if (delayMs) await new Promise((res) => setTimeout(res, delayMs));
  }
  await r.close();
  return out;
}

const ceph = await cephS3();

/** name, a fresh driver, and whether its writers have tail() */
const drivers: [string, (t: Test) => Promise<StorageDriver>, { tail: boolean; skip?: string }][] = [
  [
    'local',
    async (t) => {
      const dir = await tempDir('nora-fill-');
      t.teardown(() => rm(dir, { recursive: true, force: true }));
      const d = new LocalDriver(join(dir, 's'));
      await d.init();
      return d;
    },
    { tail: true },
  ],
  ['memory', async () => new MemoryDriver(), { tail: true }],
  [
    's3',
    async (t) => {
      const bucket = await freshBucket(t, ceph!, 'fill');
      const d = new S3Driver({ url: ceph!.url, bucket, accessKey: ceph!.accessKey, secretKey: ceph!.secretKey, region: ceph!.region, virtualHosted: false });
      t.teardown(() => d.close());
      await d.init();
      return d;
    },
    { tail: false, ...(ceph ? {} : { skip: CEPH_ABSENT }) },
  ],
];

/** An upstream behind the pass-through, a driver, Fills, and a spec fetching `path` that counts publishes into `key`. */
async function setup(t: Test, open: (t: Test) => Promise<StorageDriver>, key: string, path: string) {
  const pt = await origin(t);
  const storage = await open(t);
  const metrics = new Metrics();
  const up = new Upstream({ url: pt.url, connectTimeoutMs: 5000, readTimeoutMs: 5000, breaker: { enabled: false, threshold: 5, resetMs: 1000 }, metrics });
  t.teardown(() => up.close());
  const fills = new Fills(storage, new Logger('error'));
  const state = { published: 0 };
  const spec: FillSpec = {
    key,
    upstream: up,
    expected: digest,
    open: async (signal) => {
      const res = await up.request(path, { signal });
      if (res.status !== 200) throw new UpstreamError(up.label, `status ${res.status}`);
      return res;
    },
    publish: async (w) => {
      state.published++;
      await w.commit(`blobs/${key}`);
      return `blobs/${key}`;
    },
  };
  return { pt, storage, metrics, fills, spec, state };
}

for (const [name, open, { tail, skip }] of drivers) {
  t.test(`${name}: 32 concurrent readers, one upstream GET, exact bytes; published once`, { skip }, async (t) => {
    const { pt, storage, metrics, fills, spec, state } = await setup(t, open, 'k1', '/blob');
    const t0 = Date.now();
    // the first reader leaves after 1 MiB: the fill goes on (without tail(), the others and the Range reader joined meanwhile)
    const joined = fills.join(spec);
    const later = tail ? null : Promise.all(Array.from({ length: 33 }, () => fills.join(spec)));
    const first = await joined;
    const buf = Buffer.alloc(MiB);
    await first.read(buf, 0, MiB, 0);
    await first.close();
    const readers = await (later ?? Promise.all(Array.from({ length: 32 }, () => fills.join(spec))));
    if (tail) {
      t.ok(Date.now() - t0 < 2000, 'readers get a reader before the fill ends');
      t.ok(fills.running('k1'), 'fill still running while readers stream');
    } else t.notOk(fills.running('k1'), 'without tail(), readers get theirs once the fill is over');
    // a Range read from the middle, during the fill
    const mid = tail ? await fills.join(spec) : readers.pop()!;
    const part = Buffer.alloc(1000);
    const { bytesRead } = await mid.read(part, 0, 1000, 5 * MiB);
    t.equal(bytesRead, 1000);
    t.ok(part.equals(content.subarray(5 * MiB, 5 * MiB + 1000)), 'range bytes right');
    await mid.close();
    const all = await Promise.all(readers.map((r, i) => readAll(r, 64 * 1024, i % 4 === 0 ? 1 : 0)));
    t.ok(all.every((b) => b.equals(content)), 'every reader got the exact bytes');
    t.equal(pt.count('GET', '/blob'), 1, 'exactly one upstream GET');
    t.equal(state.published, 1);
    t.ok(pt.bytes <= content.length * 1.05, 'upstream bytes ≈ one copy');
    t.same((await storage.get('blobs/k1'))!.data.equals(content), true, 'stored bytes right');
    t.match(metrics.render(), /nora_upstream_requests_total\{upstream="http:\/\/127\.0\.0\.1:\d+",status="200"\} 1/);
    t.notOk(fills.running('k1'), 'fill left the table');
  });

  t.test(`${name}: upstream killed mid-stream: every reader fails, nothing published, next join refetches`, { skip }, async (t) => {
    const { pt, storage, fills, spec, state } = await setup(t, open, 'k2', '/blob');
    pt.killNext('/blob', 3 * MiB);
    // Without tail() the join itself fails.
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => fills.join(spec).then((r) => readAll(r))));
    t.ok(results.every((r) => r.status === 'rejected'), 'every reader failed (no complete read)');
    t.equal(state.published, 0, 'nothing published');
    t.equal(await storage.stat('blobs/k2'), null);
    t.equal(await storage.sweep(0, { dryRun: true }), 0, 'the writer was cancelled');
    const again = await readAll(await fills.join(spec));
    t.ok(again.equals(content), 'the next join refetched and got the bytes');
    t.equal(pt.count('GET', '/blob'), 2);
  });

  t.test(`${name}: wrong bytes: readers never get the last byte, nothing published`, { skip }, async (t) => {
    const { storage, fills, spec } = await setup(t, open, 'k3', '/bad');
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => fills.join(spec).then((r) => readAll(r))));
    t.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof FillCorrupt), 'every reader failed with FillCorrupt');
    t.equal(await storage.stat('blobs/k3'), null, 'nothing published');
  });
}

t.test('breaker: opens after the threshold, fails fast with Retry-After, half-opens', async (t) => {
  const metrics = new Metrics();
  const up = new Upstream({ url: 'http://127.0.0.1:9', connectTimeoutMs: 2000, readTimeoutMs: 2000, breaker: { enabled: true, threshold: 2, resetMs: 300 }, metrics });
  t.teardown(() => up.close());
  for (let i = 0; i < 2; i++) await t.rejects(up.request('/'), { message: /unavailable: ECONNREFUSED/ });
  t.equal(up.breaker.state, 'open');
  const e = (await up.request('/').catch((x: unknown) => x)) as UpstreamError;
  t.match(e.message, /circuit breaker open/);
  t.equal(e.status, 503);
  t.ok(Number(e.headers!['Retry-After']) >= 1);
  t.match(metrics.render(), /nora_upstream_breaker_state\{upstream="http:\/\/127\.0\.0\.1:9"\} 1/);
  await new Promise((r) => setTimeout(r, 350));
  t.equal(up.breaker.state, 'half-open');
  await t.rejects(up.request('/'), { message: /ECONNREFUSED/ }, 'the trial request goes out and fails');
  t.equal(up.breaker.state, 'open');
});
