// S3 mode end to end on the shared Ceph RADOS Gateway (.ci/services/ceph.sh),
// one replica: start-up errors naming the setting, real clients (skopeo, npm,
// twine + pip) pushing and pulling, tokens kept in the bucket, `nora gc` and
// `nora verify` going through the driver, /ready following the store and
// /metrics counting its latency and errors.
import t from 'tap';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { CEPH_ABSENT, adminClient, cephS3, freshBucket, s3Storage, type CephS3 } from './helpers/ceph.js';
import { freePort, runCli, startRegistry, tempDir, type Running } from './helpers/registry.js';
import { buildOciImage } from './helpers/oci-image.js';
import { pushBlob, pushImage } from './helpers/oci-push.js';
import { makePackage, NpmWorkspace } from './helpers/npm-cli.js';
import { buildProject, twine, venv } from './helpers/pypi-tools.js';
import { makeHtpasswd } from './helpers/auth.js';
import { blobKey } from '../src/main/storage/blobs.js';
import { digestOf, parseDigest } from '../src/main/digest.js';

const exec = promisify(execFile);
const skopeo = async (...args: string[]) => (await exec('skopeo', args, { maxBuffer: 16 << 20 })).stdout;
const ceph = await cephS3();

async function bucketKeys(c: CephS3, bucket: string, prefix = ''): Promise<string[]> {
  const out = await adminClient(c).send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!);
}

if (!ceph) {
  t.plan(0, CEPH_ABSENT);
} else {
  t.test('start-up errors name the setting: missing bucket, refused keys (exit 2), unreachable endpoint (exit 3)', async (t) => {
    const dir = await tempDir('nora-s3-start-');
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const bucket = await freshBucket(t, ceph, 'start');
    const base = s3Storage(ceph, bucket).env;
    const missing = await runCli({ ...base, NORA_STORAGE_BUCKET: 'no-such-bucket-here' }, dir);
    t.equal(missing.status, 2, 'a missing bucket is a configuration error');
    t.match(missing.stderr, /storage\.bucket: bucket "no-such-bucket-here" does not exist/);
    const refused = await runCli({ ...base, NORA_STORAGE_S3_SECRET_KEY: 'wrong-secret-for-the-test-user' }, dir);
    t.equal(refused.status, 2, 'refused keys are a configuration error');
    t.match(refused.stderr, /storage\.s3_access_key: access to bucket .* denied/);
    t.notMatch(refused.stderr + refused.stdout, /wrong-secret|noratssecret/, 'no secret in the output');
    const port = await freePort();
    const down = await runCli({ ...base, NORA_STORAGE_S3_URL: `http://127.0.0.1:${port}` }, dir);
    t.equal(down.status, 3, 'an unreachable store: cannot start');
    t.match(down.stderr, new RegExp(`object store unreachable at storage\\.s3_url http://127\\.0\\.0\\.1:${port}`));
    t.ok(down.ms < 15_000, `gave up in ${down.ms} ms`);
    const empty = await runCli({ ...base, NORA_STORAGE_BUCKET: '' }, dir);
    t.equal(empty.status, 2);
    t.match(empty.stderr, /NORA_STORAGE_BUCKET: must not be empty in s3 mode/);
  });

  t.test('a blob GET is one store GET beside the link check, a HEAD sends none; ranges still work', async (t) => {
    const bucket = await freshBucket(t, ceph, 'requests');
    const r = await startRegistry({ storage: s3Storage(ceph, bucket).storage });
    t.teardown(() => r.close());
    const data = Buffer.alloc(3 * 1024 * 1024 + 5);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) >> 3;
    const { digest } = await pushBlob(r, 'req/app', data);
    const url = `${r.url}/v2/req/app/blobs/${digest}`;
    const counts = async () => {
      const m = await (await fetch(`${r.url}/metrics`)).text();
      const n = (op: string) => Number(new RegExp(`^nora_storage_seconds_${op}_count (\\d+)$`, 'm').exec(m)?.[1] ?? 0);
      return { get: n('getobject'), head: n('headobject') };
    };
    const delta = async (what: () => Promise<void>) => {
      const a = await counts();
      await what();
      const b = await counts();
      return { get: b.get - a.get, head: b.head - a.head };
    };
    await fetch(url).then((res) => res.arrayBuffer()); // the first read verifies the digest
    t.same(
      await delta(async () => {
        const res = await fetch(url);
        t.ok(Buffer.from(await res.arrayBuffer()).equals(data), 'the whole blob');
      }),
      { get: 1, head: 1 },
      'GET: the layer link HEAD and one GET for size, version and bytes',
    );
    t.same(
      await delta(async () => {
        const res = await fetch(url, { method: 'HEAD' });
        t.equal(res.headers.get('content-length'), String(data.length));
      }),
      { get: 0, head: 2 },
      'HEAD: the link and the blob, no GET',
    );
    const res = await fetch(url, { headers: { range: 'bytes=2000000-2000099' } });
    t.equal(res.status, 206);
    t.ok(Buffer.from(await res.arrayBuffer()).equals(data.subarray(2000000, 2000100)), 'a range from the middle');
  });

  t.test('skopeo push and pull, npm publish and install, twine upload and pip install', async (t) => {
    const bucket = await freshBucket(t, ceph, 'clients');
    const r = await startRegistry({ storage: s3Storage(ceph, bucket).storage });
    const dir = await tempDir('nora-s3-clients-');
    t.teardown(async () => {
      await r.close();
      await rm(dir, { recursive: true, force: true });
    });
    // Docker: a 20 MiB layer goes through multipart parts both ways.
    const host = `127.0.0.1:${r.port}`;
    const img = await buildOciImage(dir, 'v1', 20 * 1024);
    await skopeo('copy', '--dest-tls-verify=false', `oci:${img.dir}:v1`, `docker://${host}/team/app:v1`);
    const back = join(dir, 'pulled');
    // Every skopeo run first probes https (~10 s unanswered): the runs that can go in parallel do.
    const [, listed] = await Promise.all([
      skopeo('copy', '--src-tls-verify=false', `docker://${host}/team/app:v1`, `oci:${back}:v1`),
      skopeo('list-tags', '--tls-verify=false', `docker://${host}/team/app`),
    ]);
    const sent = (await readdir(join(img.dir, 'blobs', 'sha256'))).sort();
    const got = (await readdir(join(back, 'blobs', 'sha256'))).sort();
    t.same(got, sent, 'skopeo pulled back every blob it pushed (it checks each digest)');
    const keys = await bucketKeys(ceph, bucket);
    for (const b of sent) t.ok(keys.includes(`blobs/sha256/${b.slice(0, 2)}/${b}`), `blob ${b.slice(0, 12)} is an object in the bucket`);
    t.same((JSON.parse(listed) as { Tags: string[] }).Tags, ['v1']);

    // npm
    await mkdir(join(dir, 'npm'));
    const ws = new NpmWorkspace(join(dir, 'npm'), `${r.url}/npm/`);
    await ws.configure('nra_unused_when_auth_is_off');
    const pkg = await makePackage(join(dir, 'npm', 'pkg'), { name: 'tiny-s3', version: '1.0.0' }, 'from-s3');
    const pub = await ws.run(['publish'], pkg);
    t.equal(pub.code, 0, `npm publish: ${pub.stderr}`);
    const app = join(dir, 'npm', 'app');
    await makePackage(app, { name: 'app', version: '0.0.0', private: true }, null);
    const inst = await ws.run(['install', 'tiny-s3', '--no-audit', '--no-fund'], app, join(dir, 'npm-cache'));
    t.equal(inst.code, 0, `npm install: ${inst.stderr}`);
    t.equal(createRequire(join(app, 'index.js'))('tiny-s3'), 'from-s3', 'the installed package is the published one');

    // PyPI
    const { wheel } = await buildProject(join(dir, 'py'), 'Tiny_S3', '0.1.0', 'tiny-s3-0.1.0');
    const up = await twine(['--repository-url', `${r.url}/simple/`, '-u', 'token', '-p', 'unused', wheel]);
    t.equal(up.code, 0, up.stdout + up.stderr);
    const env = await venv(join(dir, 'venv'));
    const pip = await env.pip(['install', '--no-deps', '--index-url', `${r.url}/simple/`, 'tiny-s3']);
    t.equal(pip.code, 0, pip.stdout + pip.stderr);
    t.equal((await env.python('import tiny_s3; print(tiny_s3.VALUE)')).stdout.trim(), 'tiny-s3-0.1.0');

    t.same(await bucketKeys(ceph, bucket, '.nora-tmp/w/'), [], 'no writer is left behind');
    t.ok((await bucketKeys(ceph, bucket)).some((k) => k.startsWith('npm/')) && (await bucketKeys(ceph, bucket)).some((k) => k.startsWith('pypi/')), 'npm and PyPI documents live in the bucket');
  });

  t.test('tokens live in the bucket, hidden from content listings', async (t) => {
    const bucket = await freshBucket(t, ceph, 'tokens');
    const dir = await tempDir('nora-s3-tokens-');
    const htpasswd = await makeHtpasswd(dir, { admin: 'admin-pw' });
    const r = await startRegistry({ storage: s3Storage(ceph, bucket).storage, auth: { enabled: true, htpasswd_file: htpasswd } }, dir);
    t.teardown(async () => {
      await r.close();
      await rm(dir, { recursive: true, force: true });
    });
    const res = await fetch(`${r.url}/api/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'admin-pw' }) });
    t.equal(res.status, 200);
    const { token } = (await res.json()) as { token: string };
    // Beside the replicas' shared htpasswd copy (.nora-tokens/htpasswd/).
    const stored = (await bucketKeys(ceph, bucket, '.nora-tokens/')).filter((k) => !k.startsWith('.nora-tokens/htpasswd/'));
    t.equal(stored.length, 1, 'one token object in the bucket');
    const body = await (await adminClient(ceph).send(new GetObjectCommand({ Bucket: bucket, Key: stored[0]! }))).Body!.transformToString();
    t.notMatch(body, token, 'the object holds a hash, not the token');
    t.same((await r.registry.ctx.storage.list('')).names, [], 'content listings do not show it');
    // Another process on the same bucket (a replica) accepts the token.
    const other = await startRegistry({ storage: s3Storage(ceph, bucket).storage, auth: { enabled: true, htpasswd_file: htpasswd } });
    t.teardown(() => other.close());
    const ping = await fetch(`${other.url}/v2/`, { headers: { authorization: `Bearer ${token}` } });
    t.equal(ping.status, 200, 'a second registry on the bucket accepts the token');
  });

  t.test('nora gc and nora verify work on the bucket through the driver', async (t) => {
    const bucket = await freshBucket(t, ceph, 'gc');
    const { storage, env } = s3Storage(ceph, bucket);
    const r: Running = await startRegistry({ storage });
    t.teardown(() => r.close());
    const kept = await pushImage(r, 'gc/app', 'v1');
    const orphanBytes = Buffer.from('an orphan nobody references');
    const orphan = { digest: digestOf(orphanBytes) };
    await r.registry.ctx.blobs.putBuffer(orphanBytes, parseDigest(orphan.digest)!);
    const gc = await runCli(env, r.dir, ['gc', '--grace-secs', '0']);
    t.equal(gc.status, 0, gc.stderr);
    t.match(gc.stdout, `deleted ${orphan.digest}`);
    t.match(gc.stdout, /1 deleted/);
    t.equal((await fetch(`${r.url}/v2/gc/app/blobs/${orphan.digest}`, { method: 'HEAD' })).status, 404, 'the orphan is gone');
    const layer = (JSON.parse(kept.bytes.toString()) as { layers: { digest: string }[] }).layers[0]!.digest;
    t.equal((await fetch(`${r.url}/v2/gc/app/blobs/${layer}`)).status, 200, 'referenced blobs stay');

    const clean = await runCli(env, r.dir, ['verify']);
    t.equal(clean.status, 0, clean.stdout + clean.stderr);
    // Rot one blob in the bucket behind the registry's back.
    await adminClient(ceph).send(new PutObjectCommand({ Bucket: bucket, Key: blobKey(parseDigest(layer)!), Body: 'rotten bytes' }));
    const bad = await runCli(env, r.dir, ['verify', '--quarantine']);
    t.equal(bad.status, 1);
    t.match(bad.stdout, `MISMATCH ${layer}`);
    t.match(bad.stdout, /quarantined to quarantine\//);
    t.ok((await bucketKeys(ceph, bucket, 'quarantine/')).length === 1, 'the bad copy moved to quarantine/ in the bucket');
    t.equal((await fetch(`${r.url}/v2/gc/app/blobs/${layer}`)).status, 404, 'and is no longer served');
  });

  t.test('/ready follows the store; /metrics shows storage latency and errors', async (t) => {
    const bucket = await freshBucket(t, ceph, 'ready');
    // A TCP relay in front of radosgw that the test can cut.
    const target = new URL(ceph.url);
    const sockets = new Set<net.Socket>();
    const relay = net.createServer((c) => {
      const up = net.connect(Number(target.port), target.hostname);
      sockets.add(c).add(up);
      c.pipe(up).pipe(c);
      const drop = () => (c.destroy(), up.destroy());
      c.on('error', drop).on('close', drop);
      up.on('error', drop).on('close', drop);
    });
    await new Promise<void>((ok) => relay.listen(0, '127.0.0.1', ok));
    const port = (relay.address() as net.AddressInfo).port;
    const r = await startRegistry({ storage: s3Storage(ceph, bucket, `http://127.0.0.1:${port}`).storage });
    t.teardown(async () => {
      await r.close();
      relay.close();
    });
    t.equal((await fetch(`${r.url}/ready`)).status, 200);
    await pushBlob(r, 'm/app', 'some bytes');
    await new Promise<void>((ok) => {
      relay.close(() => ok());
      for (const s of sockets) s.destroy();
    });
    const down = await fetch(`${r.url}/ready`);
    t.equal(down.status, 503, '/ready fails while the store is unreachable');
    t.match(await down.json(), { storage: 'not writable' });
    const failed = await fetch(`${r.url}/v2/m/app/blobs/sha256:${'0'.repeat(64)}`);
    t.ok(failed.status >= 500, `a request needing the store fails (${failed.status})`);
    await new Promise<void>((ok) => relay.listen(port, '127.0.0.1', ok));
    t.equal((await fetch(`${r.url}/ready`)).status, 200, 'and recovers with it');
    const metrics = await (await fetch(`${r.url}/metrics`)).text();
    t.match(metrics, /nora_storage_seconds_putobject_bucket\{le="0\.05"\} \d+/, 'latency histograms per operation');
    t.match(metrics, /nora_storage_errors_total\{operation="headobject"\} [1-9]/, 'errors per operation');
  });
}
