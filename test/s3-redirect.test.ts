// storage.s3_redirect on the shared Ceph RADOS Gateway: Docker blob GETs are
// answered with a 307 to a presigned GetObject URL, after the same auth gate
// and repository check as ever. Real clients follow it: skopeo pulls an image
// (digests checked), curl follows with a Range. HEAD, manifests and blobs
// still being filled by the pull-through cache are never redirected; an
// unauthenticated or wrong-repository caller never sees a
// Location; with the setting off nothing changes; start-up refuses the
// setting outside s3 mode.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CEPH_ABSENT, cephS3, freshBucket, type CephS3 } from './helpers/ceph.js';
import { runCli, startRegistry, tempDir, type Running } from './helpers/registry.js';
import { pushBlob as pushTo } from './helpers/oci-push.js';
import { startDistribution } from './helpers/distribution.js';
import { api, basic, bearer, metric, mint, startAuthRegistry, USERS, type AuthRegistry } from './helpers/auth.js';
import { buildOciImage } from './helpers/oci-image.js';

const exec = promisify(execFile);
const skopeo = async (...args: string[]) => (await exec('skopeo', args, { maxBuffer: 16 << 20 })).stdout;
const ceph = await cephS3();
const ALICE = basic('alice', USERS.alice);
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

t.test('start-up refuses s3_redirect outside s3 mode and without keys, naming the setting', async (t) => {
  const dir = await tempDir('nora-redirect-start-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const [local, keyless, expiry] = await Promise.all([
    runCli({ NORA_STORAGE_MODE: 'local', NORA_STORAGE_PATH: join(dir, 's'), NORA_STORAGE_S3_REDIRECT: 'true' }, dir),
    runCli({ NORA_STORAGE_MODE: 's3', NORA_STORAGE_BUCKET: 'b', NORA_STORAGE_S3_REDIRECT: 'true' }, dir),
    runCli({ NORA_STORAGE_MODE: 'memory', NORA_STORAGE_S3_REDIRECT_EXPIRY_SECS: '0' }, dir),
  ]);
  t.equal(local.status, 2, 'local mode: a configuration error');
  t.match(local.stderr, /NORA_STORAGE_S3_REDIRECT: needs storage\.mode = "s3" \(it is "local"\)/);
  t.equal(keyless.status, 2, 's3 without keys: a configuration error');
  t.match(keyless.stderr, /NORA_STORAGE_S3_REDIRECT: needs storage\.s3_access_key and storage\.s3_secret_key/);
  t.equal(expiry.status, 2, 'an expiry below 1 s');
  t.match(expiry.stderr, /NORA_STORAGE_S3_REDIRECT_EXPIRY_SECS/);
});

/** A registry with auth on and content in a fresh bucket; `s3Url` is the endpoint it signs URLs for. */
async function s3Registry(t: Test, c: CephS3, redirect: boolean, s3Url = c.url): Promise<AuthRegistry> {
  const bucket = await freshBucket(t, c, redirect ? 'redir' : 'noredir');
  const storage = { mode: 's3' as const, s3_url: s3Url, bucket, s3_access_key: c.accessKey, s3_secret_key: c.secretKey, s3_region: c.region };
  const r = await startAuthRegistry({}, USERS, {}, { storage: { ...storage, s3_redirect: redirect, s3_redirect_expiry_secs: 600 } });
  t.teardown(() => r.close());
  return r;
}

/** Pushes a blob into `name` as alice (one POST with ?digest=). */
async function pushBlob(r: AuthRegistry, name: string, data: Buffer): Promise<void> {
  const res = await fetch(`${r.url}/v2/${name}/blobs/uploads/?digest=${sha256(data)}`, { method: 'POST', body: data, headers: { authorization: ALICE, 'content-type': 'application/octet-stream' } });
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`blob push: ${res.status}`);
}

/** A GET that does not follow redirects. */
const raw = (url: string, headers: Record<string, string> = {}, method = 'GET') => fetch(url, { method, headers, redirect: 'manual' });

if (!ceph) {
  t.test('redirects on radosgw', async (t) => {
    t.skip(CEPH_ABSENT);
  });
} else {
  t.test('a blob GET answers 307 to a presigned URL for exactly that object; HEAD, manifests and refused callers never do', async (t) => {
    const r = await s3Registry(t, ceph, true);
    const layer = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < layer.length; i++) layer[i] = (i * 31 + (i >> 9)) & 0xff;
    const d = sha256(layer);
    await pushBlob(r, 'team/app', layer);
    const url = `${r.url}/v2/team/app/blobs/${d}`;

    const res = await raw(url, { authorization: ALICE });
    t.equal(res.status, 307, 'GET: Temporary Redirect');
    t.equal(res.headers.get('docker-content-digest'), d, 'the digest header stays on the 307');
    const loc = new URL(res.headers.get('location')!);
    t.equal(loc.origin, ceph.url, 'to the object store');
    t.match(loc.pathname, new RegExp(`/blobs/sha256/${d.slice(7, 9)}/${d.slice(7)}$`), 'for the blob key itself');
    t.equal(loc.searchParams.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256', 'SigV4 query signature');
    t.equal(loc.searchParams.get('X-Amz-Expires'), '600', 'expiry as configured');
    t.equal(loc.searchParams.get('response-content-type'), 'application/octet-stream');
    t.match(loc.searchParams.get('X-Amz-Credential'), new RegExp(`^${ceph.accessKey}/`));
    t.notOk(loc.href.includes(ceph.secretKey) || loc.href.includes(USERS.alice), 'neither the store secret nor the caller credentials are in the URL');
    t.equal(await res.text(), '', 'no body');

    const bytes = await fetch(loc);
    t.equal(bytes.status, 200);
    t.equal(bytes.headers.get('content-type'), 'application/octet-stream');
    t.equal(sha256(Buffer.from(await bytes.arrayBuffer())), d, 'the store serves the blob');
    const other = new URL(loc);
    other.pathname = other.pathname.replace(/[0-9a-f]{64}$/, '0'.repeat(64));
    t.equal((await fetch(other)).status, 403, 'the signature covers that key only');

    // HEAD and manifests stay here
    const head = await raw(url, { authorization: ALICE }, 'HEAD');
    t.equal(head.status, 200, 'HEAD is never redirected');
    t.equal(head.headers.get('content-length'), String(layer.length));
    t.equal(head.headers.get('location'), null);

    // refused callers: exactly as without the redirect
    const anon = await raw(url);
    t.equal(anon.status, 401, 'no credentials: 401');
    t.equal(anon.headers.get('location'), null);
    const wrong = await raw(url, { authorization: basic('alice', 'not-her-password') });
    t.equal(wrong.status, 401, 'a wrong password: 401');
    t.equal(wrong.headers.get('location'), null);
    const token = await mint(r.url, 'alice', USERS.alice, 'read');
    t.equal((await raw(url, { authorization: bearer(token) })).status, 307, 'a read token is redirected');
    const listed = await api(r.url, '/api/tokens/list', { username: 'alice', password: USERS.alice });
    const revoked = await api(r.url, '/api/tokens/revoke', { username: 'alice', password: USERS.alice, hash_prefix: listed.body.tokens[0].hash_prefix });
    t.equal(revoked.status, 200, 'revoked');
    const late = await raw(url, { authorization: bearer(token) });
    t.equal(late.status, 401, 'a revoked token: 401');
    t.equal(late.headers.get('location'), null);
    const elsewhere = await raw(`${r.url}/v2/team/other/blobs/${d}`, { authorization: ALICE });
    t.equal(elsewhere.status, 404, 'a blob of another repository stays unknown here');
    t.equal(elsewhere.headers.get('location'), null);
    t.equal(await metric(r.url, 'nora_docker_blob_redirects_total'), 2, 'redirects counted');
  });

  t.test('real clients follow it: skopeo pulls an image, curl gets a Range from the store', async (t) => {
    const r = await s3Registry(t, ceph, true);
    const work = await tempDir('nora-redirect-clients-');
    t.teardown(() => rm(work, { recursive: true, force: true }));
    const host = `127.0.0.1:${r.port}`;
    const img = await buildOciImage(work, 'v1', 6 * 1024);
    await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', `alice:${USERS.alice}`, `oci:${img.dir}:v1`, `docker://${host}/team/app:v1`);
    const before = await metric(r.url, 'nora_docker_blob_redirects_total');
    const back = join(work, 'pulled');
    await skopeo('copy', '--src-tls-verify=false', '--src-creds', `alice:${USERS.alice}`, `docker://${host}/team/app:v1`, `oci:${back}:v1`);
    const sent = (await readdir(join(img.dir, 'blobs', 'sha256'))).sort();
    t.same((await readdir(join(back, 'blobs', 'sha256'))).sort(), sent, 'skopeo pulled every blob (it checks each digest)');
    for (const b of sent) t.equal(sha256(await readFile(join(back, 'blobs', 'sha256', b))), `sha256:${b}`, `blob ${b.slice(0, 12)} hashes to its name`);
    // config and layer come from the store; the manifest is served here
    t.equal((await metric(r.url, 'nora_docker_blob_redirects_total')) - before, sent.length - 1, 'every blob but the manifest was redirected');

    const manifest = JSON.parse(await readFile(join(back, 'blobs', 'sha256', img.manifestDigest.slice(7)), 'utf8')) as { layers: { digest: string; size: number }[] };
    const big = manifest.layers.reduce((a, b) => (b.size > a.size ? b : a));
    const whole = await readFile(join(back, 'blobs', 'sha256', big.digest.slice(7)));
    const { stdout } = await exec('curl', ['-sSfL', '-u', `alice:${USERS.alice}`, '-H', 'Range: bytes=1000-5999', '-D', join(work, 'headers'), `${r.url}/v2/team/app/blobs/${big.digest}`], {
      encoding: 'buffer',
      maxBuffer: 1 << 20,
    });
    t.same(stdout, whole.subarray(1000, 6000), 'curl followed the 307 and got the range');
    const headers = await readFile(join(work, 'headers'), 'utf8');
    t.match(headers, /HTTP\/1\.1 307[^]*HTTP\/1\.1 206/, '307 from the registry, then 206 from the store');
    t.match(headers, new RegExp(`Content-Range: bytes 1000-5999/${big.size}`, 'i'));
  });

  t.test('pull-through: a blob still being filled from the upstream is served here, then redirected once cached', async (t) => {
    const work = await tempDir('nora-redirect-proxy-');
    t.teardown(() => rm(work, { recursive: true, force: true }));
    const upstream = await startDistribution(join(work, 'upstream'));
    t.teardown(() => upstream.stop());
    const layer = Buffer.from('layer from the upstream '.repeat(50_000));
    const d = sha256(layer);
    await pushTo({ url: upstream.url } as Running, 'library/app', layer);
    const bucket = await freshBucket(t, ceph, 'redirproxy');
    const r = await startRegistry({
      storage: { mode: 's3', s3_url: ceph.url, bucket, s3_access_key: ceph.accessKey, s3_secret_key: ceph.secretKey, s3_region: ceph.region, s3_redirect: true },
      docker: { upstreams: [{ url: upstream.url, auth: '', prefix: '', namespace: 'up' }] },
    });
    t.teardown(() => r.close());
    const url = `${r.url}/v2/library/app/blobs/${d}`;
    const cold = await raw(url);
    t.equal(cold.status, 200, 'the first GET streams the fill');
    t.equal(cold.headers.get('location'), null);
    t.equal(sha256(Buffer.from(await cold.arrayBuffer())), d);
    const warm = await raw(url);
    t.equal(warm.status, 307, 'cached: redirected to the store');
    t.equal(sha256(Buffer.from(await (await fetch(warm.headers.get('location')!)).arrayBuffer())), d, 'the store has the cached copy');
  });

  t.test('with s3_redirect off nothing changes: the registry streams the bytes itself', async (t) => {
    const r = await s3Registry(t, ceph, false);
    const layer = Buffer.from('served by the registry '.repeat(4000));
    const d = sha256(layer);
    await pushBlob(r, 'team/app', layer);
    const res = await raw(`${r.url}/v2/team/app/blobs/${d}`, { authorization: ALICE, range: 'bytes=10-19' });
    t.equal(res.status, 206);
    t.equal(res.headers.get('location'), null);
    t.equal(Buffer.from(await res.arrayBuffer()).toString(), layer.subarray(10, 20).toString());
    const full = await raw(`${r.url}/v2/team/app/blobs/${d}`, { authorization: ALICE });
    t.equal(full.status, 200);
    t.equal(sha256(Buffer.from(await full.arrayBuffer())), d);
    t.equal(await metric(r.url, 'nora_docker_blob_redirects_total'), 0);
  });
}
