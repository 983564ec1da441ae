// Every route of every format × every kind of caller × anonymous_read off/on
// and docker_anon_pull, against the rules of the seed document written out
// here independently of the policy code: reads need the read role, pushes and
// deletes write, removing a whole npm package and a gated /metrics admin;
// htpasswd users are write (never admin); anonymous callers only read, and only
// with anonymous_read (Docker: not the /v2/ ping nor the catalog, unless
// docker_anon_pull opens the ping). A refusal is 401 without (valid)
// credentials, 403 with too small a role, in the format's own error shape.
// The auth gate's existing tests cover the /v2/ core routes; this adds npm,
// PyPI, Cargo, raw files, Maven, the token API, system paths and every Docker route,
// pulls through the pull-through cache included (a distribution upstream behind the prefix hub). Afterwards the
// captured log and every response body are searched for the secrets used.
// The token API takes its credentials in the body: a second table sends each
// kind of caller there (htpasswd password, read/write/admin token as the
// password, wrong password, unknown user) to create, list and revoke: only
// the htpasswd password manages tokens; everything else is a 401 that
// changes nothing on disk and counts toward the lockout.
// OIDC callers (a local issuer's GitHub-shaped tokens, as Bearer and as the
// Basic password) get their rule's role, and writes only inside the write
// scope team/*, left-pad: the PyPI project and crate demo, the raw folder
// dir/ and the Maven artifact com.example:demo are outside it (403).
// A third table reads through the npm and PyPI pull-through caches: the same
// rules (anonymous_read included) gate proxied documents and files, a refused
// caller never makes the registry ask its upstream, and no client credential
// ever reaches the upstream.
import t from 'tap';
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { basic, bearer, mint, startAuthRegistry, USERS, type AuthRegistry } from './helpers/auth.js';
import { rawHttp } from './helpers/raw-http.js';
import { diffSnapshots, snapshotTree } from './helpers/tree-snapshot.js';
import { tokenId } from '../src/main/auth/token-format.js';
import { Issuer } from './helpers/oidc-issuer.js';
import type { OidcConfig } from '../src/main/auth/oidc-config.js';
import { rm } from 'node:fs/promises';
import { startDistribution } from './helpers/distribution.js';
import { pushImage } from './helpers/oci-push.js';
import { tempDir, type Running } from './helpers/registry.js';

const upstreamDir = await tempDir('nora-table-upstream-');
const upstream = await startDistribution(join(upstreamDir, 'up'));
t.teardown(async () => {
  await upstream.stop();
  await rm(upstreamDir, { recursive: true, force: true });
});
const proxiedImage = await pushImage({ url: upstream.url } as Running, 'library/up', 'v1');
const proxiedConfig = (proxiedImage.doc as { config: { digest: string } }).config.digest;
const PROXY = { upstreams: [{ url: upstream.url, auth: '', prefix: 'hub', namespace: 'hub' }] };

type Need = 'public' | 'read' | 'write' | 'admin';
type Who = 'none' | 'read' | 'write' | 'admin' | 'htpasswd' | 'htpasswd-admin' | 'oidc-read' | 'oidc-write' | 'bad-password' | 'bad-token';
const RANK: Record<Need, number> = { public: 0, read: 1, write: 2, admin: 3 };
const ROLE: Record<Exclude<Who, 'none' | 'bad-password' | 'bad-token'>, number> = { read: 1, write: 2, admin: 3, htpasswd: 2, 'htpasswd-admin': 2, 'oidc-read': 1, 'oidc-write': 2 };
/** Writes the OIDC write rule's scope (team/*, left-pad) does not cover, by the name in the URL: PyPI's and Cargo's demo, raw dir/, Maven's com.example:demo. */
const outsideOidcScope = (route: Route) =>
  ((route.format === 'pypi' || route.format === 'cargo') && route.path.includes('/demo/')) ||
  (route.format === 'raw' && route.path.startsWith('/raw/dir/')) ||
  route.format === 'maven';

function oidcConfig(issuer: string): OidcConfig {
  const p = { name: 'ci', issuer, jwks_uri: '', audience: 'nora-test', algorithms: ['RS256', 'ES256'] as const, max_token_lifetime_secs: 900 };
  return {
    enabled: true,
    leeway_secs: 5,
    jwks_cache_secs: 3600,
    providers: [
      {
        ...p,
        algorithms: [...p.algorithms],
        namespace_scope: ['*'],
        namespace_scope_enforcement: 'enforce',
        enabled: true,
        role_rules: [
          { pattern: 'repo:acme/app:ref:refs/heads/main', role: 'write', claims: {}, namespace_scope: ['team/*', 'left-pad'] },
          { pattern: 'repo:acme/*', role: 'read', claims: {} },
        ],
      },
    ],
  };
}

const Z = 'sha256:' + '0'.repeat(64);
type Format = 'docker' | 'npm' | 'pypi' | 'cargo' | 'raw' | 'maven' | 'tokens' | 'system';
interface Route {
  method: string;
  path: string;
  need: Need;
  format: Format;
  body?: string;
  type?: string;
}
const r = (format: Format, method: string, path: string, need: Need, body?: string, type?: string): Route => ({ format, method, path, need, body, type });

const ROUTES: Route[] = [
  r('docker', 'GET', '/v2/', 'read'),
  r('docker', 'GET', '/v2/_catalog', 'read'),
  r('docker', 'GET', '/v2/team/app/tags/list', 'read'),
  r('docker', 'GET', '/v2/team/app/manifests/latest', 'read'),
  r('docker', 'HEAD', '/v2/team/app/manifests/latest', 'read'),
  r('docker', 'PUT', '/v2/team/app/manifests/latest', 'write', '{}', 'application/vnd.oci.image.manifest.v1+json'),
  r('docker', 'DELETE', `/v2/team/app/manifests/${Z}`, 'write'),
  r('docker', 'GET', `/v2/team/app/blobs/${Z}`, 'read'),
  r('docker', 'HEAD', `/v2/team/app/blobs/${Z}`, 'read'),
  r('docker', 'DELETE', `/v2/team/app/blobs/${Z}`, 'write'),
  r('docker', 'POST', '/v2/team/app/blobs/uploads/', 'write'),
  r('docker', 'POST', `/v2/team/app/blobs/uploads/?mount=${Z}&from=team/other`, 'write'),
  r('docker', 'GET', '/v2/team/app/blobs/uploads/00000000-0000-0000-0000-000000000000', 'read'),
  r('docker', 'PATCH', '/v2/team/app/blobs/uploads/00000000-0000-0000-0000-000000000000', 'write', 'x'),
  r('docker', 'PUT', `/v2/team/app/blobs/uploads/00000000-0000-0000-0000-000000000000?digest=${Z}`, 'write', 'x'),
  r('docker', 'DELETE', '/v2/team/app/blobs/uploads/00000000-0000-0000-0000-000000000000', 'write'),
  r('docker', 'GET', `/v2/team/app/referrers/${Z}`, 'read'),
  r('npm', 'GET', '/npm/-/ping', 'public'),
  r('npm', 'GET', '/npm/-/whoami', 'read'),
  r('npm', 'GET', '/npm/-/v1/search?text=x', 'read'),
  r('npm', 'POST', '/npm/-/npm/v1/security/advisories/bulk', 'read', '{}', 'application/json'),
  r('npm', 'GET', '/npm/left-pad', 'read'),
  r('npm', 'GET', '/npm/@corp%2fpkg', 'read'),
  r('npm', 'GET', '/npm/left-pad/1.0.0', 'read'),
  r('npm', 'GET', '/npm/left-pad/-/left-pad-1.0.0.tgz', 'read'),
  r('npm', 'HEAD', '/npm/left-pad/-/left-pad-1.0.0.tgz', 'read'),
  r('npm', 'PUT', '/npm/left-pad', 'write', '{}', 'application/json'),
  r('npm', 'PUT', '/npm/left-pad/-rev/1-abc', 'write', '{}', 'application/json'),
  r('npm', 'DELETE', '/npm/left-pad/-/left-pad-1.0.0.tgz/-rev/1-abc', 'write'),
  r('npm', 'DELETE', '/npm/left-pad/-rev/1-abc', 'admin'),
  r('npm', 'GET', '/npm/-/package/left-pad/dist-tags', 'read'),
  r('npm', 'PUT', '/npm/-/package/left-pad/dist-tags/beta', 'write', '"1.0.0"', 'application/json'),
  r('npm', 'DELETE', '/npm/-/package/left-pad/dist-tags/beta', 'write'),
  r('pypi', 'GET', '/simple/', 'read'),
  r('pypi', 'GET', '/simple/demo/', 'read'),
  r('pypi', 'GET', '/simple/demo/demo-1.0.tar.gz', 'read'),
  r('pypi', 'HEAD', '/simple/demo/demo-1.0.tar.gz', 'read'),
  r('pypi', 'POST', '/pypi/', 'write', 'x', 'multipart/form-data; boundary=b'),
  r('pypi', 'POST', '/simple/', 'write', 'x', 'multipart/form-data; boundary=b'),
  r('pypi', 'POST', '/pypi/demo/1.0/yank', 'write', 'why'),
  r('maven', 'GET', '/maven2/com/example/demo/1.0/demo-1.0.jar', 'read'),
  r('maven', 'HEAD', '/maven2/com/example/demo/1.0/demo-1.0.jar', 'read'),
  r('maven', 'GET', '/maven2/com/example/demo/1.0/demo-1.0.jar.sha1', 'read'),
  r('maven', 'GET', '/maven2/com/example/demo/maven-metadata.xml', 'read'),
  r('maven', 'GET', '/maven2/com/example/demo/1.0-SNAPSHOT/maven-metadata.xml.md5', 'read'),
  r('maven', 'PUT', '/maven2/com/example/demo/1.0/demo-1.0.pom', 'write', '<project/>'),
  r('maven', 'PUT', '/maven2/com/example/demo/1.0/demo-1.0.pom.sha1', 'write', '0'.repeat(40)),
  r('maven', 'PUT', '/maven2/com/example/demo/maven-metadata.xml', 'write', '<metadata/>'),
  r('tokens', 'POST', '/api/tokens/list', 'public', '{}', 'application/json'),
  r('system', 'GET', '/health', 'public'),
  r('system', 'GET', '/ready', 'public'),
  r('system', 'GET', '/metrics', 'admin'),
  // Appended, so the every-20th sample the wrong credentials try stays under the lockout.
  r('cargo', 'GET', '/cargo/index/config.json', 'read'),
  r('cargo', 'GET', '/cargo/index/de/mo/demo', 'read'),
  r('cargo', 'GET', '/cargo/api/v1/crates?q=demo', 'read'),
  r('cargo', 'GET', '/cargo/api/v1/crates/demo/owners', 'read'),
  r('cargo', 'GET', '/cargo/api/v1/crates/demo/1.0.0/download', 'read'),
  r('cargo', 'HEAD', '/cargo/api/v1/crates/demo/1.0.0/download', 'read'),
  r('cargo', 'PUT', '/cargo/api/v1/crates/new', 'write', 'x'),
  r('cargo', 'DELETE', '/cargo/api/v1/crates/demo/1.0.0/yank', 'write'),
  r('cargo', 'PUT', '/cargo/api/v1/crates/demo/1.0.0/unyank', 'write'),
  r('raw', 'GET', '/raw/', 'read'),
  r('raw', 'GET', '/raw/dir/file.txt', 'read'),
  r('raw', 'HEAD', '/raw/dir/file.txt', 'read'),
  r('raw', 'PUT', '/raw/dir/file.txt', 'write', 'x'),
  r('raw', 'DELETE', '/raw/dir/file.txt', 'write'),
  // pulls through the pull-through cache (a distribution upstream behind the prefix hub)
  r('docker', 'GET', '/v2/hub/library/up/manifests/v1', 'read'),
  r('docker', 'HEAD', '/v2/hub/library/up/manifests/v1', 'read'),
  r('docker', 'GET', `/v2/hub/library/up/blobs/${proxiedConfig}`, 'read'),
  r('docker', 'HEAD', `/v2/hub/library/up/blobs/${Z}`, 'read'),
];

interface Variant {
  name: string;
  anonymous_read: boolean;
  docker_anon_pull: boolean;
}
const VARIANTS: Variant[] = [
  { name: 'anonymous_read off', anonymous_read: false, docker_anon_pull: false },
  { name: 'anonymous_read on', anonymous_read: true, docker_anon_pull: false },
  { name: 'docker_anon_pull on', anonymous_read: false, docker_anon_pull: true },
];

/** The seed's rules, written out independently of src/main/auth/policy.ts. */
function expected(route: Route, who: Who, v: Variant): 'allowed' | 401 | 403 {
  if (route.need === 'public') return 'allowed';
  if (who === 'bad-password' || who === 'bad-token') return 401;
  if (who === 'none') {
    if (route.need !== 'read') return 401;
    if (route.format === 'docker') {
      if (route.path === '/v2/_catalog') return 401;
      if (v.docker_anon_pull) return 'allowed';
      return v.anonymous_read && route.path !== '/v2/' ? 'allowed' : 401;
    }
    // whoami names a verified user, so it challenges even when reads are anonymous (as NORA).
    if (route.path === '/npm/-/whoami') return 401;
    return v.anonymous_read ? 'allowed' : 401;
  }
  if (ROLE[who] < RANK[route.need]) return 403;
  return who === 'oidc-write' && RANK[route.need] >= RANK.write && outsideOidcScope(route) ? 403 : 'allowed';
}

function shapeOk(route: Route, body: Buffer, type: string): boolean {
  const text = body.toString('utf8');
  if (route.format === 'pypi' || route.format === 'raw' || route.format === 'maven') return /^text\/plain/.test(type) && text.length > 0;
  try {
    const j = JSON.parse(text) as { errors?: { code?: string; detail?: string }[]; error?: string };
    if (route.format === 'docker') return typeof j.errors?.[0]?.code === 'string';
    if (route.format === 'cargo') return typeof j.errors?.[0]?.detail === 'string';
    return typeof j.error === 'string';
  } catch {
    return false;
  }
}

const secretsSeen: string[] = [];

for (const v of VARIANTS) {
  t.test(`route × caller table: ${v.name}`, async (t) => {
    const issuer = await Issuer.start();
    t.teardown(() => issuer.close());
    const reg: AuthRegistry = await startAuthRegistry({
      anonymous_read: v.anonymous_read,
      docker_anon_pull: v.docker_anon_pull,
      public_metrics: false,
      oidc: oidcConfig(issuer.url),
    }, undefined, PROXY);
    t.teardown(() => reg.close());
    const tokens = {
      read: await mint(reg.url, 'alice', USERS.alice, 'read'),
      write: await mint(reg.url, 'alice', USERS.alice, 'write'),
      admin: await mint(reg.url, 'admin', USERS.admin, 'admin'),
    };
    secretsSeen.push(...Object.values(tokens));
    const headers: Record<Who, string | undefined> = {
      none: undefined,
      read: bearer(tokens.read),
      write: basic('token', tokens.write),
      admin: bearer(tokens.admin),
      htpasswd: basic('alice', USERS.alice),
      'htpasswd-admin': basic('admin', USERS.admin),
      'oidc-read': bearer(await issuer.github('acme/app', 'refs/heads/feature')),
      'oidc-write': basic('oidc', await issuer.github('acme/app')),
      'bad-password': basic('alice', 'not-the-password-42'),
      'bad-token': bearer('nra_' + 'e'.repeat(32)),
    };
    let cases = 0;
    const bodies: string[] = [];
    // Wrong credentials last: five failures lock the client out (429), which is tested elsewhere.
    const order: Who[] = ['none', 'read', 'write', 'admin', 'htpasswd', 'htpasswd-admin', 'oidc-read', 'oidc-write', 'bad-password', 'bad-token'];
    for (const who of order) {
      // Two refusals per wrong credential, whatever rows are added: more would lock the client out.
      const routes = who.startsWith('bad') ? ROUTES.filter((x, i) => i % 20 === 0 && x.need !== 'public').slice(0, 2) : ROUTES;
      for (const route of routes) {
        const h: Record<string, string> = {};
        if (headers[who]) h.authorization = headers[who]!;
        if (route.type) h['content-type'] = route.type;
        const res = await rawHttp(reg.port, { method: route.method, target: route.path, headers: h, body: route.body });
        cases++;
        bodies.push(res.body.toString('latin1'), JSON.stringify(res.headers));
        const want = expected(route, who, v);
        const label = `${who} ${route.method} ${route.path}`;
        if (want === 'allowed') {
          if ([401, 403, 429].includes(res.status) || res.status >= 500) t.fail(`${label}: expected to pass the gate, got ${res.status}`, { body: res.body.toString().slice(0, 200) });
        } else if (res.status !== want) {
          t.fail(`${label}: expected ${want}, got ${res.status}`, { body: res.body.toString().slice(0, 200) });
        } else {
          if (route.method !== 'HEAD' && !shapeOk(route, res.body, res.headers['content-type'] ?? '')) t.fail(`${label}: ${want} not in the ${route.format} error shape`);
          if (want === 401 && !/^Basic realm=/.test(res.headers['www-authenticate'] ?? '')) t.fail(`${label}: 401 without a Basic challenge`);
        }
      }
    }
    t.pass(`${cases} route × caller cases checked`);

    // Secrets never reach the log or any response.
    const tokenHashes: string[] = [];
    for (const f of (await readdir(join(reg.dir, 'tokens'))).filter((n) => n.endsWith('.json'))) {
      tokenHashes.push((JSON.parse(await readFile(join(reg.dir, 'tokens', f), 'utf8')) as { token_hash: string }).token_hash);
    }
    const htHashes = (await readFile(reg.htpasswd, 'utf8')).split('\n').filter(Boolean).map((l) => l.slice(l.indexOf(':') + 1));
    const secrets = [...Object.values(USERS), 'not-the-password-42', 'nra_' + 'e'.repeat(32), ...Object.values(tokens), ...tokenHashes, ...htHashes];
    const b64 = Object.values(headers).filter((x): x is string => !!x).map((x) => x.split(' ').pop()!);
    const log = reg.logs.join('\n');
    const leakedToLog = [...secrets, ...b64].filter((s) => log.includes(s));
    t.same(leakedToLog, [], 'no password, token, hash or Authorization value in the log');
    const responses = bodies.join('\n');
    t.same(secrets.filter((s) => responses.includes(s)), [], 'no secret echoed in any response');
    t.ok(reg.logs.some((l) => l.includes('"event":"auth_failure"')), 'failures are audited (without the secret)');
  });
}

// ---- token API: the caller is in the body --------------------------------

type BodyWho = 'htpasswd' | 'htpasswd-admin' | 'read' | 'write' | 'admin' | 'bad-password' | 'unknown-user';
const TOKEN_ROUTES = ['/api/tokens', '/api/tokens/list', '/api/tokens/revoke'] as const;

/** The rule written out: only an htpasswd password manages tokens; an admin_users member reaches everyone's. */
function expectedBody(who: BodyWho): 200 | 401 {
  return who === 'htpasswd' || who === 'htpasswd-admin' ? 200 : 401;
}

for (const anonymous_read of [false, true]) {
  t.test(`token routes × caller in the body: anonymous_read ${anonymous_read ? 'on' : 'off'}`, async (t) => {
    const reg = await startAuthRegistry({ anonymous_read });
    t.teardown(() => reg.close());
    const dir = reg.config.auth.token_storage;
    const tokens = {
      read: await mint(reg.url, 'alice', USERS.alice, 'read'),
      write: await mint(reg.url, 'alice', USERS.alice, 'write'),
      admin: await mint(reg.url, 'admin', USERS.admin, 'admin'),
    };
    const creds: Record<BodyWho, { username: string; password: string }> = {
      htpasswd: { username: 'alice', password: USERS.alice },
      'htpasswd-admin': { username: 'admin', password: USERS.admin },
      read: { username: 'alice', password: tokens.read },
      write: { username: 'alice', password: tokens.write },
      admin: { username: 'admin', password: tokens.admin },
      'bad-password': { username: 'alice', password: 'not-the-password-42' },
      'unknown-user': { username: 'mallory', password: USERS.alice },
    };
    // Each caller from its own address (trusted_proxies holds loopback): 3 failures each stay under the lockout.
    const ip = (who: BodyWho) => `203.0.113.${Object.keys(creds).indexOf(who) + 1}`;
    const send = async (who: BodyWho, path: string, extra: object) => {
      const res = await rawHttp(reg.port, {
        method: 'POST',
        target: path,
        headers: { 'content-type': 'application/json', 'x-forwarded-for': ip(who) },
        body: JSON.stringify({ ...creds[who], ...extra }),
      });
      let body: any = null;
      try {
        body = JSON.parse(res.body.toString('utf8'));
      } catch {
        /* checked below */
      }
      return { status: res.status, body, type: res.headers['content-type'] ?? '' };
    };
    let cases = 0;
    for (const who of Object.keys(creds) as BodyWho[]) {
      const want = expectedBody(who);
      // Revoke a 6-character prefix of one of alice's tokens: for a caller who may, a throwaway one (an admin reaches it too).
      const victim = want === 200 ? await mint(reg.url, 'alice', USERS.alice, 'read', 1) : tokens.write;
      for (const path of TOKEN_ROUTES) {
        const before = await snapshotTree(dir);
        const extra = path === '/api/tokens' ? { role: 'read', ttl_days: 1 } : path === '/api/tokens/revoke' ? { hash_prefix: tokenId(victim).slice(0, 6) } : {};
        const res = await send(who, path, extra);
        cases++;
        const label = `${who} in the body: POST ${path}`;
        if (res.status !== want) t.fail(`${label}: expected ${want}, got ${res.status}`, { body: res.body });
        if (!/^application\/json/.test(res.type) || (want === 401 && typeof res.body?.error !== 'string')) t.fail(`${label}: not a {"error": ...} JSON body`);
        if (want === 401) {
          if (diffSnapshots(before, await snapshotTree(dir)).length) t.fail(`${label}: the token directory changed`);
        } else if (path === '/api/tokens/list') {
          const owners = [...new Set((res.body.tokens as { user?: string }[]).map((x) => x.user))].sort();
          t.same(owners, who === 'htpasswd-admin' ? ['admin', 'alice'] : [undefined], `${label}: ${who === 'htpasswd-admin' ? "every user's tokens" : 'own tokens only'}`);
        } else if (path === '/api/tokens/revoke') {
          t.same(res.body, { revoked: tokenId(victim) }, `${label}: revoked by a 6-character prefix`);
        }
      }
    }
    t.pass(`${cases} token route × body caller cases checked`);

    // The refusals counted: two more token attempts from the read token's address (3 so far) lock it out.
    for (let i = 0; i < 2; i++) t.equal((await send('read', '/api/tokens/list', {})).status, 401);
    const locked = await rawHttp(reg.port, {
      method: 'POST',
      target: '/api/tokens/list',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': ip('read') },
      body: JSON.stringify(creds.htpasswd),
    });
    t.equal(locked.status, 429, 'five token refusals lock the address out, even for the right password');
    t.equal((await send('htpasswd', '/api/tokens/list', {})).status, 200, 'other addresses are not affected');
  });
}

// ---- proxied reads: the same gate in front of the pull-through caches ----

/** A small upstream: one npm package and one PyPI project, each with a file; records what it is asked. */
async function packageUpstream(t: Tap.Test): Promise<{ url: string; asked: { path: string; authorization?: string }[] }> {
  const tgz = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const whl = Buffer.from('not really a wheel, but hashed like one');
  const asked: { path: string; authorization?: string }[] = [];
  let base = '';
  const server = http.createServer((req, res) => {
    asked.push({ path: req.url!, authorization: req.headers.authorization });
    const integrity = `sha512-${createHash('sha512').update(tgz).digest('base64')}`;
    const sha = createHash('sha256').update(whl).digest('hex');
    if (req.url === '/up-pkg')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'up-pkg', 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': { name: 'up-pkg', version: '1.0.0', dist: { tarball: `${base}/up-pkg/-/up-pkg-1.0.0.tgz`, integrity } } } }));
    if (req.url === '/up-pkg/-/up-pkg-1.0.0.tgz') return void res.writeHead(200, { 'content-length': tgz.length }).end(tgz);
    if (req.url === '/simple/up-proj/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(`<a href="/files/up_proj-1.0-py3-none-any.whl#sha256=${sha}">up_proj-1.0-py3-none-any.whl</a>`);
    if (req.url === '/files/up_proj-1.0-py3-none-any.whl') return void res.writeHead(200, { 'content-length': whl.length }).end(whl);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { url: base, asked };
}

const PROXIED: Route[] = [
  r('npm', 'GET', '/npm/up-pkg', 'read'),
  r('npm', 'GET', '/npm/up-pkg/1.0.0', 'read'),
  r('npm', 'GET', '/npm/up-pkg/-/up-pkg-1.0.0.tgz', 'read'),
  r('npm', 'HEAD', '/npm/up-pkg/-/up-pkg-1.0.0.tgz', 'read'),
  r('pypi', 'GET', '/simple/up-proj/', 'read'),
  r('pypi', 'GET', '/simple/up-proj/up_proj-1.0-py3-none-any.whl', 'read'),
];

for (const anonymous_read of [false, true]) {
  t.test(`proxied npm and PyPI reads × caller: anonymous_read ${anonymous_read ? 'on' : 'off'}`, async (t) => {
    const up = await packageUpstream(t);
    const v: Variant = { name: '', anonymous_read, docker_anon_pull: false };
    const reg = await startAuthRegistry({ anonymous_read }, USERS, {}, {
      npm: { proxy: up.url, proxy_auth: 'mirror:mirror-pw', proxy_timeout: 30, metadata_ttl: 300, serve_stale: true, revalidate: true },
      pypi: { proxy: `${up.url}/simple/`, proxy_auth: '', proxies: [], proxy_timeout: 30 },
    });
    t.teardown(() => reg.close());
    const tokens = { read: await mint(reg.url, 'alice', USERS.alice, 'read') };
    const headers: Partial<Record<Who, string>> = { read: bearer(tokens.read), htpasswd: basic('alice', USERS.alice), 'bad-token': bearer('nra_' + 'e'.repeat(32)) };
    // Refused callers first: until an allowed caller reads, the upstream must not have been asked at all.
    // The bad token tries two routes only: five failures would lock the address out (429).
    const order: Who[] = anonymous_read ? ['bad-token', 'none', 'read', 'htpasswd'] : ['none', 'bad-token', 'read', 'htpasswd'];
    for (const who of order) {
      for (const route of who === 'bad-token' ? [PROXIED[0]!, PROXIED[5]!] : PROXIED) {
        const h: Record<string, string> = headers[who] ? { authorization: headers[who]! } : {};
        const res = await rawHttp(reg.port, { method: route.method, target: route.path, headers: h });
        const want = expected(route, who, v);
        const label = `${who} ${route.method} ${route.path}`;
        if (want === 'allowed') t.equal(res.status, 200, `${label}: 200 through the proxy`);
        else {
          t.equal(res.status, want, `${label}: ${want}`);
          if (route.method !== 'HEAD') t.ok(shapeOk(route, res.body, res.headers['content-type'] ?? ''), `${label}: in the ${route.format} shape`);
        }
      }
      if (who === order[1] && !anonymous_read) t.same(up.asked, [], 'refused callers never make nora-ts ask the upstream');
    }
    const secrets = [USERS.alice, tokens.read, 'nra_' + 'e'.repeat(32)];
    const sent = up.asked.map((a) => a.authorization ?? '').join('\n');
    t.same(secrets.filter((s) => sent.includes(s) || sent.includes(Buffer.from(`alice:${s}`).toString('base64'))), [], 'no client credential reaches the upstream');
    t.ok(up.asked.filter((a) => a.path.startsWith('/up-pkg')).every((a) => a.authorization === basic('mirror', 'mirror-pw')), 'npm.proxy_auth is what the npm upstream gets');
    t.ok(up.asked.filter((a) => !a.path.startsWith('/up-pkg')).every((a) => a.authorization === undefined), 'PyPI without proxy_auth sends none');
  });
}
