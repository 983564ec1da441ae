// The pieces of workload identity below the HTTP tests: segment-aware scope
// globs, claim placeholders (a missing or hostile claim never widens a scope),
// JWT shape detection, and [auth.oidc] / [rate_limit] configuration errors
// naming the exact key.
import t from 'tap';
import { NamespaceScope, expandScope, scopeGlob, textGlob } from '../src/main/auth/namespace-scope.js';
import { isJwt, parseAuthorization } from '../src/main/auth/credentials.js';
import { buildConfig } from '../src/main/config.js';
import { Jwks } from '../src/main/auth/jwks.js';
import { Logger } from '../src/main/log.js';
import { Issuer } from './helpers/oidc-issuer.js';

t.test('scope globs are segment-aware', async (t) => {
  const cases: [string, string, boolean][] = [
    ['acme/app', 'acme/app', true],
    ['acme/app', 'acme/app2', false],
    ['acme/*', 'acme/app', true],
    ['acme/*', 'acme/app/sub', false],
    ['acme/*', 'acme', false],
    ['acme/**', 'acme/app/sub/deep', true],
    ['acme/**', 'acme', false],
    ['acme/**/tools', 'acme/a/b/tools', true],
    ['acme/**/tools', 'acme/tools', false],
    ['acme-*', 'acme-lib', true],
    ['acme-*', 'acme/lib', false],
    ['@acme/*', '@acme/pkg', true],
    ['*', 'any/thing/at/all', true],
    ['**', 'x', true],
  ];
  for (const [p, name, want] of cases) t.equal(scopeGlob(p, name), want, `${p} ~ ${name}`);
  t.ok(textGlob('repo:acme/*:ref:refs/heads/main', 'repo:acme/app:ref:refs/heads/main'), 'text glob crosses slashes');
  t.notOk(textGlob('repo:acme/*:ref:refs/heads/main', 'repo:acme/app:ref:refs/heads/feature'));
  t.ok(textGlob('a*b*c', 'aXbYc'));
  t.notOk(textGlob('a*b*c', 'ac'));
});

t.test('claim placeholders', async (t) => {
  t.same(expandScope(['{repository}', '{repository}/**'], { repository: 'acme/app' }), ['acme/app', 'acme/app/**']);
  t.same(expandScope(['{repository}/**'], {}), [], 'a missing claim drops the pattern');
  t.same(expandScope(['{repository}/**'], { repository: '*' }), [], 'a glob in a claim drops it');
  t.same(expandScope(['{repository}/**'], { repository: 'acme/../x' }), [], 'path syntax in a claim drops it');
  t.same(expandScope(['{repository}/**'], { repository: 42 }), [], 'a non-string claim drops it');
  const dropped = NamespaceScope.of('p', [['*'], expandScope(['{missing}'], {})], false)!;
  t.notOk(dropped.allows('anything'), 'nothing left: every write refused');
  t.equal(NamespaceScope.of('p', [['*'], undefined], false), undefined, 'unrestricted: no scope at all');
  const both = NamespaceScope.of('p', [['acme/**'], ['acme/app', 'other/x']], false)!;
  t.ok(both.allows('acme/app'));
  t.notOk(both.allows('other/x'), 'the provider and the rule list must both match');
});

t.test('JWT shape and how credentials carry it', async (t) => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
  t.ok(isJwt(jwt));
  t.ok(isJwt('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'), 'alg none (empty signature) still goes to the verifier');
  for (const bad of ['eyJ.x', 'abc.def.ghi', 'eyJa..c', 'eyJa.b.c.d', 'eyJa.b+c.d']) t.notOk(isJwt(bad), bad);
  t.match(parseAuthorization(`Bearer ${jwt}`), { kind: 'jwt', user: '' });
  t.match(parseAuthorization('Basic ' + Buffer.from(`oidc:${jwt}`).toString('base64')), { kind: 'jwt', user: 'oidc' });
  t.match(parseAuthorization('Basic ' + Buffer.from('alice:pw').toString('base64')), { kind: 'password' });
});

t.test('[auth.oidc] and [rate_limit] configuration errors name the key', async (t) => {
  const base = '[auth.oidc]\nenabled = true\n[[auth.oidc.providers]]\nname = "gh"\nissuer = "https://token.actions.githubusercontent.com"\n';
  const bad: [string, RegExp][] = [
    ['algorithms = ["HS256"]', /auth\.oidc\.providers\[0\]\.algorithms: "HS256" is not accepted/],
    ['algorithms = ["none"]', /auth\.oidc\.providers\[0\]\.algorithms: "none" is not accepted/],
    ['algorithms = []', /algorithms: must name at least one/],
    ['namespace_scope = ["a/**x"]', /namespace_scope\[0\]: "a\/\*\*x": \*\* must be a whole segment/],
    ['namespace_scope_enforcement = "warn"', /namespace_scope_enforcement: expected "enforce" or "audit"/],
    ['audiense = "x"', /auth\.oidc\.providers\[0\]\.audiense: unknown key/],
    ['max_token_lifetime_secs = 0', /max_token_lifetime_secs: expected an integer/],
    ['jwks_uri = "ftp://x"', /jwks_uri: must be an http\(s\) URL/],
    ['role_rules = [{ pattern = "*", role = "root" }]', /role_rules\[0\]\.role: expected read, write or admin/],
  ];
  for (const [line, want] of bad) t.throws(() => buildConfig(base + line + '\n', {}), want, line);
  t.throws(() => buildConfig('[auth.oidc]\nleeway = 5\n', {}), /auth\.oidc\.leeway: unknown key/);
  t.throws(() => buildConfig(base + '[[auth.oidc.providers]]\nname = "gh"\nissuer = "https://gitlab.com"\n', {}), /providers\[1\]\.name: duplicate/);
  t.throws(() => buildConfig('[[auth.oidc.providers]]\nname = "x"\n', {}), /providers\[0\]\.issuer: required/);
  t.equal(buildConfig('[auth.oidc]\nenabled = false\n', { NORA_AUTH_OIDC_ENABLED: 'true' }).auth.oidc.enabled, true, 'the variable sets enabled');
  t.throws(() => buildConfig(null, { NORA_AUTH_OIDC_ENABLED: 'maybe' }), /NORA_AUTH_OIDC_ENABLED: expected true or false/);
  const rl = buildConfig(null, { NORA_RATE_LIMIT_ENABLED: 'true', NORA_RATE_LIMIT_GENERAL_RPS: '50' }).rate_limit;
  t.match(rl, { enabled: true, general_rps: 50, general_burst: 200 });
  t.throws(() => buildConfig(null, { NORA_RATE_LIMIT_UPLOAD_BURST: '0' }), /NORA_RATE_LIMIT_UPLOAD_BURST: must be at least 1/);
  t.equal(buildConfig(null, {}).rate_limit.enabled, false, 'off unless asked for');
});

t.test('JWKS: keys past their cache time are used while a refresh runs; a hung issuer delays nobody', async (t) => {
  const issuer = await Issuer.start();
  t.teardown(() => issuer.close());
  const kid = await issuer.addKey('RS256');
  const jwks = new Jwks(issuer.url, '', 1, new Logger('error'));
  t.ok(await jwks.key(kid, 'RS256'), 'first use fetches the keys');
  t.equal(issuer.jwksRequests, 1);
  t.equal(issuer.discoveryRequests, 1, 'found through discovery');
  t.notOk(await jwks.key(kid, 'ES256'), 'a key is only used for its own algorithm');
  t.equal(issuer.jwksRequests, 2, 'that unknown key forced one refresh');
  t.equal(issuer.discoveryRequests, 1, 'the discovered jwks_uri is remembered');
  issuer.hang = true;
  await new Promise((r) => setTimeout(r, 1100));
  const t0 = performance.now();
  t.ok(await jwks.key(kid, 'RS256'), 'stale key served');
  t.ok(performance.now() - t0 < 500, `without waiting on the hung issuer (${Math.round(performance.now() - t0)} ms)`);
  issuer.hang = false;
});
