// Hostile input on the npm pull-through path: an upstream registry whose
// documents lie (another package's name, invalid JSON, an oversized body,
// prototype keys, versions that are not semver, tarball names with paths,
// tarball URLs on other hosts, missing or malformed integrity). nora-ts keeps
// only what it can check, answers 503 in npm's shape (never a 404, never a
// 500) for a document it cannot use, never fetches from another host, and a
// hostile client name never reaches the upstream. (PyPI's hostile pages are
// in pypi-proxy.test.ts.) Runs on local disk and on S3 (helpers/storage-modes.ts).
import t, { type Test } from 'tap';
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parseDigest } from '../src/main/digest.js';
import { blobKey } from '../src/main/storage/blobs.js';
import { startRegistry } from './helpers/registry.js';
import { tornObjects } from './helpers/store-snapshot.js';
import { startOn, storageMode, type StorageMode } from './helpers/storage-modes.js';

const tgz = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const integrity = `sha512-${createHash('sha512').update(tgz).digest('base64')}`;

for (const mode of [await storageMode('local'), await storageMode('s3')]) {
  t.test(`a lying upstream registry (${mode.name} storage)`, { skip: mode.skip }, (t) => lyingRegistry(t, mode));
}

async function lyingRegistry(t: Test, mode: StorageMode): Promise<void> {
  const asked: string[] = [];
  let base = '';
  const version = (v: string, dist: Record<string, unknown>) => ({ name: 'mixed', version: v, dist });
  const docs: Record<string, (() => unknown) | string> = {
    '/other-name': () => ({ name: 'someone-else', versions: {} }),
    '/not-json': '{"name": "not-json", "versions": {',
    '/mixed': () => ({
      name: 'mixed',
      'dist-tags': { latest: '1.0.0', __proto__: '1.0.0', evil: 'no-such-version' },
      versions: {
        '1.0.0': version('1.0.0', { tarball: `${base}/mixed/-/mixed-1.0.0.tgz`, integrity }),
        'not-semver': version('not-semver', { tarball: `${base}/mixed/-/mixed-x.tgz`, integrity }),
        '__proto__': version('__proto__', { tarball: `${base}/mixed/-/p.tgz`, integrity }),
        '2.0.0': version('2.0.0', { tarball: `${base}/mixed/-/..%2f..%2fescape.tgz`, integrity }),
        '3.0.0': version('3.0.0', { tarball: `${base}/mixed/-/mixed-3.0.0.tgz`, integrity: 'sha1-AAAA' }),
        '4.0.0': version('4.0.0', { tarball: `${base}/mixed/-/mixed-4.0.0.tgz` }),
        '5.0.0': version('5.0.0', { tarball: `http://127.0.0.2:1/steal/mixed-5.0.0.tgz`, integrity }),
        '6.0.0': 'not an object',
      },
    }),
  };
  const server = http.createServer((req, res) => {
    asked.push(req.url!);
    const d = docs[req.url!];
    if (req.url === '/mixed/-/mixed-1.0.0.tgz' || req.url === '/mixed/-/mixed-5.0.0.tgz') return void res.writeHead(200, { 'content-length': tgz.length }).end(tgz);
    if (req.url === '/huge') {
      // Past the 128 MiB a packument may have, streamed (the test holds no such string)
      const chunk = Buffer.alloc(1 << 20, 0x20);
      res.writeHead(200, { 'content-type': 'application/json' });
      let n = 0;
      const more = () => {
        while (n++ < 130) if (!res.write(chunk)) return void res.once('drain', more);
        res.end();
      };
      res.on('error', () => {});
      return more();
    }
    if (d === undefined) return void res.writeHead(404).end('{}');
    res.writeHead(200, { 'content-type': 'application/json' }).end(typeof d === 'string' ? d : JSON.stringify(d()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const { r, store } = await startOn(t, mode, 'hostile-proxy-npm', (storage) => startRegistry({ npm: { proxy: base, metadata_ttl: 300 }, storage }));

  for (const name of ['other-name', 'not-json', 'huge']) {
    const res = await fetch(`${r.url}/npm/${name}`);
    t.equal(res.status, 503, `${name}: 503`);
    const body = (await res.json()) as { error: string };
    t.match(body.error, /unavailable/, `${name}: in npm's error shape`);
  }

  const doc = (await (await fetch(`${r.url}/npm/mixed`)).json()) as { versions: Record<string, { dist: { tarball: string } }>; 'dist-tags': Record<string, string> };
  t.same(Object.keys(doc.versions).sort(), ['1.0.0', '5.0.0'], 'only versions with a semver number, a plain .tgz name and a sha512 integrity');
  t.same(doc['dist-tags'], { latest: '1.0.0' }, 'tags naming kept versions only, no prototype keys');
  t.equal(doc.versions['5.0.0']!.dist.tarball, `${r.url}/npm/mixed/-/mixed-5.0.0.tgz`);
  // Sixteen clients at once, nothing cached: one upstream GET, every client the right bytes.
  const all = await Promise.all(Array.from({ length: 16 }, () => fetch(`${r.url}/npm/mixed/-/mixed-5.0.0.tgz`).then(async (res) => ({ status: res.status, body: Buffer.from(await res.arrayBuffer()) }))));
  t.ok(all.every((x) => x.status === 200 && x.body.equals(tgz)), 'all sixteen get the tarball');
  t.equal(asked.filter((p) => p === '/mixed/-/mixed-5.0.0.tgz').length, 1, 'one upstream GET for sixteen concurrent cold reads');
  t.ok(asked.includes('/mixed/-/mixed-5.0.0.tgz'), 'a tarball URL on another host is fetched from the upstream itself');
  const metrics = await (await fetch(`${r.url}/metrics`)).text();
  t.match(metrics, `nora_upstream_requests_total{upstream="${base}/",status="200"}`, 'per-upstream metrics count the npm upstream');
  t.match(metrics, `nora_upstream_breaker_state{upstream="${base}/"} 0`);
  for (const file of ['p.tgz', 'mixed-x.tgz', 'mixed-3.0.0.tgz', 'mixed-4.0.0.tgz', '__proto__', 'constructor'])
    t.equal((await fetch(`${r.url}/npm/mixed/-/${file}`)).status, 404, `${file}: 404`);

  const before = asked.length;
  for (const p of ['/npm/..%2f..%2fetc', '/npm/%00', '/npm/UPPER', '/npm/@scope', '/npm/a%2fb%2fc', `/npm/${'a'.repeat(300)}`]) {
    const res = await fetch(`${r.url}${p}`);
    t.ok(res.status === 404 || res.status === 400, `${p}: ${res.status}`);
  }
  t.equal(asked.length, before, 'hostile client names never reach the upstream');
  const stored = await store.snapshot({ fresh: true });
  t.same(tornObjects(stored), [], 'nothing torn');
  const tarball = blobKey(parseDigest(`sha512:${createHash('sha512').update(tgz).digest('hex')}`)!);
  t.same([...stored.keys()].sort(), [tarball, 'npm-proxy/mixed/packument.json'], 'stored: the one usable document and the one tarball read, nothing of the rest');
  t.equal(await store.writers(), 0, 'no writer left');
}
