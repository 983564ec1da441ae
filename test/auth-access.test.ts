// The seed's operation table, table-driven over real HTTP: anonymous_read on
// and off × no credentials / read, write, admin tokens / an htpasswd user ×
// pull, ping, push, delete on /v2/, and pulls through the pull-through cache
// (a distribution upstream behind the prefix "hub"). A status other than
// 401/403/429 proves the gate let the request through (a 404 for missing
// content still means "allowed"); an allowed proxied pull must answer 200.
import t from 'tap';
import { basic, bearer, get, mint, startAuthRegistry, type AuthRegistry } from './helpers/auth.js';
import { anonymousAllowed, allows, permits } from '../src/main/auth/policy.js';
import type { Identity, Requirement } from '../src/main/auth/types.js';
import { defaults } from '../src/main/config.js';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { startDistribution } from './helpers/distribution.js';
import { pushImage } from './helpers/oci-push.js';
import { tempDir, type Running } from './helpers/registry.js';

type Who = 'none' | 'read' | 'write' | 'admin' | 'htpasswd';
type Op = 'ping' | 'pull' | 'blob' | 'tags' | 'catalog' | 'push' | 'delete' | 'proxied-pull' | 'proxied-blob';
const ALLOWED = 'allowed';
type Want = typeof ALLOWED | 401 | 403;

const ZERO = 'sha256:' + '0'.repeat(64);
const upstreamDir = await tempDir('nora-auth-upstream-');
const upstream = await startDistribution(join(upstreamDir, 'up'));
t.teardown(async () => {
  await upstream.stop();
  await rm(upstreamDir, { recursive: true, force: true });
});
const proxied = await pushImage({ url: upstream.url } as Running, 'library/up', 'v1');
const PROXY = { upstreams: [{ url: upstream.url, auth: '', prefix: 'hub', namespace: 'hub' }] };
const OPS: Record<Op, [string, string]> = {
  'proxied-pull': ['GET', '/v2/hub/library/up/manifests/v1'],
  'proxied-blob': ['GET', `/v2/hub/library/up/blobs/${(proxied.doc as { config: { digest: string } }).config.digest}`],
  ping: ['GET', '/v2/'],
  pull: ['GET', '/v2/team/app/manifests/latest'],
  blob: ['HEAD', `/v2/team/app/blobs/${ZERO}`],
  tags: ['GET', '/v2/team/app/tags/list'],
  catalog: ['GET', '/v2/_catalog'],
  push: ['POST', '/v2/team/app/blobs/uploads/'],
  delete: ['DELETE', `/v2/team/app/manifests/${ZERO}`],
};

function expected(who: Who, op: Op, anonymousRead: boolean): Want {
  const reads: Op[] = ['ping', 'pull', 'blob', 'tags', 'catalog', 'proxied-pull', 'proxied-blob'];
  const isRead = reads.includes(op);
  if (who === 'none') {
    // anonymous pulls only with anonymous_read; the ping still challenges so `docker login`
    // verifies passwords; the catalog always needs credentials
    if (anonymousRead && isRead && op !== 'ping' && op !== 'catalog') return ALLOWED;
    return 401;
  }
  if (who === 'read') return isRead ? ALLOWED : 403;
  return ALLOWED;
}

async function credentials(r: AuthRegistry): Promise<Record<Who, string | undefined>> {
  return {
    none: undefined,
    read: bearer(await mint(r.url, 'admin', 'admin-pw', 'read')),
    write: basic('token', await mint(r.url, 'admin', 'admin-pw', 'write')),
    admin: bearer(await mint(r.url, 'admin', 'admin-pw', 'admin')),
    htpasswd: basic('alice', 'alice-pw'),
  };
}

for (const anonymousRead of [false, true]) {
  t.test(`anonymous_read = ${anonymousRead}`, async (t) => {
    const r = await startAuthRegistry({ anonymous_read: anonymousRead }, undefined, PROXY);
    t.teardown(() => r.close());
    const creds = await credentials(r);
    for (const who of Object.keys(creds) as Who[]) {
      for (const op of Object.keys(OPS) as Op[]) {
        const [method, path] = OPS[op];
        const res = await get(r.url + path, creds[who], method);
        const want = expected(who, op, anonymousRead);
        const label = `${who} ${op} (${method} ${path})`;
        if (want === ALLOWED && op.startsWith('proxied')) {
          t.equal(res.status, 200, `${label} allowed and served from upstream`);
        } else if (want === ALLOWED) {
          t.notOk([401, 403, 429].includes(res.status), `${label} allowed (got ${res.status})`);
        } else {
          t.equal(res.status, want, `${label} → ${want}`);
        }
        if (res.status === 401) {
          t.equal(res.headers.get('www-authenticate'), 'Basic realm="nora"', `${label}: Basic challenge`);
        }
      }
    }
    // the 401 and 403 bodies are OCI errors under /v2/
    const unauth = await fetch(`${r.url}/v2/`);
    t.same(await unauth.json(), { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] });
    const denied = await fetch(`${r.url}${OPS.push[1]}`, { method: 'POST', headers: { authorization: creds.read! } });
    t.equal(denied.status, 403);
    t.match(await denied.json(), { errors: [{ code: 'DENIED' }] });
  });
}

t.test('docker_anon_pull opens Docker reads including the ping, not the catalog or writes', async (t) => {
  const r = await startAuthRegistry({ docker_anon_pull: true });
  t.teardown(() => r.close());
  t.equal((await get(`${r.url}/v2/`)).status, 200, 'anonymous ping');
  t.notOk([401, 403].includes((await get(`${r.url}${OPS.pull[1]}`)).status), 'anonymous pull');
  t.equal((await get(`${r.url}/v2/_catalog`)).status, 401, 'catalog stays authenticated');
  t.equal((await get(`${r.url}${OPS.push[1]}`, undefined, 'POST')).status, 401, 'push needs credentials');
  t.equal((await get(`${r.url}/v2/`, basic('alice', 'wrong'))).status, 401, 'presented credentials are still checked');
  t.equal((await get(`${r.url}/v2/`, basic('alice', 'alice-pw'))).status, 200);
});

t.test('public paths, admin access, realm from public_url', async (t) => {
  const r = await startAuthRegistry({ public_metrics: false });
  t.teardown(() => r.close());
  t.equal((await get(`${r.url}/health`)).status, 200, 'health never needs auth');
  t.equal((await get(`${r.url}/ready`)).status, 200, 'ready never needs auth');
  const m = await get(`${r.url}/metrics`);
  t.equal(m.status, 401, 'metrics gated when public_metrics = false');
  t.equal((await get(`${r.url}/metrics`, basic('alice', 'alice-pw'))).status, 403, 'htpasswd users are never admin');
  t.equal((await get(`${r.url}/metrics`, bearer(await mint(r.url, 'admin', 'admin-pw', 'write')))).status, 403);
  t.equal((await get(`${r.url}/metrics`, bearer(await mint(r.url, 'admin', 'admin-pw', 'admin')))).status, 200, 'admin token');
});

t.test('the realm is the public URL when one is set', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const { startRegistry } = await import('./helpers/registry.js');
  const r2 = await startRegistry({
    server: { public_url: 'https://registry.example.com' } as never,
    auth: { enabled: true, htpasswd_file: r.htpasswd },
  });
  t.teardown(() => r2.close());
  const res = await get(`${r2.url}/v2/`);
  t.equal(res.headers.get('www-authenticate'), 'Basic realm="https://registry.example.com"');
});

t.test('every credential form on every format', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const token = await mint(r.url, 'alice', 'alice-pw', 'write');
  const forms: [string, string, number][] = [
    ['Basic user:password', basic('alice', 'alice-pw'), 200],
    ['Basic token:nra_', basic('token', token), 200],
    ['Basic anyone:nra_', basic('whoever', token), 200],
    ['Bearer nra_', bearer(token), 200],
    ['bearer (lower case) nra_', `bearer ${token}`, 200],
    ['raw nra_ (cargo)', token, 200],
    ['Basic wrong password', basic('alice', 'nope'), 401],
    ['Basic unknown user', basic('mallory', 'alice-pw'), 401],
    ['Basic with a token that does not exist', basic('token', 'nra_' + '0'.repeat(32)), 401],
    ['Bearer not a token', bearer('abc'), 401],
    ['Basic without colon', 'Basic ' + Buffer.from('alice').toString('base64'), 401],
    ['Basic not base64', 'Basic !!!', 401],
    ['unknown scheme', 'Digest abc', 401],
  ];
  for (const [name, header, status] of forms) {
    const res = await get(`${r.url}/v2/`, header);
    t.equal(res.status, status, name);
  }
  t.ok(!r.logs.some((l) => l.includes(token) || l.includes('alice-pw')), 'no secret in the logs');
  const failures = r.logs.filter((l) => l.includes('"event":"auth_failure"'));
  t.ok(failures.length >= 4, 'failures audited');
  t.match(JSON.parse(failures[0]!), { kind: 'htpasswd', user: 'alice', ip: '127.0.0.1', reason: 'password' });
});

t.test('policy for formats other than docker', async (t) => {
  const a = { ...defaults().auth, enabled: true };
  t.equal(anonymousAllowed(a, 'read', 'npm', '/npm/x'), false);
  t.equal(anonymousAllowed({ ...a, anonymous_read: true }, 'read', 'npm', '/npm/x'), true);
  t.equal(anonymousAllowed({ ...a, anonymous_read: true }, 'write', 'npm', '/npm/x'), false);
  t.equal(anonymousAllowed({ ...a, anonymous_read: true }, 'delete', 'pypi', '/simple/x/'), false);
  t.equal(anonymousAllowed({ ...a, docker_anon_pull: true }, 'read', 'pypi', '/simple/x/'), false, 'docker_anon_pull is Docker only');
  t.ok(allows('read', 'read'));
  t.notOk(allows('read', 'write'));
  t.ok(allows('write', 'delete'));
  t.notOk(allows('write', 'admin'));
  t.ok(allows('admin', 'admin'));
});

t.test('a second requirement of an admitted caller (a mount reading its source)', async (t) => {
  const a = { ...defaults().auth, enabled: true };
  const repo = (access: Requirement['access']): Requirement => ({ access, resource: { kind: 'repository', name: 'team/src' } });
  const anonymous: Identity = { user: 'anonymous', role: 'read', via: 'anonymous' };
  const writer: Identity = { user: 'alice', role: 'write', via: 'htpasswd' };
  const reader: Identity = { user: 'alice', role: 'read', via: 'token' };
  t.ok(permits(a, writer, repo('read'), 'docker'), 'access is global: a writer reads every repository');
  t.ok(permits(a, reader, repo('read'), 'docker'));
  t.notOk(permits(a, reader, repo('write'), 'docker'));
  t.notOk(permits(a, anonymous, repo('read'), 'docker'), 'no anonymous reads configured');
  t.ok(permits({ ...a, docker_anon_pull: true }, anonymous, repo('read'), 'docker'));
  t.ok(permits({ ...a, anonymous_read: true }, anonymous, repo('read'), 'docker'));
  t.notOk(permits({ ...a, docker_anon_pull: true }, anonymous, { access: 'read', resource: { kind: 'package', name: 'x' } }, 'npm'), 'docker_anon_pull is Docker only');
  t.notOk(permits({ ...a, docker_anon_pull: true, anonymous_read: true }, anonymous, repo('write'), 'docker'));
  t.ok(permits(a, anonymous, { access: 'public' }, 'docker'));
});
