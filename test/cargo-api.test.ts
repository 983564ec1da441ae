// Cargo's registry API over plain HTTP, as `cargo publish` and the sparse
// index client use it: config.json, index files with ETag/Last-Modified
// revalidation, index entries (v, features2, rust_version, cksum, renamed
// dependencies), crates.io's name rules, immutable versions, publishes of
// many versions at once (none lost, also between replicas sharing a store),
// downloads with Range, yank/unyank, owners, search, errors as cargo shows them.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { startRegistry } from './helpers/registry.js';
import { metric } from './helpers/auth.js';
import { publish, publishBody, publishMeta, sha256 } from './helpers/cargo-wire.js';
import { MemoryDriver } from '../src/main/storage/drivers/memory.js';
import { JsonDocuments } from '../src/main/storage/json-document.js';
import { Logger } from '../src/main/log.js';

const crateBytes = (seed: string) => Buffer.concat([Buffer.from(seed), randomBytes(2048)]);

t.test('cargo API', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());

  const cfg = await fetch(`${r.url}/cargo/index/config.json`);
  t.same(await cfg.json(), { dl: `${r.url}/cargo/api/v1/crates`, api: `${r.url}/cargo`, 'auth-required': false }, 'config.json');

  const crate = crateBytes('serde-lite');
  const meta = publishMeta('Serde-Lite', '1.0.0', {
    rust_version: '1.70',
    links: 'serde_native',
    features: { default: ['std'], std: [], derive: ['dep:serde_derive', 'helper?/x'] },
    deps: [
      { name: 'serde_derive', version_req: '^1', features: [], optional: true, default_features: true, target: null, kind: 'normal' },
      { name: 'helper-core', version_req: '=0.3', features: ['x'], optional: false, default_features: false, target: 'cfg(unix)', kind: 'dev', explicit_name_in_toml: 'helper' },
    ],
  });
  const up = await publish(r.url, publishBody(meta, crate));
  t.equal(up.status, 200);
  t.same(await up.json(), { warnings: { invalid_categories: [], invalid_badges: [], other: [] } });

  const idx = await fetch(`${r.url}/cargo/index/se/rd/serde-lite`);
  t.equal(idx.status, 200, 'index file at the lower-case canonical path');
  const etag = idx.headers.get('etag')!;
  const lastModified = idx.headers.get('last-modified')!;
  const text = await idx.text();
  t.equal(etag, `"${sha256(Buffer.from(text))}"`, 'ETag is the sha256 of the body');
  const entry = JSON.parse(text);
  t.same(entry, {
    name: 'Serde-Lite',
    vers: '1.0.0',
    deps: [
      { name: 'serde_derive', req: '^1', features: [], optional: true, default_features: true, target: null, kind: 'normal', registry: null },
      { name: 'helper', req: '=0.3', features: ['x'], optional: false, default_features: false, target: 'cfg(unix)', kind: 'dev', registry: null, package: 'helper-core' },
    ],
    features: { default: ['std'], std: [] },
    features2: { derive: ['dep:serde_derive', 'helper?/x'] },
    yanked: false,
    links: 'serde_native',
    v: 2,
    rust_version: '1.70',
    cksum: sha256(crate),
  }, 'entry: renamed dep as name=rename/package=crate, new-style features in features2 with v 2');
  t.equal((await fetch(`${r.url}/cargo/index/se/rd/serde-lite`, { headers: { 'if-none-match': etag } })).status, 304, 'If-None-Match → 304');
  t.equal((await fetch(`${r.url}/cargo/index/se/rd/serde-lite`, { headers: { 'if-modified-since': lastModified } })).status, 304, 'If-Modified-Since → 304');
  for (const p of ['se/rd/Serde-Lite', 'se/rd/serde_lite', 'xx/rd/serde-lite', '3/s/serde-lite', 'se/serde-lite'])
    t.equal((await fetch(`${r.url}/cargo/index/${p}`)).status, 404, `no index file at ${p}`);

  // Names as crates.io compares them; versions immutable (build metadata does not make a new one).
  const again = await publish(r.url, publishBody(publishMeta('Serde-Lite', '1.0.0+build.5'), crateBytes('x')));
  t.equal(again.status, 409);
  t.same(await again.json(), { errors: [{ detail: 'crate version `Serde-Lite@1.0.0` already exists' }] }, 'cargo error shape');
  const alias = await publish(r.url, publishBody(publishMeta('serde_lite', '2.0.0'), crateBytes('y')));
  t.equal(alias.status, 409, 'serde_lite is the same crate as Serde-Lite');
  t.match((await alias.json()).errors[0].detail, /published as `Serde-Lite`/);

  // Downloads: the .crate itself, cksum-verified, with Range.
  const dl = await fetch(`${r.url}/cargo/api/v1/crates/Serde-Lite/1.0.0/download`);
  t.equal(dl.status, 200);
  t.equal(sha256(Buffer.from(await dl.arrayBuffer())), sha256(crate));
  t.equal(dl.headers.get('etag'), `"${sha256(crate)}"`);
  const part = await fetch(`${r.url}/cargo/api/v1/crates/serde_lite/1.0.0/download`, { headers: { range: 'bytes=0-9' } });
  t.equal(part.status, 206, 'any spelling downloads');
  t.same(Buffer.from(await part.arrayBuffer()), crate.subarray(0, 10));
  t.equal((await fetch(`${r.url}/cargo/api/v1/crates/Serde-Lite/9.9.9/download`)).status, 404);

  // yank / unyank, owners, search.
  const y = await fetch(`${r.url}/cargo/api/v1/crates/serde-lite/1.0.0/yank`, { method: 'DELETE' });
  t.same([y.status, await y.json()], [200, { ok: true }]);
  t.equal(JSON.parse(await (await fetch(`${r.url}/cargo/index/se/rd/serde-lite`)).text()).yanked, true);
  t.equal((await fetch(`${r.url}/cargo/index/se/rd/serde-lite`, { headers: { 'if-none-match': etag } })).status, 200, 'a yank changes the ETag');
  const u = await fetch(`${r.url}/cargo/api/v1/crates/serde-lite/1.0.0/unyank`, { method: 'PUT' });
  t.equal(u.status, 200);
  t.equal(JSON.parse(await (await fetch(`${r.url}/cargo/index/se/rd/serde-lite`)).text()).yanked, false);
  t.equal((await fetch(`${r.url}/cargo/api/v1/crates/serde-lite/3.0.0/yank`, { method: 'DELETE' })).status, 404);
  t.same(await (await fetch(`${r.url}/cargo/api/v1/crates/serde-lite/owners`)).json(), { users: [{ id: 1, login: 'anonymous', name: null }] });
  await publish(r.url, publishBody(publishMeta('other-thing', '0.1.0'), crateBytes('o')));
  const found = await (await fetch(`${r.url}/cargo/api/v1/crates?q=SERDE_lite&per_page=5`)).json();
  t.same(found, { crates: [{ name: 'Serde-Lite', max_version: '1.0.0', description: 'Serde-Lite for tests' }], meta: { total: 1 } }, 'search by name, - and _ alike, any case');
  t.equal((await (await fetch(`${r.url}/cargo/api/v1/crates?q=`)).json()).meta.total, 2);

  const wrong = await fetch(`${r.url}/cargo/api/v1/crates/new`, { method: 'POST' });
  t.equal(wrong.status, 405);
  t.equal(wrong.headers.get('allow'), 'PUT');
  t.match(await wrong.json(), { errors: [{ detail: String }] });

  t.equal(await metric(r.url, 'nora_http_requests_total', 'format="cargo",method="PUT",status="200"'), 3, 'metrics: publishes and unyank under the cargo label');
  t.equal(await metric(r.url, 'nora_http_requests_total', 'format="cargo",method="PUT",status="409"'), 2, 'metrics: refused publishes');
});

t.test('concurrent publishes of different versions lose none', async (t) => {
  const a = await startRegistry();
  t.teardown(() => a.close());
  const N = 24;
  const results = await Promise.all(
    Array.from({ length: N }, (_, i) => publish(a.url, publishBody(publishMeta('busy-crate', `0.${i}.0`), crateBytes(`v${i}`))).then(async (res) => [res.status, await res.text()])),
  );
  t.same(results.filter(([s]) => s !== 200), [], 'every publish succeeded');
  const lines = (await (await fetch(`${a.url}/cargo/index/bu/sy/busy-crate`)).text()).trim().split('\n').map((l) => JSON.parse(l).vers);
  t.same([...lines].sort(), Array.from({ length: N }, (_, i) => `0.${i}.0`).sort(), `all ${N} versions are in the index`);
  const same = await Promise.all([1, 2, 3, 4].map((i) => publish(a.url, publishBody(publishMeta('busy-crate', '9.0.0'), crateBytes(`dup${i}`))).then((x) => x.status)));
  t.same(same.sort(), [200, 409, 409, 409], 'one version published four times at once: exactly one wins');
});

t.test('JsonDocuments: writers with separate locks (replicas) on one store lose no update', async (t) => {
  // Two instances share nothing but the driver, as two replicas share an object store:
  // only the driver's compare-and-swap keeps their read-modify-writes apart.
  const storage = new MemoryDriver();
  const docs = [0, 1].map(() => new JsonDocuments<{ n: number[] }>(storage, new Logger('error'), 'test', (v): v is { n: number[] } => Array.isArray((v as { n: unknown }).n)));
  await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      docs[i % 2]!.update('doc.json', async (cur) => {
        await new Promise((r) => setImmediate(r)); // let the other replica read the same version
        return { state: { n: [...(cur?.n ?? []), i] }, result: undefined };
      }),
    ),
  );
  const final = await docs[0]!.read('doc.json');
  t.same([...final!.n].sort((x, y) => x - y), Array.from({ length: 40 }, (_, i) => i), 'all 40 updates survived');
});
