// Workload identity end to end: two local issuers (GitHub-shaped and
// GitLab-shaped tokens, RS256 and ES256) configured through TOML as an
// operator would, a registry on TLS (so skopeo and docker do not stall on the
// https probe), and real clients. A job pushes inside its namespace scope,
// is refused (403) outside it and under a read-only rule; every kind of bad
// token is a 401; the issuer going down leaves cached keys working; a key
// rotation is picked up with one JWKS fetch and made-up kids cost no more.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildConfig } from '../src/main/config.js';
import { startRegistry, tempDir } from './helpers/registry.js';
import { basic, dockerLogin, makeHtpasswd } from './helpers/auth.js';
import { buildOciImage } from './helpers/oci-image.js';
import { issue, makeCa, tlsFetch } from './helpers/tls.js';
import { Issuer, unsignedOrSymmetric } from './helpers/oidc-issuer.js';
import { NpmWorkspace, makePackage } from './helpers/npm-cli.js';
import { buildProject, twine } from './helpers/pypi-tools.js';
import { publishBody, publishMeta } from './helpers/cargo-wire.js';
import { setLogSink } from '../src/main/log.js';

const exec = promisify(execFile);

t.test('OIDC workload identity', async (t) => {
  const work = await tempDir('nora-oidc-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const gh = await Issuer.start();
  const gl = await Issuer.start('/oauth/discovery/keys');
  const stranger = await Issuer.start();
  t.teardown(() => Promise.all([gh.close(), gl.close(), stranger.close()]));

  // The operator's config.toml: GitHub by discovery, GitLab with an explicit jwks_uri.
  const toml = `
[auth.oidc]
enabled = true
leeway_secs = 1
jwks_cache_secs = 3600

[[auth.oidc.providers]]
name = "github"
issuer = "${gh.url}"
audience = "nora-test"
namespace_scope = ["acme/**", "acme-*", "@acme/*"]

[[auth.oidc.providers.role_rules]]
pattern = "repo:acme/*:ref:refs/heads/main"
role = "write"
namespace_scope = ["{repository}", "{repository}/**", "acme-app*", "@acme/app"]
claims = { workflow = "release*" }

[[auth.oidc.providers.role_rules]]
pattern = "repo:acme/*"
role = "read"

[[auth.oidc.providers]]
name = "gitlab"
issuer = "${gl.url}"
jwks_uri = "${gl.url}/oauth/discovery/keys"
audience = "nora-test"
algorithms = ["ES256"]
max_token_lifetime_secs = 600
role_rules = [{ pattern = "project_path:grp/*", role = "write", namespace_scope = ["{project_path}/**"] }]
`;
  const oidc = buildConfig(toml, {}).auth.oidc;
  t.equal(oidc.providers.length, 2, 'providers read from TOML');

  const ca = await makeCa(join(work, 'ca'), 'oidc-ca');
  const cert = await issue(ca, 'registry');
  const caPem = await readFile(ca.cert);
  const certDir = join(work, 'certs');
  await mkdir(certDir);
  await copyFile(ca.cert, join(certDir, 'ca.crt'));
  const htpasswd = await makeHtpasswd(work, { alice: 'alice-pw' });
  const logs: string[] = [];
  setLogSink((l) => logs.push(l));
  const r = await startRegistry({
    server: { tls_cert: cert.cert, tls_key: cert.key },
    auth: { enabled: true, htpasswd_file: htpasswd, hash_workers: 1, oidc },
    log: { level: 'info' },
  });
  t.teardown(() => r.close());
  const host = `127.0.0.1:${r.port}`;
  const base = `https://${host}`;
  let ipSeq = 1;
  // Each caller its own forwarded address (loopback is a trusted proxy): the many 401s below must not trip the lockout.
  const req = (path: string, auth: string, method = 'GET', body?: string | Buffer) =>
    tlsFetch(base + path, caPem, { method, body, headers: { authorization: auth, 'x-forwarded-for': `10.9.0.${ipSeq++}` } });
  const skopeo = (args: string[]) =>
    exec('skopeo', args, { maxBuffer: 16 << 20 }).then(
      (o) => ({ ok: true, out: o.stdout + o.stderr }),
      (e: { stdout: string; stderr: string }) => ({ ok: false, out: e.stdout + e.stderr }),
    );
  const img = await buildOciImage(join(work, 'img'), 'v1');
  const push = (creds: string, repo: string) =>
    skopeo(['copy', '--dest-tls-verify=true', '--dest-cert-dir', certDir, '--dest-creds', creds, `oci:${img.dir}:v1`, `docker://${host}/${repo}:v1`]);

  t.test('GitHub job: skopeo push inside its scope, 403 outside it and under a read-only rule', async (t) => {
    const job = await gh.github('acme/app');
    const inside = await push(`oidc:${job}`, 'acme/app');
    t.ok(inside.ok, `push to acme/app: ${inside.out}`);
    const nested = await push(`oidc:${job}`, 'acme/app/tools');
    t.ok(nested.ok, `push to acme/app/tools: ${nested.out}`);
    const pulled = await skopeo(['inspect', '--tls-verify=true', '--cert-dir', certDir, '--creds', `oidc:${job}`, `docker://${host}/acme/app:v1`]);
    t.ok(pulled.ok, 'pull with the same token');

    const outside = await push(`oidc:${job}`, 'acme/other');
    t.notOk(outside.ok, 'push to another repository of the org is refused');
    t.match(outside.out, /denied|403/i);
    const raw = await req('/v2/acme/other/blobs/uploads/', `Bearer ${job}`, 'POST');
    t.equal(raw.status, 403, 'Bearer JWT outside the scope: 403');
    t.equal(JSON.parse(raw.body.toString()).errors[0].code, 'DENIED', 'in the OCI error shape');

    const feature = await gh.github('acme/app', 'refs/heads/feature');
    const ro = await push(`oidc:${feature}`, 'acme/app');
    t.notOk(ro.ok, 'a feature-branch job (read-only rule) cannot push');
    t.equal((await req('/v2/acme/app/blobs/uploads/', `Bearer ${feature}`, 'POST')).status, 403);
    t.equal((await req('/v2/acme/app/manifests/v1', `Bearer ${feature}`, 'HEAD')).status, 200, 'but it can read');
    const wrongWorkflow = await gh.github('acme/app', 'refs/heads/main', 'lint');
    t.equal((await req('/v2/acme/app/blobs/uploads/', `Bearer ${wrongWorkflow}`, 'POST')).status, 403, 'the workflow claim rule picks the read rule');
    const metrics = (await tlsFetch(`${base}/metrics`, caPem)).body.toString();
    t.match(metrics, /nora_auth_namespace_scope_total\{provider="github",decision="deny"\} [1-9]/, 'scope denials counted');
    t.match(metrics, /nora_auth_namespace_scope_total\{provider="github",decision="allow"\} [1-9]/, 'scope allows counted');
  });

  t.test('GitLab job (ES256, explicit jwks_uri) writes its project, npm and PyPI see the same identity', async (t) => {
    const job = await gl.gitlab('grp/proj', 'main', { alg: 'ES256' });
    const inside = await push(`oidc:${job}`, 'grp/proj/app');
    t.ok(inside.ok, `push to grp/proj/app: ${inside.out}`);
    t.equal((await req('/v2/grp/other/blobs/uploads/', `Bearer ${job}`, 'POST')).status, 403, 'other project refused');
    const who = await req('/npm/-/whoami', `Bearer ${job}`);
    t.equal(who.status, 200);
    t.equal(JSON.parse(who.body.toString()).username, 'project_path:grp/proj:ref_type:branch:ref:main', 'user = sub');
    t.equal((await req('/simple/', basic('oidc', job))).status, 200, 'JWT as the Basic password on PyPI');
    const rs = await gl.gitlab('grp/proj', 'main', { alg: 'RS256' });
    t.equal((await req('/v2/', `Bearer ${rs}`)).status, 401, 'RS256 is not in this provider\'s algorithms');
    t.ok(gl.discoveryRequests === 0, 'explicit jwks_uri: no discovery');
    t.ok(gh.discoveryRequests >= 1, 'github keys found through discovery');
  });

  t.test('npm publish and twine upload with the job token: inside the scope published, outside 403', async (t) => {
    const job = await gh.github('acme/app');
    const dir = join(work, 'npm');
    await mkdir(dir, { recursive: true });
    const ws = new NpmWorkspace(dir, `${base}/npm/`);
    await ws.configure(job, [`cafile=${ca.cert}`, 'fetch-retries=0']);
    const inside = await ws.run(['publish'], await makePackage(join(dir, 'in'), { name: '@acme/app', version: '1.0.0' }, 'in'));
    t.equal(inside.code, 0, inside.stderr);
    const outside = await ws.run(['publish'], await makePackage(join(dir, 'out'), { name: '@acme/other', version: '1.0.0' }, 'out'));
    t.not(outside.code, 0, 'npm publish of @acme/other refused');
    t.match(outside.stderr, /403/);

    const ok = await buildProject(join(work, 'py-in'), 'acme-app-tools', '0.1.0', 'in');
    const up = await twine(['--cert', ca.cert, '--repository-url', `${base}/pypi/`, '-u', 'oidc', '-p', job, ok.wheel]);
    t.equal(up.code, 0, up.stdout + up.stderr);
    const no = await buildProject(join(work, 'py-out'), 'other-pkg', '0.1.0', 'out');
    const refused = await twine(['--cert', ca.cert, '--repository-url', `${base}/pypi/`, '-u', 'oidc', '-p', job, no.wheel]);
    t.not(refused.code, 0, 'twine upload of other-pkg refused');
    t.match(refused.stdout + refused.stderr, /403/);
    t.equal((await req('/simple/other-pkg/', `Bearer ${job}`)).status, 404, 'nothing of it was stored');

    // cargo names the crate in the body too (cargo sends its token verbatim: "Bearer <jwt>")
    const crate = (name: string) => publishBody(publishMeta(name, '0.1.0'), Buffer.from(`${name} crate bytes`));
    const cin = await req('/cargo/api/v1/crates/new', `Bearer ${job}`, 'PUT', crate('acme-app-core'));
    t.equal(cin.status, 200, `cargo publish inside the scope: ${cin.body}`);
    const cout = await req('/cargo/api/v1/crates/new', `Bearer ${job}`, 'PUT', crate('serde-evil'));
    t.equal(cout.status, 403, 'cargo publish outside the scope');
    t.match(JSON.parse(cout.body.toString()).errors[0].detail, /may not write serde-evil/);
    t.equal((await req('/raw/acme-app/notes.txt', `Bearer ${job}`, 'PUT', 'x')).status, 403, 'a raw path outside the scope');
    t.notOk(logs.some((l) => l.includes(job.split('.')[2]!)), 'the token is in no log line');
  });

  t.test('docker login -u oidc --password-stdin', async (t) => {
    const job = await gh.github('acme/app');
    const ok = await dockerLogin(join(work, 'docker-ok'), host, 'oidc', job);
    t.equal(ok.code, 0, ok.out);
    t.match(ok.out, /Login Succeeded/);
    const bad = await dockerLogin(join(work, 'docker-bad'), host, 'oidc', await gh.github('acme/app', 'refs/heads/main', 'release', { exp: -120, iat: -400 }));
    t.not(bad.code, 0, 'an expired token does not log in');
  });

  t.test('JWKS: rotation fetches once, made-up kids cost nothing more, issuer down keeps cached keys', async (t) => {
    const before = gh.jwksRequests;
    await gh.addKey('RS256');
    const rotated = await gh.github('acme/app');
    t.equal((await req('/v2/acme/app/tags/list', `Bearer ${rotated}`)).status, 200, 'a token signed with the new key');
    t.equal(gh.jwksRequests, before + 1, 'one JWKS fetch for the new kid');
    for (let i = 0; i < 5; i++) {
      const bogus = await gh.github('acme/app', 'refs/heads/main', 'release', { kid: `made-up-${i}` });
      t.equal((await req('/v2/acme/app/tags/list', `Bearer ${bogus}`)).status, 401);
    }
    t.equal(gh.jwksRequests, before + 1, 'unknown kids within the cooldown: no further fetch');

    gh.down = true;
    const whileDown = await gh.github('acme/app');
    t.equal((await req('/v2/acme/app/tags/list', `Bearer ${whileDown}`)).status, 200, 'issuer down: a new token verifies with the cached keys');
    const pushed = await push(`oidc:${await gh.github('acme/app')}`, 'acme/app');
    t.ok(pushed.ok, 'and skopeo still pushes');
    gh.down = false;
  });
  t.test('a verified token is cached until its exp, never longer', async (t) => {
    const job = await gh.github('acme/app', 'refs/heads/main', 'release', { exp: 4 });
    const hits = async () => Number(/^nora_auth_cache_hits_total (\d+)/m.exec((await tlsFetch(`${base}/metrics`, caPem)).body.toString())?.[1] ?? 0);
    t.equal((await req('/v2/acme/app/tags/list', `Bearer ${job}`)).status, 200);
    const before = await hits();
    t.equal((await req('/v2/acme/app/tags/list', `Bearer ${job}`)).status, 200);
    t.equal(await hits(), before + 1, 'the second request is a cache hit');
    // past exp and the 1 s leeway: the cache must not answer, the verifier refuses
    await new Promise((r) => setTimeout(r, 6500));
    const seen = logs.length;
    t.equal((await req('/v2/acme/app/tags/list', `Bearer ${job}`)).status, 401, 'expired: 401');
    t.match(logs.slice(seen).join('\n'), /"exp\\" claim timestamp check failed/, 'verified again, not answered from the cache');
  });

  t.test('every bad token is a 401', async (t) => {
    const sub = { sub: 'repo:acme/app:ref:refs/heads/main', repository: 'acme/app', ref: 'refs/heads/main', workflow: 'release' };
    const tampered = await gh.github('acme/app');
    const [h, p, s] = tampered.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    payload.repository = 'acme/other';
    const cases: [string, string, RegExp][] = [
      ['expired', await gh.github('acme/app', 'refs/heads/main', 'release', { exp: -120, iat: -400 }), /"exp" claim timestamp check failed/],
      ['not yet valid', await gh.mint(sub, { iat: 120, exp: 400 }), /"nbf" claim timestamp check failed/],
      ['wrong issuer', await stranger.github('acme/app'), /no enabled provider has this issuer/],
      ['iss claimed but signed elsewhere', await stranger.github('acme/app', 'refs/heads/main', 'release', { iss: gh.url }), /no key for kid/],
      ['wrong audience', await gh.github('acme/app', 'refs/heads/main', 'release', { aud: 'someone-else' }), /"aud" claim/],
      ['HS256', await unsignedOrSymmetric(gh.url, 'HS256', sub), /algorithm HS256 not allowed/],
      ['alg none', await unsignedOrSymmetric(gh.url, 'none', sub), /algorithm none not allowed/],
      ['unknown kid', await gh.github('acme/app', 'refs/heads/main', 'release', { unpublished: true }), /no key for kid/],
      ['tampered payload', `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`, /signature verification failed/],
      ['tampered signature', `${h}.${p}.${s!.slice(0, -4)}${s!.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`, /signature verification failed/],
      ['lifetime above the maximum', await gh.github('acme/app', 'refs/heads/main', 'release', { exp: 3600 }), /lifetime exp − iat exceeds 900 s/],
      ['no role rule matches', await gh.github('other-org/app'), /no role rule matches/],
    ];
    for (const [what, jwt, why] of cases) {
      const seen = logs.length;
      const bearer = await req('/v2/acme/app/tags/list', `Bearer ${jwt}`);
      t.equal(bearer.status, 401, `${what}: Bearer 401`);
      t.match(String(bearer.headers['www-authenticate']), /^Basic realm=/);
      t.match(JSON.parse(bearer.body.toString()).errors[0].message, /invalid or expired token/);
      const failure = JSON.parse(logs.slice(seen).find((l) => l.includes('"auth_failure"')) ?? '{}');
      t.match(failure.detail, why, `${what}: refused for the right reason`);
      t.equal(failure.kind, 'oidc');
      t.equal((await req('/v2/acme/app/tags/list', basic('oidc', jwt))).status, 401, `${what}: Basic password 401`);
    }
    const failures = logs.filter((l) => l.includes('"auth_failure"') && l.includes('"oidc"'));
    t.ok(failures.length >= cases.length, 'each failure logged');
    t.notOk(logs.some((l) => cases.some(([, jwt]) => l.includes(jwt.split('.')[2] || jwt))), 'no token in the log');
  });

});
