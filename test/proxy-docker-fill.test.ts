// One fill per blob through nora-ts, against distribution behind the counting,
// throttling pass-through: 64 concurrent cold pulls of one 100 MiB blob make
// exactly one upstream GET and every client gets the right bytes (the first
// leaving early changes nothing; a Range request during the fill gets its
// slice); the upstream cut mid-stream fails every client before the last byte,
// publishes nothing, and the next pull refetches; a kill of nora-ts during a
// fill leaves nothing half-published.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry, spawnRegistry, tempDir, type Running } from './helpers/registry.js';
import { startDistribution } from './helpers/distribution.js';
import { startPassThrough } from '../bench/pass-through.js';
import { pushBlob } from './helpers/oci-push.js';
import { pullBlob } from '../bench/blob-pull.js';
import { parseDigest } from '../src/main/digest.js';
import { blobKey } from '../src/main/storage/blobs.js';

const MiB = 1 << 20;

t.test('fills through nora-ts', async (t) => {
  const work = await tempDir('nora-fill-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const upstream = await startDistribution(join(work, 'upstream'));
  t.teardown(() => upstream.stop());
  const pt = await startPassThrough(upstream.url, { rate: 40 * MiB });
  t.teardown(() => pt.close());
  const big = randomBytes(100 * MiB);
  const bigDesc = await pushBlob({ url: upstream.url } as Running, 'library/big', big);
  const r = await startRegistry({ docker: { upstreams: [{ url: pt.url, auth: '', prefix: '', namespace: 'up' }] } });
  t.teardown(() => r.close());

  await t.test('64 concurrent cold pulls of 100 MiB: one upstream GET, right bytes for all', async (t) => {
    const url = `${r.url}/v2/library/big/blobs/${bigDesc.digest}`;
    const before = pt.bytes;
    const pulls = [pullBlob(url, { abortAfter: MiB }), ...Array.from({ length: 63 }, () => pullBlob(url))];
    // a Range request during the fill
    const ranged = fetch(url, { headers: { range: 'bytes=52428800-52429823' } });
    const [first, ...rest] = await Promise.all(pulls);
    t.equal(first!.error, 'aborted by the client', 'the first client left early');
    t.ok(rest.every((p) => p.status === 200 && p.complete && p.sha256 === bigDesc.digest && p.bytes === big.length), 'every other client got the exact bytes');
    const rr = await ranged;
    t.equal(rr.status, 206);
    t.ok(Buffer.from(await rr.arrayBuffer()).equals(big.subarray(52428800, 52429824)), 'the range during the fill');
    t.equal(pt.count('GET', `/v2/library/big/blobs/${bigDesc.digest}`), 1, 'exactly one upstream GET');
    t.ok(pt.bytes - before <= big.length * 1.05, `upstream bytes ${pt.bytes - before} ≈ one copy`);
    const ttfb = rest.map((p) => p.ttfbMs).sort((a, b) => a - b);
    t.ok(ttfb[ttfb.length - 1]! < 5000, `every client had headers early (max ${ttfb[ttfb.length - 1]!.toFixed(0)} ms)`);
    const again = await pullBlob(url);
    t.equal(again.sha256, bigDesc.digest, 'served from the cache afterwards');
    t.equal(pt.count('GET', `/v2/library/big/blobs/${bigDesc.digest}`), 1, 'still one upstream GET');
  });

  await t.test('upstream cut mid-stream: every client fails, nothing published, the next pull refetches', async (t) => {
    const data = randomBytes(24 * MiB);
    const desc = await pushBlob({ url: upstream.url } as Running, 'library/cut', data);
    const url = `${r.url}/v2/library/cut/blobs/${desc.digest}`;
    pt.killNext(desc.digest, 9 * MiB);
    const pulls = await Promise.all(Array.from({ length: 8 }, () => pullBlob(url)));
    t.ok(pulls.every((p) => !p.complete || p.status !== 200), 'no client got a complete 200');
    t.ok(pulls.every((p) => p.bytes < data.length), 'every client was cut before the last byte');
    t.equal(await r.registry.ctx.storage.stat(blobKey(parseDigest(desc.digest)!)), null, 'nothing published');
    const again = await pullBlob(url);
    t.equal(again.status, 200);
    t.equal(again.sha256, desc.digest, 'the next pull refetched and got the bytes');
    t.equal(pt.count('GET', `/v2/library/cut/blobs/${desc.digest}`), 2);
  });

  await t.test('HEAD of an uncached blob asks the upstream', async (t) => {
    const data = randomBytes(1000);
    const desc = await pushBlob({ url: upstream.url } as Running, 'library/head', data);
    const res = await fetch(`${r.url}/v2/library/head/blobs/${desc.digest}`, { method: 'HEAD' });
    t.equal(res.status, 200);
    t.equal(res.headers.get('content-length'), '1000');
    t.equal(res.headers.get('docker-content-digest'), desc.digest);
    t.equal(pt.count('HEAD', `/v2/library/head/blobs/${desc.digest}`), 1);
    t.equal(pt.count('GET', `/v2/library/head/blobs/${desc.digest}`), 0, 'no fill for a HEAD');
  });

  await t.test('kill -9 during a fill leaves nothing half-published', async (t) => {
    const data = randomBytes(16 * MiB);
    const desc = await pushBlob({ url: upstream.url } as Running, 'library/crash', data);
    const slow = await startPassThrough(upstream.url, { rate: 2 * MiB });
    t.teardown(() => slow.close());
    const dir = join(work, 'child');
    const env = { NORA_STORAGE_PATH: join(dir, 'storage'), NORA_DOCKER_PROXIES: slow.url, NORA_AUTH_TOKEN_STORAGE: join(dir, 'tokens') };
    const child = await spawnRegistry(env, work);
    const url = `${child.url}/v2/library/crash/blobs/${desc.digest}`;
    const pulling = pullBlob(url);
    while (slow.bytes < 3 * MiB) await new Promise((res) => setTimeout(res, 50));
    await child.stop('SIGKILL');
    const cut = await pulling;
    t.notOk(cut.complete, 'the client was cut');
    const hex = parseDigest(desc.digest)!.hex;
    const blobs = await readdir(join(dir, 'storage', 'blobs', 'sha256', hex.slice(0, 2))).catch(() => []);
    t.notOk(blobs.includes(hex), 'no blob published');
    const again = await spawnRegistry(env, work);
    t.teardown(() => again.stop());
    t.same(await readdir(join(dir, 'storage', 'tmp')), [], 'the start-up sweep removed the half-written temp file');
    slow.rate = 0;
    const full = await pullBlob(`${again.url}/v2/library/crash/blobs/${desc.digest}`);
    t.equal(full.sha256, desc.digest, 'a pull after the restart fills it');
  });
});
