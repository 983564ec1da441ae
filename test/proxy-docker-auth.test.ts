// Upstream credentials: distribution with htpasswd (Basic) and with the token
// flow (the ES256 token server of the helpers). Tokens are fetched once per
// scope and reused; credentials go only to a realm on the upstream's own
// host; the client's own Authorization never reaches the upstream; `nora
// config` masks the password. The auth table: anonymous_read and roles apply
// to proxied reads as to hosted ones.
import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry, tempDir, CLI } from './helpers/registry.js';
import { startDistribution } from './helpers/distribution.js';
import { startPassThrough } from '../bench/pass-through.js';
import { startTokenServer, tokenAuthYaml } from './helpers/token-server.js';
import { buildOciImage } from './helpers/oci-image.js';

const exec = promisify(execFile);
const skopeo = async (...args: string[]) => (await exec('skopeo', args, { maxBuffer: 16 << 20 })).stdout;
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json';

t.test('htpasswd upstream: Basic credentials; wrong or none → not found upstream, never its secrets in errors', async (t) => {
  const work = await tempDir('nora-proxy-basic-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const htpasswd = join(work, 'htpasswd');
  execFileSync('htpasswd', ['-Bbc', '-C', '5', htpasswd, 'puller', 's3cret-pw']);
  const upstream = await startDistribution(join(work, 'up'), htpasswd);
  t.teardown(() => upstream.stop());
  const img = await buildOciImage(work, 'v1', 16);
  await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', 'puller:s3cret-pw', `oci:${img.dir}:v1`, `docker://127.0.0.1:${upstream.port}/team/app:v1`);

  const r = await startRegistry({
    docker: {
      upstreams: [
        { url: upstream.url, auth: 'puller:s3cret-pw', prefix: 'priv', namespace: 'priv' },
        { url: upstream.url, auth: 'puller:wrong', prefix: 'bad', namespace: 'bad' },
      ],
    },
  });
  t.teardown(() => r.close());
  const back = join(work, 'back');
  await skopeo('copy', '--src-tls-verify=false', `docker://127.0.0.1:${r.port}/priv/team/app:v1`, `oci:${back}:v1`);
  const res = await fetch(`${r.url}/v2/priv/team/app/manifests/v1`, { headers: { accept: ACCEPT } });
  t.equal(res.headers.get('docker-content-digest'), img.manifestDigest, 'pulled with Basic credentials through the prefix');
  await res.arrayBuffer();
  const bad = await fetch(`${r.url}/v2/bad/team/app/manifests/v1`);
  const text = await bad.text();
  t.equal(bad.status, 404, 'refused credentials: the upstream has nothing for us');
  t.notMatch(text, /wrong|s3cret/, 'no secret in the answer');

  const out = execFileSync(process.execPath, [CLI, 'config'], {
    env: { ...process.env, NORA_DOCKER_PROXIES: `${upstream.url}|puller:s3cret-pw|priv` },
    encoding: 'utf8',
  });
  t.match(out, /upstreams = \[\{ url = "http:\/\/127\.0\.0\.1:\d+", auth = "puller:\*\*\*\*\*\*\*\*", prefix = "priv"/, 'nora config lists the upstream');
  t.notMatch(out, /s3cret/, 'password masked');
});

t.test('token upstream: one token per scope, reused; credentials only to a realm on the upstream host', async (t) => {
  const work = await tempDir('nora-proxy-token-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const ts = await startTokenServer(work, 'puller', 'tok-pw');
  t.teardown(() => ts.close());
  const upstream = await startDistribution(join(work, 'up'), undefined, tokenAuthYaml(ts));
  t.teardown(() => upstream.stop());
  const img = await buildOciImage(work, 'v1', 16);
  await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', 'puller:tok-pw', `oci:${img.dir}:v1`, `docker://127.0.0.1:${upstream.port}/library/tok:v1`);
  const pt = await startPassThrough(upstream.url);
  t.teardown(() => pt.close());
  // The same upstream seen as "localhost": its realm (127.0.0.1) is then on another host.
  const foreign = `http://localhost:${pt.port}`;
  const r = await startRegistry({
    docker: {
      upstreams: [
        { url: pt.url, auth: 'puller:tok-pw', prefix: 'hub', namespace: 'hub' },
        { url: foreign, auth: 'puller:tok-pw', prefix: 'other', namespace: 'other' },
      ],
    },
  });
  t.teardown(() => r.close());

  ts.requests.length = 0;
  const pulls = await Promise.all(
    Array.from({ length: 16 }, () =>
      fetch(`${r.url}/v2/hub/library/tok/manifests/v1`, { headers: { accept: ACCEPT, authorization: 'Bearer client-secret-token' } }),
    ),
  );
  t.ok(pulls.every((p) => p.status === 200 && p.headers.get('docker-content-digest') === img.manifestDigest), '16 concurrent pulls through the token flow');
  await Promise.all(pulls.map((p) => p.arrayBuffer()));
  t.equal(ts.requests.length, 1, 'one token fetch for the burst');
  t.ok(ts.requests[0]!.authorized, 'credentials sent to the realm on the upstream host');
  t.same(ts.requests[0]!.scopes, ['repository:library/tok:pull']);
  const back = join(work, 'back');
  await skopeo('copy', '--src-tls-verify=false', `docker://127.0.0.1:${r.port}/hub/library/tok:v1`, `oci:${back}:v1`);
  t.equal(ts.requests.length, 1, 'the cached token served the whole image pull');
  t.equal(pt.counts.get('GET /v2/') ?? 0, 0, 'no /v2/ pings');

  ts.requests.length = 0;
  const other = await fetch(`${r.url}/v2/other/library/tok/manifests/v1`, { headers: { accept: ACCEPT } });
  await other.arrayBuffer();
  t.equal(ts.requests.length, 1, 'a token was asked for');
  t.notOk(ts.requests[0]!.authorized, 'no credentials to a realm on another host (CVE-2026-33540)');
  t.equal(other.status, 404, 'without a grant the upstream has nothing for us');

  // a token lives until its expires_in
  ts.expiresIn = 2;
  ts.requests.length = 0;
  const ask = async () => (await fetch(`${r.url}/v2/hub/library/short/manifests/v1`)).arrayBuffer();
  await ask();
  await ask();
  t.equal(ts.requests.length, 1, 'reused within its lifetime');
  await new Promise((res) => setTimeout(res, 2100));
  await ask();
  t.equal(ts.requests.length, 2, 'fetched anew once expired');
});

t.test('auth table: proxied reads follow the same rules as hosted ones', async (t) => {
  const work = await tempDir('nora-proxy-acl-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const upstream = await startDistribution(join(work, 'up'));
  t.teardown(() => upstream.stop());
  const img = await buildOciImage(work, 'v1', 16);
  await skopeo('copy', '--dest-tls-verify=false', `oci:${img.dir}:v1`, `docker://127.0.0.1:${upstream.port}/library/acl:v1`);
  const htpasswd = join(work, 'users');
  execFileSync('htpasswd', ['-Bbc', '-C', '5', htpasswd, 'alice', 'alice-pw']);
  const up = [{ url: upstream.url, auth: '', prefix: '', namespace: 'up' }];
  const basic = `Basic ${Buffer.from('alice:alice-pw').toString('base64')}`;
  for (const [anonymous_read, anon, user] of [
    [false, 401, 200],
    [true, 200, 200],
  ] as const) {
    const r = await startRegistry({ auth: { enabled: true, htpasswd_file: htpasswd, anonymous_read }, docker: { upstreams: up } });
    const path = `${r.url}/v2/library/acl/manifests/v1`;
    const a = await fetch(path, { headers: { accept: ACCEPT } });
    await a.arrayBuffer();
    const u = await fetch(path, { headers: { accept: ACCEPT, authorization: basic } });
    await u.arrayBuffer();
    t.equal(a.status, anon, `anonymous_read=${anonymous_read}: anonymous proxied read → ${anon}`);
    t.equal(u.status, user, `anonymous_read=${anonymous_read}: user proxied read → ${user}`);
    await r.close();
  }
});
