// Three nora-ts replicas on one bucket of Ceph's RADOS Gateway behind nginx
// (round robin per request): real clients push and pull through the balancer
// while their requests land on different replicas; upload sessions, tokens,
// revocations and lockout are shared, and concurrent writers of one document
// lose nothing. Needs nginx and .ci/services/ceph.sh; the Redis case needs
// .ci/services/redis.sh.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnRegistry, tempDir, type Child } from './helpers/registry.js';
import { makeHtpasswd, mint, api, basic, bearer, get } from './helpers/auth.js';
import { nginxPresent, startBalancer, type Balancer } from '../bench/nginx.js';
import { redisUrl, REDIS_ABSENT } from './helpers/redis.js';
import { buildOciImage } from './helpers/oci-image.js';
import { NpmWorkspace, makePackage } from './helpers/npm-cli.js';
import { buildProject, twine, venv } from './helpers/pypi-tools.js';
import { CEPH_ABSENT, adminClient, cephEnv, cephS3, freshBucket } from './helpers/ceph.js';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';

const exec = promisify(execFile);
const skopeo = async (...args: string[]) => (await exec('skopeo', args, { maxBuffer: 16 << 20 })).stdout;
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const USERS = { admin: 'admin-pw', alice: 'alice-pw' };
const ALICE = basic('alice', 'alice-pw');

interface Cluster {
  replicas: Child[];
  lb: Balancer;
  dir: string;
  bucket: string;
}

const ceph = await cephS3();

async function cluster(t: Test, opts: { redis?: string; ttl?: number } = {}): Promise<Cluster> {
  const dir = await tempDir('nora-replicas-');
  const htpasswd = await makeHtpasswd(dir, USERS);
  const bucket = await freshBucket(t, ceph!, 'replicas');
  const env: Record<string, string> = {
    ...cephEnv(ceph!, bucket),
    NORA_AUTH_ENABLED: 'true',
    NORA_AUTH_HTPASSWD_FILE: htpasswd,
    NORA_AUTH_ADMIN_USERS: 'admin',
    NORA_AUTH_HASH_WORKERS: '1',
    NORA_AUTH_TOKEN_CACHE_TTL: String(opts.ttl ?? 3),
    ...(opts.redis ? { NORA_AUTH_REDIS_URL: opts.redis } : {}),
  };
  const replicas: Child[] = [];
  // Started in turn (a busy machine's start-up on S3 may take a while).
  for (let i = 0; i < 3; i++) replicas.push(await spawnRegistry(env, dir, 30_000));
  const lb = await startBalancer(join(dir, 'nginx'), replicas.map((r) => r.port));
  t.teardown(async () => {
    await lb.stop();
    for (const r of replicas) if (r.proc.exitCode === null && r.proc.signalCode === null) await r.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { replicas, lb, dir, bucket };
}

/** Polls `ok` every 50 ms; returns the ms it took, or throws after `ms`. */
async function within(ms: number, ok: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await ok()) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const skip = !(await nginxPresent()) ? 'nginx is not installed (apt-get install nginx)' : ceph === null ? CEPH_ABSENT : false;

t.test('a blob upload whose POST, PATCHes and PUT reach three different replicas', { skip }, async (t) => {
  const c = await cluster(t);
  const [r1, r2, r3] = c.replicas as [Child, Child, Child];
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const auth = { authorization: ALICE };
  const post = await fetch(`${r1.url}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: auth });
  t.equal(post.status, 202);
  const path = post.headers.get('location')!;
  const cut = 1024 * 1024;
  const p1 = await fetch(`${r2.url}${path}`, { method: 'PATCH', headers: { ...auth, 'content-range': `0-${cut - 1}` }, body: data.subarray(0, cut) });
  t.equal(p1.status, 202);
  const status = await fetch(`${r3.url}${path}`, { headers: auth });
  t.equal(status.headers.get('range'), `0-${cut - 1}`, 'another replica sees the progress');
  const p2 = await fetch(`${r3.url}${path}`, { method: 'PATCH', headers: { ...auth, 'content-range': `${cut}-${data.length - 1}` }, body: data.subarray(cut) });
  t.equal(p2.status, 202);
  const stale = await fetch(`${r1.url}${path}`, { method: 'PATCH', headers: { ...auth, 'content-range': `0-9` }, body: Buffer.alloc(10) });
  t.equal(stale.status, 416, 'a chunk at an old offset is refused on any replica');
  const wrong = await fetch(`${r2.url}${path}?digest=${sha256(Buffer.from('x'))}`, { method: 'PUT', headers: auth });
  t.equal(wrong.status, 400, 'the digest is verified by the replica that rebuilt the hash');

  const post2 = await fetch(`${r3.url}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: auth });
  const path2 = post2.headers.get('location')!;
  await (await fetch(`${r1.url}${path2}`, { method: 'PATCH', headers: auth, body: data.subarray(0, cut) })).arrayBuffer();
  await (await fetch(`${r2.url}${path2}`, { method: 'PATCH', headers: auth, body: data.subarray(cut) })).arrayBuffer();
  const done = await fetch(`${r3.url}${path2}?digest=${sha256(data)}`, { method: 'PUT', headers: auth });
  t.equal(done.status, 201);
  for (const r of c.replicas) {
    const got = Buffer.from(await (await fetch(`${r.url}/v2/team/app/blobs/${sha256(data)}`, { headers: auth })).arrayBuffer());
    t.ok(got.equals(data), `replica ${r.port} serves the joined blob`);
  }
});

t.test('skopeo, npm and pip/twine through the balancer; concurrent tags and versions lose none', { skip }, async (t) => {
  const c = await cluster(t);
  const work = await tempDir('nora-replicas-clients-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const host = c.lb.url.replace('http://', '');
  const img = await buildOciImage(join(work, 'img'), 'v1', 2048);
  const creds = ['--dest-creds', 'alice:alice-pw'];
  await skopeo('copy', '--dest-tls-verify=false', ...creds, `oci:${img.dir}:v1`, `docker://${host}/team/app:v1`);
  await skopeo('copy', '--src-tls-verify=false', '--src-creds', 'alice:alice-pw', `docker://${host}/team/app:v1`, `oci:${join(work, 'back')}:v1`);
  t.pass('skopeo pushed and pulled through the balancer');

  // Eight tags pushed at once through the balancer (they land on all three replicas).
  await Promise.all(Array.from({ length: 8 }, (_, i) => skopeo('copy', '--dest-tls-verify=false', ...creds, `oci:${img.dir}:v1`, `docker://${host}/team/app:t${i}`)));
  for (const r of c.replicas) {
    const tags = (await (await fetch(`${r.url}/v2/team/app/tags/list`, { headers: { authorization: ALICE } })).json()) as { tags: string[] };
    t.same(tags.tags.sort(), ['t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7', 'v1'], `replica ${r.port} lists every tag`);
  }

  const token = await mint(c.lb.url, 'alice', 'alice-pw', 'write');
  const npm = new NpmWorkspace(work, `${c.lb.url}/npm/`);
  await npm.configure(token);
  // Versions of one package published at once: each publish is a read-modify-write of one document.
  const versions = ['1.0.0', '1.0.1', '1.0.2', '1.0.3', '1.0.4', '1.0.5'];
  const pubs = await Promise.all(
    // --tag: npm itself refuses to tag a lower version latest
    versions.map(async (v, i) => npm.run(['publish', '--tag', `t${i}`], await makePackage(join(work, `pkg-${v}`), { name: 'shared-pkg', version: v }, v))),
  );
  for (const p of pubs) t.equal(p.code, 0, p.stderr);
  for (const r of c.replicas) {
    const doc = (await (await fetch(`${r.url}/npm/shared-pkg`, { headers: { authorization: bearer(token) } })).json()) as { versions: Record<string, unknown> };
    t.same(Object.keys(doc.versions).sort(), versions, `replica ${r.port} has every version`);
  }
  const app = join(work, 'app');
  await makePackage(app, { name: 'app', version: '0.0.0', dependencies: { 'shared-pkg': '1.0.5' } }, 0);
  const inst = await npm.run(['install'], app);
  t.equal(inst.code, 0, inst.stderr);

  const { wheel, sdist } = await buildProject(join(work, 'proj'), 'Repl_Demo', '0.1.0', 'repl-0.1.0');
  const up = await twine(['--repository-url', `${c.lb.url}/simple/`, '-u', 'alice', '-p', 'alice-pw', wheel, sdist]);
  t.equal(up.code, 0, up.stderr);
  const env = await venv(join(work, 'venv'));
  const index = `${c.lb.url.replace('http://', 'http://alice:alice-pw@')}/simple/`;
  const pip = await env.pip(['install', '--no-deps', '--index-url', index, 'repl-demo']);
  t.equal(pip.code, 0, pip.stderr);
});

t.test('SIGKILL of a replica during a push: the retry through the balancer completes, nothing torn is served', { skip }, async (t) => {
  const c = await cluster(t);
  const work = await tempDir('nora-replicas-kill-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const host = c.lb.url.replace('http://', '');
  const img = await buildOciImage(join(work, 'img'), 'v1', 32 * 1024);
  const push = () => skopeo('copy', '--dest-tls-verify=false', '--dest-creds', 'alice:alice-pw', `oci:${img.dir}:v1`, `docker://${host}/team/big:v1`);
  const first = push().then(
    () => 'completed',
    () => 'failed',
  );
  // Killed while the layer streams in: once an upload session holds a chunk in flight.
  const s3 = adminClient(ceph!);
  await within(60_000, async () => ((await s3.send(new ListObjectsV2Command({ Bucket: c.bucket, Prefix: '_uploads/' }))).KeyCount ?? 0) > 0);
  await new Promise((r) => setTimeout(r, 200));
  await c.replicas[1]!.stop('SIGKILL');
  t.comment(`the push under the kill ${await first}`);
  await push();
  t.pass('the retried push completed');
  await skopeo('copy', '--src-tls-verify=false', '--src-creds', 'alice:alice-pw', `docker://${host}/team/big:v1`, `oci:${join(work, 'back')}:v1`);
  t.pass('skopeo pulled it back (every blob digest-checked by the client)');
  // Every blob either replica serves hashes to its name.
  const manifest = (await (
    await fetch(`${c.lb.url}/v2/team/big/manifests/v1`, { headers: { authorization: ALICE, accept: 'application/vnd.oci.image.manifest.v1+json' } })
  ).json()) as { config: { digest: string }; layers: { digest: string }[] };
  for (const r of [c.replicas[0]!, c.replicas[2]!]) {
    for (const d of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
      const bytes = Buffer.from(await (await fetch(`${r.url}/v2/team/big/blobs/${d}`, { headers: { authorization: ALICE } })).arrayBuffer());
      t.equal(sha256(bytes), d, `replica ${r.port} serves ${d.slice(0, 19)} intact`);
    }
  }
});

t.test('without Redis: a token minted on one replica works on all, a revoked one is refused everywhere within the cache TTL; lockout is shared through the bucket', { skip }, async (t) => {
  const c = await cluster(t, { ttl: 2 });
  await tokenRound(t, c, 2000 + 1000);
  // Without Redis the failure records are objects in the bucket.
  await lockoutRound(t, c);
});

t.test('with Redis: revocation reaches every replica within 1 s; lockout is shared', { skip: skip || ((await redisUrl()) ? false : REDIS_ABSENT) }, async (t) => {
  const c = await cluster(t, { redis: (await redisUrl())!, ttl: 60 });
  for (const r of c.replicas) t.match(await (await fetch(`${r.url}/ready`)).json(), { status: 'ready', redis: 'connected' });
  const ms = await tokenRound(t, c, 1000);
  t.ok(ms < 1000, `refused everywhere after ${ms} ms`);

  await lockoutRound(t, c);
});

/** Wrong passwords spread over the replicas by the balancer: the 6th attempt is refused, where replicas counting alone would each allow 5 (15 in all). */
async function lockoutRound(t: Test, c: Cluster): Promise<void> {
  // A fresh address per run: Redis keeps failure records across test runs.
  const ip = { 'x-forwarded-for': `198.18.${randomBytes(1)[0]}.${randomBytes(1)[0]}` };
  let failures = 0;
  for (let i = 0; i < 15; i++) {
    const status = (await get(`${c.lb.url}/v2/`, basic('alice', 'wrong'), 'GET', ip)).status;
    if (status === 429) break;
    t.equal(status, 401);
    failures++;
  }
  t.equal(failures, 5, `locked out after ${failures} failures in all (5, not 5 per replica)`);
}

/** Mints on replica 1, uses on 2 and 3, revokes on 1; returns how long until 2 and 3 refuse it. */
async function tokenRound(t: Test, c: Cluster, limitMs: number): Promise<number> {
  const [r1, r2, r3] = c.replicas as [Child, Child, Child];
  const token = await mint(r1.url, 'alice', 'alice-pw', 'read');
  for (const r of [r2, r3]) t.equal((await get(`${r.url}/v2/`, bearer(token))).status, 200, `token works on replica ${r.port}`);
  const list = await api(r1.url, '/api/tokens/list', { username: 'alice', password: 'alice-pw' });
  const prefix = list.body.tokens[0].hash_prefix as string;
  t.equal((await api(r1.url, '/api/tokens/revoke', { username: 'alice', password: 'alice-pw', hash_prefix: prefix })).status, 200);
  t.equal((await get(`${r1.url}/v2/`, bearer(token))).status, 401, 'refused at once where it was revoked');
  const ms = await within(limitMs, async () => {
    // 401, or 429 once the refusals have locked this client out
    const codes = await Promise.all([r2, r3].map(async (r) => (await get(`${r.url}/v2/`, bearer(token))).status));
    return codes.every((s) => s === 401 || s === 429);
  });
  t.pass(`refused on replicas 2 and 3 after ${ms} ms`);
  return ms;
}
