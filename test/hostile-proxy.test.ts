// Hostile input on the pull-through paths, from both sides. A lying upstream
// (wrong digests, oversized or invalid manifests, wrong blob bytes, silence
// before and during a body, redirect loops, redirects and token realms to
// non-http URLs, broken challenges) gets the client a 503 in the OCI shape or
// a cut connection, never a wrong 200, and nothing is stored. Hostile client
// paths on a proxying registry are refused before any upstream request.
// The lying upstream runs on local disk and on S3 (helpers/storage-modes.ts).
import t, { type Test } from 'tap';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { startRegistry } from './helpers/registry.js';
import { pullBlob } from '../bench/blob-pull.js';
import { rawHttp } from './helpers/raw-http.js';
import { diffSnapshots, tornObjects } from './helpers/store-snapshot.js';
import { startOn, storageMode, type StorageMode } from './helpers/storage-modes.js';
import { parseChallenges } from '../src/protocols/docker/proxy/challenge.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI = 'application/vnd.oci.image.manifest.v1+json';

t.test('challenge parser: quoted commas, escapes, several challenges, garbage', async (t) => {
  t.same(parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } },
  ]);
  t.same(parseChallenges('Basic realm="x \\"y\\"", Bearer realm=plain-token , charset=UTF-8'), [
    { scheme: 'basic', params: { realm: 'x "y"' } },
    { scheme: 'bearer', params: { realm: 'plain-token', charset: 'UTF-8' } },
  ]);
  t.same(parseChallenges('Bearer realm="unterminated'), [{ scheme: 'bearer', params: {} }]);
  t.same(parseChallenges(''), []);
  t.same(parseChallenges('"'), []);
  for (const junk of [',,,', '=====', 'Bearer ,,, realm', 'Bearer realm=', '\u0000\u00ff', 'a'.repeat(10000)]) {
    t.doesNotThrow(() => parseChallenges(junk), `no throw: ${JSON.stringify(junk.slice(0, 20))}`);
  }
});

for (const mode of [await storageMode('local'), await storageMode('s3')]) {
  t.test(`a lying upstream never yields a wrong 200 and stores nothing (${mode.name} storage)`, { skip: mode.skip }, (t) => lyingUpstream(t, mode));
}

async function lyingUpstream(t: Test, mode: StorageMode): Promise<void> {
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(Buffer.from('c')), size: 1 }, layers: [] }));
  const blob = randomBytes(256 * 1024);
  const blobDigest = sha(blob);
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    const p = req.url!.split('?')[0]!;
    asked.push(p);
    const m = /^\/v2\/([a-z]+)\/(manifests|blobs)\/(.+)$/.exec(p);
    const repo = m?.[1];
    if (!m) return void res.writeHead(404).end();
    switch (repo) {
      case 'wrongdigest': // answers any by-digest request with other bytes
      case 'liar':
        return void res.writeHead(200, { 'content-type': OCI, 'docker-content-digest': sha(Buffer.from('other')) }).end(manifest);
      case 'huge':
        return void res.writeHead(200, { 'content-type': OCI }).end(Buffer.alloc(5 * 1024 * 1024, 0x20));
      case 'notjson':
        return void res.writeHead(200, { 'content-type': OCI }).end('{"schemaVersion": 2, nope');
      case 'wrongbytes': {
        const bad = Buffer.from(blob);
        bad[1000] ^= 1;
        return void res.writeHead(200, { 'content-length': bad.length }).end(bad);
      }
      case 'silent':
        return; // never answers
      case 'stall':
        res.writeHead(200, { 'content-length': blob.length });
        return void res.write(blob.subarray(0, 1024)); // then nothing
      case 'loop':
        return void res.writeHead(302, { location: p }).end();
      case 'file':
        return void res.writeHead(302, { location: 'file:///etc/passwd' }).end();
      case 'badrealm':
        return void res.writeHead(401, { 'www-authenticate': 'Bearer realm="file:///etc/passwd",service="x"' }).end();
      case 'brokenchallenge':
        return void res.writeHead(401, { 'www-authenticate': 'Bearer realm="unterminated' }).end();
      case 'tokenjunk':
        if (req.headers.authorization) return void res.writeHead(200, { 'content-type': OCI }).end(manifest);
        return void res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${(server.address() as AddressInfo).port}/junk-token"` }).end();
      default:
        return void res.writeHead(404).end();
    }
  });
  server.on('request', (req, res) => {
    if (req.url!.startsWith('/junk-token')) res.writeHead(200).end('not json at all');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { r, store } = await startOn(t, mode, 'hostile-proxy', (storage) =>
    startRegistry({ docker: { upstreams: [{ url, auth: 'u:p', prefix: '', namespace: 'evil' }], proxy_timeout: 1, read_timeout: 1 }, storage }),
  );
  const before = await store.snapshot();

  const d = sha(Buffer.from('x'));
  const cases: [string, string][] = [
    ['by-digest manifest with other bytes', `/v2/wrongdigest/manifests/${d}`],
    ['tag whose Docker-Content-Digest lies', '/v2/liar/manifests/v1'],
    ['manifest over 4 MiB', '/v2/huge/manifests/v1'],
    ['manifest that is not JSON', '/v2/notjson/manifests/v1'],
    ['no answer within proxy_timeout', '/v2/silent/manifests/v1'],
    ['redirect to file://', '/v2/file/manifests/v1'],
    ['token realm file://', '/v2/badrealm/manifests/v1'],
    ['token response not JSON', '/v2/tokenjunk/manifests/v1'],
  ];
  for (const [label, path] of cases) {
    const res = await fetch(`${r.url}${path}`, { headers: { accept: OCI } });
    const body = (await res.json()) as { errors: { code: string; message: string }[] };
    t.equal(res.status, 503, `${label}: 503`);
    t.equal(body.errors[0]!.code, 'UNAVAILABLE', `${label}: OCI shape`);
    t.notMatch(body.errors[0]!.message, /u:p|passwd/, `${label}: no secret or payload echoed`);
  }
  for (const [label, path] of [
    ['redirect loop', '/v2/loop/manifests/v1'],
    ['broken challenge', '/v2/brokenchallenge/manifests/v1'],
  ]) {
    const res = await fetch(`${r.url}${path}`);
    await res.arrayBuffer();
    t.ok(res.status === 404 || res.status === 503, `${label}: ${res.status}, never a 200`);
  }
  for (const repo of ['wrongbytes', 'stall']) {
    const got = await pullBlob(`${r.url}/v2/${repo}/blobs/${blobDigest}`);
    t.notOk(got.status === 200 && got.complete, `${repo}: no complete 200`);
    t.ok(got.bytes < blob.length, `${repo}: cut before the last byte`);
  }
  const after = await store.snapshot({ fresh: true });
  t.same(tornObjects(after), [], 'nothing torn');
  t.same(diffSnapshots(before, after), [], 'nothing stored from a lying upstream');
  t.equal(await store.writers(), 0, 'the failed fills left no writer (temp file, multipart upload)');

  // hostile client paths on a proxying registry: refused before any upstream request
  asked.length = 0;
  for (const p of ['/v2/..%2f..%2fetc/manifests/v1', '/v2/UPPER/manifests/v1', '/v2/a/manifests/..%2f', `/v2/a/blobs/sha256:${'z'.repeat(64)}`, '/v2/a%00b/blobs/' + d, '/v2/_proxy/evil/liar/manifests/v1']) {
    const res = await rawHttp(r.port, { method: 'GET', target: p });
    t.ok(res.status >= 400 && res.status < 500, `${p}: ${res.status}`);
  }
  t.same(asked, [], 'no hostile name reached the upstream');
}

t.test('a dead upstream opens the circuit breaker: fast 503 + Retry-After, state on /metrics', async (t) => {
  const r = await startRegistry({
    docker: { upstreams: [{ url: 'http://127.0.0.1:9', auth: '', prefix: '', namespace: 'dead' }] },
    circuit_breaker: { enabled: true, failure_threshold: 2, reset_timeout: 60 },
  });
  t.teardown(() => r.close());
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${r.url}/v2/team/app/manifests/v1`);
    t.equal(res.status, 503, `failure ${i + 1}: 503`);
    await res.arrayBuffer();
  }
  const open = await fetch(`${r.url}/v2/team/app/manifests/v1`);
  const body = (await open.json()) as { errors: { code: string; message: string }[] };
  t.equal(open.status, 503);
  t.match(body.errors[0]!.message, /circuit breaker open/);
  t.ok(Number(open.headers.get('retry-after')) > 30, 'Retry-After until the breaker lets a trial through');
  t.match(await (await fetch(`${r.url}/metrics`)).text(), /nora_upstream_breaker_state\{upstream="http:\/\/127\.0\.0\.1:9"\} 1/);
});
