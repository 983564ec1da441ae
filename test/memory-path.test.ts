// Reads answered from memory (server.ts answerFromMemory) must be exactly what
// the full path answers: the first request of each kind fills the caches the
// full way, the repeat is answered from memory (counted in /metrics), and the
// two responses must agree in status, headers and body. Then everything that
// must still reach the full path does: moved and deleted tags, lockouts,
// revoked tokens, oversized or repeated headers.
import t from 'tap';
import { digestOf } from '../src/main/digest.js';
import { startRegistry, type Running } from './helpers/registry.js';
import { api, basic, bearer, metric, mint, startAuthRegistry, USERS } from './helpers/auth.js';
import { DOCKER_MANIFEST, OCI_CONFIG, OCI_MANIFEST, encode } from './helpers/oci-push.js';
import { rawHttp } from './helpers/raw-http.js';

interface Seen {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function send(url: string, method: string, headers: Record<string, string> = {}): Promise<Seen> {
  const res = await fetch(url, { method, headers });
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
        const first = await send(url, method, h);
        const before = await answered(r);
        const again = await send(url, method, h);
        const fromMemory = (await answered(r)) - before;
        const label = `${method} ${ref.slice(0, 16)} accept=${accept ?? '(none)'}`;
        t.same(again, first, `${label}: same status, headers and body`);
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
