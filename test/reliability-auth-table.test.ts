// Every route of every format × every kind of caller × anonymous_read off/on
// and docker_anon_pull, against the rules of the seed document written out
// here independently of the policy code: reads need the read role, pushes and
// deletes write, removing a whole npm package and a gated /metrics admin;
// htpasswd users are write (never admin); anonymous callers only read, and only
// with anonymous_read (Docker: not the /v2/ ping nor the catalog, unless
// docker_anon_pull opens the ping). A refusal is 401 without (valid)
// credentials, 403 with too small a role, in the format's own error shape.
// The auth gate's existing tests cover the /v2/ core routes; this adds npm,
// PyPI, the token API, system paths and every Docker route. Afterwards the
// captured log and every response body are searched for the secrets used.
import t from 'tap';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { basic, bearer, mint, startAuthRegistry, USERS, type AuthRegistry } from './helpers/auth.js';
import { rawHttp } from './helpers/raw-http.js';

type Need = 'public' | 'read' | 'write' | 'admin';
type Who = 'none' | 'read' | 'write' | 'admin' | 'htpasswd' | 'htpasswd-admin' | 'bad-password' | 'bad-token';
const RANK: Record<Need, number> = { public: 0, read: 1, write: 2, admin: 3 };
const ROLE: Record<Exclude<Who, 'none' | 'bad-password' | 'bad-token'>, number> = { read: 1, write: 2, admin: 3, htpasswd: 2, 'htpasswd-admin': 2 };

const Z = 'sha256:' + '0'.repeat(64);
type Format = 'docker' | 'npm' | 'pypi' | 'tokens' | 'system';
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
  r('tokens', 'POST', '/api/tokens/list', 'public', '{}', 'application/json'),
  r('system', 'GET', '/health', 'public'),
  r('system', 'GET', '/ready', 'public'),
  r('system', 'GET', '/metrics', 'admin'),
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
  return ROLE[who] >= RANK[route.need] ? 'allowed' : 403;
}

function shapeOk(route: Route, body: Buffer, type: string): boolean {
  const text = body.toString('utf8');
  if (route.format === 'pypi') return /^text\/plain/.test(type) && text.length > 0;
  try {
    const j = JSON.parse(text) as { errors?: { code?: string }[]; error?: string };
    if (route.format === 'docker') return typeof j.errors?.[0]?.code === 'string';
    return typeof j.error === 'string';
  } catch {
    return false;
  }
}

const secretsSeen: string[] = [];

for (const v of VARIANTS) {
  t.test(`route × caller table: ${v.name}`, async (t) => {
    const reg: AuthRegistry = await startAuthRegistry({ anonymous_read: v.anonymous_read, docker_anon_pull: v.docker_anon_pull, public_metrics: false });
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
      'bad-password': basic('alice', 'not-the-password-42'),
      'bad-token': bearer('nra_' + 'e'.repeat(32)),
    };
    let cases = 0;
    const bodies: string[] = [];
    // Wrong credentials last: five failures lock the client out (429), which is tested elsewhere.
    const order: Who[] = ['none', 'read', 'write', 'admin', 'htpasswd', 'htpasswd-admin', 'bad-password', 'bad-token'];
    for (const who of order) {
      const routes = who.startsWith('bad') ? ROUTES.filter((_, i) => i % 20 === 0) : ROUTES;
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
