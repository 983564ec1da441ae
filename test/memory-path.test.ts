// Reads answered from memory (server.ts answerFromMemory; docker manifests,
// npm packuments, PyPI project pages) must be exactly what the full path answers: the first request of each kind fills the caches the
// full way, the repeat is answered from memory (counted in /metrics), and the
// two responses must agree in status, headers and body. Then everything that
// must still reach the full path does: moved and deleted tags, lockouts,
// revoked tokens, oversized or repeated headers.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { digestOf } from '../src/main/digest.js';
import { FRESH_MS } from '../src/main/http/answer-cache.js';
import { startRegistry, tempDir, type Running } from './helpers/registry.js';
import { api, basic, bearer, metric, mint, startAuthRegistry, USERS } from './helpers/auth.js';
import { DOCKER_MANIFEST, OCI_CONFIG, OCI_MANIFEST, encode } from './helpers/oci-push.js';
import { rawHttp } from './helpers/raw-http.js';
import { NpmWorkspace, makePackage } from './helpers/npm-cli.js';
import { PYTHON, run, writeWheel } from './helpers/pypi-tools.js';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';

interface Seen {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function send(url: string, method: string, headers: Record<string, string> = {}): Promise<Seen> {
  const res = await fetch(url, { method, headers, redirect: 'manual' });
  const body = await res.text();
  const h: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (k !== 'date') h[k] = v;
  });
  return { status: res.status, headers: h, body };
}

const answered = (r: Running) => metric(r.url, 'nora_http_memory_answers_total');

/** Pushes a config blob and a manifest of `mediaType` under `ref`, with `auth` if given. */
async function push(r: Running, name: string, ref: string, mediaType: string, auth?: string, seed = String(Math.random())) {
  const a: Record<string, string> = auth ? { authorization: auth } : {};
  const config = Buffer.from(JSON.stringify({ os: 'linux', seed }));
  const cd = digestOf(config);
  const up = await fetch(`${r.url}/v2/${name}/blobs/uploads/?digest=${cd}`, { method: 'POST', body: config, headers: a });
  await up.arrayBuffer();
  if (up.status !== 201) throw new Error(`blob push ${up.status}`);
  const m = encode({ schemaVersion: 2, mediaType, config: { mediaType: OCI_CONFIG, digest: cd, size: config.length }, layers: [] }, mediaType);
  const put = await fetch(`${r.url}/v2/${name}/manifests/${ref}`, { method: 'PUT', body: m.bytes, headers: { ...a, 'content-type': mediaType } });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`manifest push ${put.status}`);
  return m;
}

t.test('a repeated read from memory equals the full answer (auth off)', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const oci = await push(r, 'mem/app', 'v1', OCI_MANIFEST);
  const docker = await push(r, 'mem/app', 'd1', DOCKER_MANIFEST);
  const accepts = [
    undefined,
    OCI_MANIFEST,
    `${DOCKER_MANIFEST}, ${OCI_MANIFEST};q=0.5`,
    DOCKER_MANIFEST, // an OCI manifest is withheld from this client: 404 both ways
    `${OCI_MANIFEST};q=0`,
    '*/*',
  ];
  let cases = 0;
  for (const ref of ['v1', oci.digest, 'd1', docker.digest, 'nosuchtag']) {
    for (const method of ['GET', 'HEAD']) {
      for (const accept of accepts) {
        const url = `${r.url}/v2/mem/app/manifests/${ref}`;
        const h: Record<string, string> = accept === undefined ? {} : { accept };
        const label = `${method} ${ref.slice(0, 16)} accept=${accept ?? '(none)'}`;
        const { first, fromMemory } = await twice(t, r, url, method, h, label);
        if (first.status === 200) t.equal(fromMemory, 1, `${label}: the repeat came from memory`);
        else t.equal(fromMemory, 0, `${label}: refusals always take the full path`);
        cases++;
      }
    }
  }
  t.equal(cases, 60);
  // The bytes and headers are the manifest's own.
  const got = await send(`${r.url}/v2/mem/app/manifests/v1`, 'GET', { accept: OCI_MANIFEST });
  t.equal(got.body, oci.bytes.toString());
  t.equal(got.headers['docker-content-digest'], oci.digest);
  t.equal(got.headers['content-type'], OCI_MANIFEST);
  t.equal(got.headers['etag'], `"${oci.digest}"`);
  t.equal(got.headers['docker-distribution-api-version'], 'registry/2.0');
});

t.test("npm clients' headers change nothing on the memory path (npm is claimed by headers only for paths nobody owns)", async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const m = await push(r, 'mem/npmish', 'v1', OCI_MANIFEST);
  const npm = { 'user-agent': 'npm/11.19.1 node/v20.20.2 linux x64 workspaces/false', 'npm-command': 'install', 'npm-auth-type': 'web', accept: OCI_MANIFEST };
  const url = `${r.url}/v2/mem/npmish/manifests/v1`;
  const first = await send(url, 'GET', { accept: OCI_MANIFEST });
  const before = await answered(r);
  const again = await send(url, 'GET', npm);
  t.same(again, first, 'same answer with npm headers');
  t.equal((await answered(r)) - before, 1, 'still answered from memory');
  t.equal(again.headers['docker-content-digest'], m.digest);
});

t.test('a write is seen by the very next read from memory', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const a = await push(r, 'mem/move', 'latest', OCI_MANIFEST);
  for (let i = 0; i < 3; i++) t.equal((await send(`${r.url}/v2/mem/move/manifests/latest`, 'GET')).headers['docker-content-digest'], a.digest);
  const b = await push(r, 'mem/move', 'latest', OCI_MANIFEST);
  t.equal((await send(`${r.url}/v2/mem/move/manifests/latest`, 'GET')).headers['docker-content-digest'], b.digest, 'moved tag');
  const del = await fetch(`${r.url}/v2/mem/move/manifests/latest`, { method: 'DELETE' });
  t.equal(del.status, 202);
  t.equal((await send(`${r.url}/v2/mem/move/manifests/latest`, 'GET')).status, 404, 'deleted tag');
  const delRev = await fetch(`${r.url}/v2/mem/move/manifests/${a.digest}`, { method: 'DELETE' });
  t.equal(delRev.status, 202);
  t.equal((await send(`${r.url}/v2/mem/move/manifests/${a.digest}`, 'GET')).status, 404, 'deleted revision');
});

t.test('with auth on, memory reads keep every refusal of the full path', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const alice = basic('alice', USERS.alice);
  const m = await push(r, 'sec/app', 'v1', OCI_MANIFEST, alice);
  const url = `${r.url}/v2/sec/app/manifests/v1`;

  // Each credential form: the first read verifies, repeats come from memory.
  const readToken = await mint(r.url, 'alice', USERS.alice, 'read');
  for (const [label, auth] of [
    ['htpasswd', alice],
    ['Bearer token', bearer(readToken)],
    ['token as Basic password', basic('ci', readToken)],
    ['raw token', readToken],
  ] as const) {
    const first = await send(url, 'GET', { authorization: auth });
    const before = await answered(r);
    const again = await send(url, 'GET', { authorization: auth });
    t.equal(first.status, 200, `${label}: 200`);
    t.same(again, first, `${label}: same answer`);
    t.equal((await answered(r)) - before, 1, `${label}: from memory`);
  }

  const before = await answered(r);
  t.equal((await send(url, 'GET')).status, 401, 'no credentials: 401');
  t.equal((await send(url, 'GET', { authorization: basic('alice', 'wrong') })).status, 401, 'wrong password: 401');
  t.equal((await send(url, 'GET', { authorization: 'Digest abc' })).status, 401, 'unsupported scheme: 401');
  // Two Authorization headers: the full path sees them joined, a malformed credential.
  const twice = await rawHttp(r.port, { method: 'GET', target: '/v2/sec/app/manifests/v1', headers: { authorization: alice, Authorization: alice } });
  t.equal(twice.status, 401, 'repeated Authorization: 401 as on the full path');
  // Oversized headers are refused even though the answer is in memory.
  const big = await rawHttp(r.port, { method: 'GET', target: '/v2/sec/app/manifests/v1', headers: { authorization: alice, 'x-filler': 'a'.repeat(70 * 1024) } });
  t.equal(big.status, 431, 'oversized headers: 431');
  t.equal((await answered(r)) - before, 0, 'none of these was answered from memory');

  // Revocation applies to the very next read.
  const list = await api(r.url, '/api/tokens/list', { username: 'alice', password: USERS.alice });
  const prefix = list.body.tokens[0].hash_prefix as string;
  t.equal((await api(r.url, '/api/tokens/revoke', { username: 'alice', password: USERS.alice, hash_prefix: prefix })).status, 200);
  t.equal((await send(url, 'GET', { authorization: bearer(readToken) })).status, 401, 'revoked token: 401 at once');

  // A locked-out client IP is refused even with a cached good credential.
  for (let i = 0; i < 5; i++) await send(`${r.url}/v2/`, 'GET', { authorization: basic('alice', `wrong-${i}`) });
  const locked = await send(url, 'GET', { authorization: alice });
  t.equal(locked.status, 429, 'locked out: 429');
  t.ok(locked.headers['retry-after'], 'with Retry-After');
  t.equal(m.mediaType, OCI_MANIFEST);
});

t.test('anonymous reads from memory only where the settings allow them', async (t) => {
  const open = await startAuthRegistry({ anonymous_read: true });
  t.teardown(() => open.close());
  await push(open, 'anon/app', 'v1', OCI_MANIFEST, basic('alice', USERS.alice));
  const url = `${open.url}/v2/anon/app/manifests/v1`;
  t.equal((await send(url, 'GET')).status, 200);
  const before = await answered(open);
  t.equal((await send(url, 'GET')).status, 200, 'anonymous_read: anonymous pull');
  t.equal((await answered(open)) - before, 1, 'from memory');
  t.equal((await send(`${open.url}/v2/`, 'GET')).status, 401, 'the /v2/ ping still challenges');
});

// ---- npm packuments and PyPI project pages: the same mechanism -------------

const ABBREVIATED = 'application/vnd.npm.install-v1+json';
const PEP691 = 'application/vnd.pypi.simple.v1+json';
const JSON_CT = { 'content-type': 'application/json' };

function npmDoc(name: string, version: string, tags: Record<string, string> = { latest: version }) {
  const data = gzipSync(Buffer.from(`${name}@${version} ${Math.random()}`));
  const file = `${name}-${version}.tgz`;
  return {
    _id: name,
    name,
    description: `${name} for memory tests`,
    'dist-tags': tags,
    versions: {
      [version]: {
        name,
        version,
        dependencies: { 'left-pad': '^1.0.0' },
        scripts: { postinstall: 'node x.js' },
        dist: {
          integrity: `sha512-${createHash('sha512').update(data).digest('base64')}`,
          shasum: createHash('sha1').update(data).digest('hex'),
          tarball: `http://elsewhere.example/${file}`,
        },
      },
    },
    _attachments: { [file]: { content_type: 'application/octet-stream', data: data.toString('base64'), length: data.length } },
  };
}

async function publish(r: Running, name: string, version: string, auth?: string): Promise<void> {
  const headers: Record<string, string> = { ...JSON_CT, ...(auth ? { authorization: auth } : {}) };
  const res = await fetch(`${r.url}/npm/${name.replace('/', '%2f')}`, { method: 'PUT', headers, body: JSON.stringify(npmDoc(name, version)) });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`npm publish ${res.status} ${text}`);
}

const FORM = '----memory-path-boundary';
/** A twine-style sdist upload of `project` `version`. */
async function pypiUpload(r: Running, project: string, version: string, auth?: string, wheel?: { filename: string; data: Buffer }): Promise<void> {
  const data = wheel?.data ?? Buffer.from(`${project} ${version} ${Math.random()}`);
  const filename = wheel?.filename ?? `${project}-${version}.tar.gz`;
  const fields: Record<string, string> = {
    ':action': 'file_upload',
    protocol_version: '1',
    name: project,
    version,
    filetype: wheel ? 'bdist_wheel' : 'sdist',
    sha256_digest: createHash('sha256').update(data).digest('hex'),
  };
  const parts = Object.entries(fields).map(([k, v]) => Buffer.from(`--${FORM}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  parts.push(Buffer.from(`--${FORM}\r\nContent-Disposition: form-data; name="content"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`), data, Buffer.from(`\r\n--${FORM}--\r\n`));
  const headers: Record<string, string> = { 'content-type': `multipart/form-data; boundary=${FORM}`, ...(auth ? { authorization: auth } : {}) };
  const res = await fetch(`${r.url}/pypi/`, { method: 'POST', headers, body: Buffer.concat(parts) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`pypi upload ${res.status} ${text}`);
}

/** Sends a request twice: the two answers must agree; returns the first and whether the repeat came from memory (0 or 1). */
async function twice(t: Test, r: Running, url: string, method: string, headers: Record<string, string>, label: string): Promise<{ first: Seen; fromMemory: number }> {
  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    const first = await send(url, method, headers);
    const before = await answered(r);
    const again = await send(url, method, headers);
    const fromMemory = (await answered(r)) - before;
    t.same(again, first, `${label}: same status, headers and body`);
    // What memory answers is fresh for FRESH_MS (then re-read, for replicas): a machine too
    // busy to repeat the request within it tries again rather than blame the memory path.
    if (fromMemory === 1 || attempt === 3 || performance.now() - started < FRESH_MS) return { first, fromMemory };
    t.comment(`${label}: the repeat took over ${FRESH_MS} ms; again`);
  }
}

t.test('npm packuments: the repeat comes from memory and equals the full answer', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  await publish(r, 'mem-pkg', '1.0.0');
  await publish(r, 'mem-pkg', '1.1.0');
  await publish(r, '@mem/scoped', '2.0.0');
  let cases = 0;
  for (const path of ['/npm/mem-pkg', '/npm/mem-pkg/1.0.0', '/npm/mem-pkg/latest', '/npm/@mem%2fscoped', '/npm/@mem/scoped', '/npm/mem-pkg/9.9.9', '/npm/no-such-pkg']) {
    for (const method of ['GET', 'HEAD']) {
      for (const accept of [undefined, ABBREVIATED, `application/json, ${ABBREVIATED};q=0.5`, `${ABBREVIATED};q=0`, '*/*']) {
        const h: Record<string, string> = accept === undefined ? {} : { accept };
        const label = `${method} ${path} accept=${accept ?? '(none)'}`;
        const before = await answered(r);
        const { first, fromMemory } = await twice(t, r, r.url + path, method, h, label);
        if (first.status === 200) {
          t.equal(fromMemory, 1, `${label}: the repeat came from memory`);
          // A conditional GET gets its 304 the same from memory.
          const c = await twice(t, r, r.url + path, method, { ...h, 'if-none-match': first.headers.etag! }, `${label} If-None-Match`);
          t.equal(c.first.status, 304, `${label}: 304`);
          t.equal(c.first.headers['content-type'], undefined, `${label}: 304 without Content-Type`);
          t.equal(c.fromMemory, 1, `${label}: the conditional repeat from memory`);
        } else {
          t.equal((await answered(r)) - before, 0, `${label}: refusals always take the full path`);
        }
        cases++;
      }
    }
  }
  t.equal(cases, 70);
  const small = await send(`${r.url}/npm/mem-pkg`, 'GET', { accept: ABBREVIATED });
  t.equal(small.headers['content-type'], `${ABBREVIATED}; charset=utf-8`);
  t.equal(small.headers.vary, 'Accept');
  t.equal(small.headers['cache-control'], 'public, max-age=0, must-revalidate');
  t.ok(small.headers['last-modified']);
  t.same(Object.keys(JSON.parse(small.body).versions), ['1.0.0', '1.1.0']);

  // ?write=true fetches the revision for an update: never from the cache.
  const w = await twice(t, r, `${r.url}/npm/mem-pkg?write=true`, 'GET', { accept: ABBREVIATED }, '?write=true');
  t.equal(w.fromMemory, 0, '?write=true: the repeat took the full path too');
  t.equal(w.first.headers['cache-control'], 'private, no-cache');
  t.ok(JSON.parse(w.first.body)._rev, 'the full document, with its revision');

  // At the root, npm's requests are npm's by their headers: the full path answers them, the same document.
  const npmHeaders = { 'npm-command': 'install', accept: ABBREVIATED };
  const root = await twice(t, r, `${r.url}/mem-pkg`, 'GET', npmHeaders, 'root packument');
  t.equal(root.fromMemory, 0, 'root packuments take the full path, repeats too');
  t.equal(root.first.body, small.body, 'the same bytes as under /npm/');
});

t.test('npm: every local change reaches the very next read from memory', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  await publish(r, 'mem-move', '1.0.0');
  const read = async () => {
    await send(`${r.url}/npm/mem-move`, 'GET', { accept: ABBREVIATED }); // warm
    const before = await answered(r);
    const s = await send(`${r.url}/npm/mem-move`, 'GET', { accept: ABBREVIATED });
    t.equal((await answered(r)) - before, s.status === 200 ? 1 : 0, 'answered from memory when found');
    return s;
  };
  const version = async () => (await send(`${r.url}/npm/mem-move/latest`, 'GET')).body;
  t.same(JSON.parse((await read()).body)['dist-tags'], { latest: '1.0.0' });
  t.equal(JSON.parse(await version()).version, '1.0.0');
  t.equal(JSON.parse(await version()).version, '1.0.0', 'version by dist-tag from memory');

  await publish(r, 'mem-move', '1.1.0');
  t.same(Object.keys(JSON.parse((await send(`${r.url}/npm/mem-move`, 'GET', { accept: ABBREVIATED })).body).versions), ['1.0.0', '1.1.0'], 'publish seen at once');
  t.equal(JSON.parse(await version()).version, '1.1.0', 'latest moved with the publish');
  t.same(JSON.parse((await read()).body)['dist-tags'], { latest: '1.1.0' });

  const tag = await fetch(`${r.url}/npm/-/package/mem-move/dist-tags/latest`, { method: 'PUT', headers: JSON_CT, body: '"1.0.0"' });
  t.equal(tag.status, 201);
  t.same(JSON.parse((await send(`${r.url}/npm/mem-move`, 'GET', { accept: ABBREVIATED })).body)['dist-tags'], { latest: '1.0.0' }, 'dist-tag change seen at once');
  t.equal(JSON.parse(await version()).version, '1.0.0', 'version by dist-tag follows it');

  const tgz = `${r.url}/npm/mem-move/-/mem-move-1.0.0.tgz`;
  t.equal((await send(tgz, 'GET')).status, 200, 'tarball');
  t.equal((await send(tgz, 'GET')).status, 200, 'tarball again (its package known for a second)');
  const doc = JSON.parse((await send(`${r.url}/npm/mem-move?write=true`, 'GET')).body);
  const del = await fetch(`${r.url}/npm/mem-move/-rev/${doc._rev}`, { method: 'DELETE' });
  t.equal(del.status, 200);
  t.equal((await send(`${r.url}/npm/mem-move`, 'GET', { accept: ABBREVIATED })).status, 404, 'unpublished: 404 at once');
  t.equal((await read()).status, 404);
  t.equal((await send(`${r.url}/npm/mem-move/latest`, 'GET')).status, 404);
  t.equal((await send(tgz, 'GET')).status, 404, 'its tarball: 404 at once');
});

t.test('links follow the host asked for, on both paths', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  await publish(r, 'mem-host', '1.0.0');
  await pypiUpload(r, 'mem-host', '1.0');
  const raw = (target: string, host: string) => rawHttp(r.port, { method: 'GET', target, headers: { host, accept: target.startsWith('/npm') ? ABBREVIATED : PEP691 } });
  const links: Record<string, string> = {};
  for (const host of ['a.example:4000', 'b.example']) {
    for (const target of ['/npm/mem-host', '/simple/mem-host/']) {
      const first = await raw(target, host);
      const before = await answered(r);
      const again = await raw(target, host);
      t.equal((await answered(r)) - before, 1, `${host} ${target}: the repeat came from memory`);
      t.equal(again.status, 200);
      const strip = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([k]) => k !== 'date'));
      t.same(strip(again.headers), strip(first.headers), `${host} ${target}: same headers`);
      t.equal(again.body.toString(), first.body.toString(), `${host} ${target}: same body`);
      const doc = JSON.parse(again.body.toString());
      links[`${host} ${target}`] = target.startsWith('/npm') ? doc.versions['1.0.0'].dist.tarball : doc.files[0].url;
    }
  }
  t.equal(links['a.example:4000 /npm/mem-host'], 'http://a.example:4000/npm/mem-host/-/mem-host-1.0.0.tgz');
  t.equal(links['b.example /npm/mem-host'], 'http://b.example/npm/mem-host/-/mem-host-1.0.0.tgz');
  t.equal(links['a.example:4000 /simple/mem-host/'], 'http://a.example:4000/simple/mem-host/mem-host-1.0.tar.gz');
  t.equal(links['b.example /simple/mem-host/'], 'http://b.example/simple/mem-host/mem-host-1.0.tar.gz');
});

t.test('forwarded host and scheme count on the memory path only from a trusted proxy', async (t) => {
  for (const trusted of [true, false]) {
    const r = await startRegistry({ auth: { trusted_proxies: trusted ? ['127.0.0.1', '::1'] : ['10.9.9.9'] } });
    t.teardown(() => r.close());
    await publish(r, 'mem-proxy', '1.0.0');
    const headers = { host: 'inner:4000', 'x-forwarded-host': 'outer.example', 'x-forwarded-proto': 'https', accept: ABBREVIATED };
    const get = () => rawHttp(r.port, { method: 'GET', target: '/npm/mem-proxy', headers });
    await get();
    const before = await answered(r);
    const again = await get();
    t.equal((await answered(r)) - before, 1, 'from memory');
    const want = trusted ? 'https://outer.example' : 'http://inner:4000';
    t.equal(JSON.parse(again.body.toString()).versions['1.0.0'].dist.tarball, `${want}/npm/mem-proxy/-/mem-proxy-1.0.0.tgz`, trusted ? 'trusted proxy: its host and scheme' : 'untrusted peer: the Host header');
  }
});

t.test('PyPI project pages: the repeat comes from memory and equals the full answer', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  await pypiUpload(r, 'Mem_Proj', '1.0');
  await pypiUpload(r, 'Mem_Proj', '1.1');
  let cases = 0;
  for (const path of ['/simple/mem-proj/', '/simple/Mem_Proj/', '/simple/mem-proj', '/simple/mem-proj/?format=application/vnd.pypi.simple.v1+json', '/simple/no-such/']) {
    for (const method of ['GET', 'HEAD']) {
      for (const accept of [undefined, PEP691, 'application/vnd.pypi.simple.latest+json', 'application/vnd.pypi.simple.v1+html', 'text/html', `text/html;q=0.5, ${PEP691}`, 'image/png']) {
        const h: Record<string, string> = accept === undefined ? {} : { accept };
        const label = `${method} ${path} accept=${accept ?? '(none)'}`;
        const { first, fromMemory } = await twice(t, r, r.url + path, method, h, label);
        const memoryEligible = first.status === 200 && !path.includes('?');
        t.equal(fromMemory, memoryEligible ? 1 : 0, memoryEligible ? `${label}: from memory` : `${label}: full path (${first.status})`);
        if (first.status === 200) {
          const c = await twice(t, r, r.url + path, method, { ...h, 'if-none-match': first.headers.etag! }, `${label} If-None-Match`);
          t.equal(c.first.status, 304, `${label}: 304`);
          t.equal(c.first.headers['content-type'], first.headers['content-type'], `${label}: the 304 keeps Content-Type, as before`);
          t.equal(c.fromMemory, memoryEligible ? 1 : 0, `${label}: the conditional repeat`);
        }
        cases++;
      }
    }
  }
  t.equal(cases, 70);
  t.equal((await send(`${r.url}/simple/Mem_Proj/`, 'GET')).status, 301, 'a non-normalised name still redirects');

  // A yank and a new upload are seen by the very next read from memory.
  const page = async () => JSON.parse((await send(`${r.url}/simple/mem-proj/`, 'GET', { accept: PEP691 })).body);
  t.equal((await page()).files.find((f: { filename: string }) => f.filename === 'Mem_Proj-1.0.tar.gz').yanked, false);
  const y = await fetch(`${r.url}/pypi/mem-proj/1.0/yank`, { method: 'POST', body: 'broken' });
  t.equal(y.status, 200);
  t.equal((await page()).files.find((f: { filename: string }) => f.filename === 'Mem_Proj-1.0.tar.gz').yanked, 'broken', 'yank seen at once');
  await pypiUpload(r, 'Mem_Proj', '1.2');
  t.same((await page()).versions, ['1.0', '1.1', '1.2'], 'upload seen at once');
  const before = await answered(r);
  await page();
  t.equal((await answered(r)) - before, 1, 'and answered from memory again');
});

t.test('with auth on, npm and PyPI reads from memory keep every refusal', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const alice = basic('alice', USERS.alice);
  await publish(r, 'sec-pkg', '1.0.0', alice);
  await pypiUpload(r, 'sec-proj', '1.0', alice);
  const token = bearer(await mint(r.url, 'alice', USERS.alice, 'read'));
  for (const [url, accept] of [
    [`${r.url}/npm/sec-pkg`, ABBREVIATED],
    [`${r.url}/simple/sec-proj/`, PEP691],
  ] as const) {
    for (const auth of [token, alice]) {
      const { first, fromMemory } = await twice(t, r, url, 'GET', { accept, authorization: auth }, `${url} authorized`);
      t.equal(first.status, 200);
      t.equal(first.headers['cache-control'], 'private, max-age=0, must-revalidate', 'private: a login is needed to read');
      t.equal(fromMemory, 1, `${url}: the repeat came from memory`);
    }
    const before = await answered(r);
    t.equal((await send(url, 'GET', { accept })).status, 401, 'no credentials: 401');
    t.equal((await send(url, 'HEAD', { accept })).status, 401, 'HEAD without credentials: 401');
    t.equal((await send(url, 'GET', { accept, authorization: basic('alice', 'wrong') })).status, 401, 'wrong password: 401');
    t.equal((await send(url, 'GET', { accept, authorization: 'Digest abc' })).status, 401, 'unsupported scheme: 401');
    t.equal((await answered(r)) - before, 0, 'none of these was answered from memory');
  }
});

t.test('a write by another process is seen within the freshness bound', async (t) => {
  const a = await startRegistry();
  t.teardown(() => a.close());
  const b = await startRegistry({}, a.dir);
  t.teardown(() => b.close());
  await publish(a, 'mem-shared', '1.0.0');
  await pypiUpload(a, 'mem-shared', '1.0');
  const npmVersions = async () => Object.keys(JSON.parse((await send(`${b.url}/npm/mem-shared`, 'GET', { accept: ABBREVIATED })).body).versions);
  const pypiVersions = async () => JSON.parse((await send(`${b.url}/simple/mem-shared/`, 'GET', { accept: PEP691 })).body).versions;
  t.same(await npmVersions(), ['1.0.0']);
  t.same(await pypiVersions(), ['1.0']);
  const before = await answered(b);
  t.same(await npmVersions(), ['1.0.0']);
  t.same(await pypiVersions(), ['1.0']);
  t.equal((await answered(b)) - before, 2, 'the other registry answers from memory');
  await publish(a, 'mem-shared', '1.1.0');
  await pypiUpload(a, 'mem-shared', '1.1');
  await new Promise((res) => setTimeout(res, 1100));
  t.same(await npmVersions(), ['1.0.0', '1.1.0'], 'npm publish elsewhere seen after 1 s');
  t.same(await pypiVersions(), ['1.0', '1.1'], 'PyPI upload elsewhere seen after 1 s');
});

t.test('real clients: npm install and pip download read package documents from memory', async (t) => {
  const r = await startRegistry();
  const dir = await tempDir('nora-mem-clients-');
  t.teardown(async () => {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });
  const ws = new NpmWorkspace(dir, `${r.url}/npm/`);
  await ws.configure('nra_unused_when_auth_is_off');
  const pkg = await makePackage(join(dir, 'pkg'), { name: 'mem-cli', version: '1.0.0' }, 'mem-cli-1.0.0');
  t.equal((await ws.run(['publish'], pkg)).code, 0, 'npm publish');
  const wheelPath = join(dir, 'mem_wheel-1.0-py3-none-any.whl');
  await writeWheel(wheelPath, 'mem_wheel', '1.0');
  await pypiUpload(r, 'mem-wheel', '1.0', undefined, { filename: 'mem_wheel-1.0-py3-none-any.whl', data: await readFile(wheelPath) });

  // The clients' own Accept headers, to render the variants they ask for.
  await send(`${r.url}/npm/mem-cli`, 'GET', { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*' });
  await send(`${r.url}/simple/mem-wheel/`, 'GET', { accept: 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01' });
  // Reads with a query take the full path, which re-reads the documents: they stay fresh while the clients start.
  let stop = false;
  const keepFresh = (async () => {
    while (!stop) {
      await send(`${r.url}/npm/mem-cli?fresh=1`, 'GET');
      await send(`${r.url}/simple/mem-wheel/?fresh=1`, 'GET');
      await new Promise((res) => setTimeout(res, 100));
    }
  })();

  const app = await makePackage(join(dir, 'app'), { name: 'app', version: '0.0.0', private: true }, null);
  let before = await metric(r.url, 'nora_http_memory_answers_total', 'format="npm"');
  const install = await ws.run(['install', 'mem-cli', '--no-audit', '--no-fund'], app, join(dir, 'cache-install'));
  t.equal(install.code, 0, `npm install: ${install.stderr}`);
  t.equal(createRequire(join(app, 'index.js'))('mem-cli'), 'mem-cli-1.0.0', 'installed and loadable');
  t.ok((await metric(r.url, 'nora_http_memory_answers_total', 'format="npm"')) - before >= 1, "npm's packument read came from memory");

  before = await metric(r.url, 'nora_http_memory_answers_total', 'format="pypi"');
  const dl = await run(PYTHON, ['-m', 'pip', 'download', '--no-deps', '--no-cache-dir', '--disable-pip-version-check', '--index-url', `${r.url}/simple/`, '-d', join(dir, 'dl'), 'mem-wheel']);
  t.equal(dl.code, 0, `pip download: ${dl.stderr}`);
  t.same(await readdir(join(dir, 'dl')), ['mem_wheel-1.0-py3-none-any.whl'], 'the wheel');
  t.ok((await metric(r.url, 'nora_http_memory_answers_total', 'format="pypi"')) - before >= 1, "pip's project page read came from memory");
  stop = true;
  await keepFresh;
});
