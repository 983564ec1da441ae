// Every web UI route × every kind of visitor × auth off, gated, anonymous_read
// and docker_anon_pull, against rules written out here independently of the
// UI's code: a page is shown to whoever may read the API it mirrors — a
// format's list its listing (Docker's: the catalog, never anonymous), an
// entry's page a read of that entry, the dashboard and search whoever may list
// some format; signed-in htpasswd users read everything. Anonymous visitors
// who may not are sent to sign in (303 to /ui/login?next=...); forms without
// the CSRF token are refused (403). Sign-in goes through the form (fetch,
// with its cookie and CSRF field). Afterwards the logs and bodies are searched
// for the passwords and session ids used.
import t from 'tap';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { basic, startAuthRegistry, USERS, type AuthRegistry } from './helpers/auth.js';
import { startRegistry, type Running } from './helpers/registry.js';
import { pushImage } from './helpers/oci-push.js';
import { uiSignIn } from './helpers/ui-session.js';

type Setting = 'off' | 'gated' | 'anonymous_read' | 'docker_anon_pull';
type Who = 'anonymous' | 'bad-cookie' | 'alice' | 'admin';
type Rule = 'page' | 'list-docker' | 'read-docker' | 'read-other' | 'some-list' | 'account' | 'login' | 'asset' | 'form';
type Outcome = 200 | 404 | 303 | 403 | 'login';

interface Route {
  path: string;
  rule: Rule;
  method?: string;
  /** the status when allowed (an entry that does not exist answers 404) */
  ok?: 200 | 404;
}

const ROUTES: Route[] = [
  { path: '/ui/', rule: 'some-list' },
  { path: '/ui/search?q=a', rule: 'some-list' },
  { path: '/ui/docker/', rule: 'list-docker' },
  { path: '/ui/docker/?q=team', rule: 'list-docker' },
  { path: '/ui/docker/team/app', rule: 'read-docker' },
  { path: '/ui/docker/team/app?ref=v1', rule: 'read-docker' },
  { path: '/ui/docker/team/missing', rule: 'read-docker', ok: 404 },
  { path: '/ui/npm/', rule: 'read-other' },
  { path: '/ui/npm/nora-hello', rule: 'read-other' },
  { path: '/ui/pypi/', rule: 'read-other' },
  { path: '/ui/pypi/demo', rule: 'read-other', ok: 404 },
  { path: '/ui/tokens', rule: 'account' },
  { path: '/ui/login', rule: 'login' },
  { path: '/ui/assets/none.css', rule: 'asset' },
  { path: '/ui/tokens', rule: 'form', method: 'POST' },
  { path: '/ui/tokens/revoke', rule: 'form', method: 'POST' },
  { path: '/ui/logout', rule: 'form', method: 'POST' },
];

/** What a visitor may do under a setting, from the seed document's rules. */
function expected(route: Route, s: Setting, who: Who): Outcome {
  const signedIn = s !== 'off' && (who === 'alice' || who === 'admin');
  const anonymousRead = (format: 'docker' | 'other', listing: boolean): boolean => {
    if (s === 'off') return true;
    if (format === 'docker' && listing) return false; // the catalog always needs credentials
    if (s === 'anonymous_read') return true;
    return s === 'docker_anon_pull' && format === 'docker';
  };
  const gate = (allowed: boolean): Outcome => (signedIn || allowed ? route.ok ?? 200 : 'login');
  switch (route.rule) {
    case 'asset':
      return 404;
    case 'some-list':
      return gate(anonymousRead('docker', true) || anonymousRead('other', true));
    case 'list-docker':
      return gate(anonymousRead('docker', true));
    case 'read-docker':
      return gate(anonymousRead('docker', false));
    case 'read-other':
      return gate(anonymousRead('other', false));
    case 'account':
      return s === 'off' ? 404 : signedIn ? 200 : 'login';
    case 'login':
      return s === 'off' ? 404 : signedIn ? 303 : 200;
    case 'form':
      // POSTs without the CSRF field: refused; the token forms first ask an anonymous visitor to sign in.
      if (s === 'off') return route.path === '/ui/logout' ? 403 : 404;
      return !signedIn && route.path !== '/ui/logout' ? 303 : 403;
    default:
      return 200;
  }
}

async function seed(r: Running, auth?: string): Promise<void> {
  // The push helpers send no credentials: add them for the seeding only.
  const plain = globalThis.fetch;
  globalThis.fetch = ((input: string | URL | Request, init: RequestInit = {}) =>
    plain(input, auth ? { ...init, headers: { ...(init.headers as Record<string, string>), authorization: auth } } : init)) as typeof fetch;
  try {
    await pushImage(r, 'team/app', 'v1');
    const data = gzipSync(Buffer.from('tarball bytes'));
    const res = await fetch(`${r.url}/npm/nora-hello`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'nora-hello',
        'dist-tags': { latest: '1.0.0' },
        versions: { '1.0.0': { name: 'nora-hello', version: '1.0.0', dist: { integrity: 'sha512-' + createHash('sha512').update(data).digest('base64'), shasum: createHash('sha1').update(data).digest('hex') } } },
        _attachments: { 'nora-hello-1.0.0.tgz': { content_type: 'application/octet-stream', data: data.toString('base64'), length: data.length } },
      }),
    });
    if (res.status !== 201 && res.status !== 200) throw new Error(`publish: ${res.status} ${await res.text()}`);
  } finally {
    globalThis.fetch = plain;
  }
}

const SETTINGS: Setting[] = ['off', 'gated', 'anonymous_read', 'docker_anon_pull'];

t.test('UI routes × visitors × settings', async (t) => {
  const secrets: string[] = Object.values(USERS);
  const bodies: string[] = [];
  for (const s of SETTINGS) {
    const r: Running | AuthRegistry =
      s === 'off' ? await startRegistry() : await startAuthRegistry(s === 'gated' ? {} : { [s]: true });
    t.teardown(() => r.close());
    await seed(r, s === 'off' ? undefined : basic('alice', USERS.alice));
    const cookies: Partial<Record<Who, string>> = { 'bad-cookie': `nora_session=${'A'.repeat(43)}` };
    if (s !== 'off') {
      for (const who of ['alice', 'admin'] as const) {
        const got = await uiSignIn(r.url, who, USERS[who]);
        t.equal(got.status, 303, `${s}: ${who} signs in`);
        cookies[who] = got.cookie!;
        secrets.push(got.cookie!.split('=')[1]!);
      }
    }
    for (const route of ROUTES) {
      for (const who of ['anonymous', 'bad-cookie', 'alice', 'admin'] as const) {
        const want = expected(route, s, who);
        const res = await fetch(r.url + route.path, {
          method: route.method ?? 'GET',
          redirect: 'manual',
          headers: {
            ...(cookies[who] ? { cookie: cookies[who]! } : {}),
            ...(route.method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
          },
          ...(route.method === 'POST' ? { body: 'hash_prefix=abcdef&role=read&ttl_days=1' } : {}),
        });
        const body = await res.text();
        bodies.push(body);
        const label = `${s}: ${who} ${route.method ?? 'GET'} ${route.path}`;
        if (want === 'login') {
          t.same([res.status, res.headers.get('location')?.split('?')[0]], [303, '/ui/login'], `${label} → sign in`);
        } else {
          t.equal(res.status, want, label);
          if (res.status !== 303) t.match(res.headers.get('content-type'), /^text\/html/, `${label}: an HTML page`);
        }
        t.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/, `${label}: with the CSP`);
      }
    }
    if ('logs' in r) bodies.push(...r.logs);
  }
  for (const secret of secrets) t.notOk(bodies.some((b) => b.includes(secret)), 'no password or session id in any answer or log line');
});

t.test('sign-in: bad passwords, API tokens as passwords, the lockout', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  t.equal((await uiSignIn(r.url, 'alice', 'nope')).status, 401, 'a wrong password');
  t.equal((await uiSignIn(r.url, 'alice', `nra_${'0'.repeat(32)}`)).status, 401, 'an API token is not a password here');
  for (let i = 0; i < 4; i++) await uiSignIn(r.url, 'mallory', 'x');
  const locked = await uiSignIn(r.url, 'alice', USERS.alice);
  t.equal(locked.status, 429, 'after 5 failures from this address, even the right password waits (the same lockout as the APIs)');
  t.equal(locked.cookie, undefined, 'and no session');
});
