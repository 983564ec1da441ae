// htpasswd users shared by three replicas on one Ceph bucket, each with its
// own htpasswd file (no shared mount): an edit with the real `htpasswd` on any
// replica's file reaches the others within the cache TTL through the store
// copy, and within 1 s with Redis; concurrent edits on two replicas lose none;
// a replica killed while publishing leaves a whole copy and publishes its edit
// at restart. Needs .ci/services/ceph.sh (and redis.sh, nginx for skopeo).
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { runCli, spawnRegistry, tempDir, type Child } from './helpers/registry.js';
import { basic, deleteUser, get, makeHtpasswd, setUser } from './helpers/auth.js';
import { nginxPresent, startBalancer } from '../bench/nginx.js';
import { redisUrl, REDIS_ABSENT } from './helpers/redis.js';
import { CEPH_ABSENT, adminClient, cephEnv, cephS3, freshBucket } from './helpers/ceph.js';
import { mergeHtpasswd } from '../src/main/auth/htpasswd-merge.js';
import { parseHtpasswd } from '../src/main/auth/htpasswd.js';

const exec = promisify(execFile);
const ceph = await cephS3();
const skip = ceph === null ? CEPH_ABSENT : false;
const COPY_KEY = '.nora-tokens/htpasswd/users.json';

interface Replica {
  child: Child;
  dir: string;
  file: string;
}

interface Cluster {
  replicas: Replica[];
  bucket: string;
  env: Record<string, string>;
  /** starts (or restarts) replica i on its own directory */
  start(i: number): Promise<Replica>;
  /** the store copy's parsed JSON */
  copy(): Promise<{ edited: number; text: string }>;
}

function s3Env(bucket: string, ttl: number, redis?: string): Record<string, string> {
  return {
    ...cephEnv(ceph!, bucket),
    NORA_AUTH_ENABLED: 'true',
    NORA_AUTH_HTPASSWD_FILE: 'users.htpasswd', // each replica's own, in its working directory
    NORA_AUTH_HASH_WORKERS: '1',
    NORA_AUTH_TOKEN_CACHE_TTL: String(ttl),
    ...(redis ? { NORA_AUTH_REDIS_URL: redis } : {}),
  };
}

async function copyOf(bucket: string): Promise<{ edited: number; text: string } | null> {
  try {
    const r = await adminClient(ceph!).send(new GetObjectCommand({ Bucket: bucket, Key: COPY_KEY }));
    return JSON.parse(await r.Body!.transformToString()) as { edited: number; text: string };
  } catch (e) {
    if ((e as { name?: string }).name === 'NoSuchKey') return null;
    throw e;
  }
}

async function cluster(t: Test, opts: { redis?: string; ttl: number; files: (dir: string, i: number) => Promise<void> }): Promise<Cluster> {
  const root = await tempDir('nora-htpasswd-replicas-');
  const bucket = await freshBucket(t, ceph!, 'htpasswd');
  const env = s3Env(bucket, opts.ttl, opts.redis);
  const replicas: Replica[] = [];
  const c: Cluster = {
    replicas,
    bucket,
    env,
    async start(i) {
      const dir = join(root, `r${i + 1}`);
      const child = await spawnRegistry(env, dir, 30_000);
      return (replicas[i] = { child, dir, file: join(dir, 'users.htpasswd') });
    },
    async copy() {
      return (await copyOf(bucket))!;
    },
  };
  for (let i = 0; i < 3; i++) {
    await mkdir(join(root, `r${i + 1}`));
    await opts.files(join(root, `r${i + 1}`), i);
    await c.start(i); // in turn: the first one seeds the store copy
  }
  t.teardown(async () => {
    for (const r of replicas) if (r.child.proc.exitCode === null && r.child.proc.signalCode === null) await r.child.stop();
    await rm(root, { recursive: true, force: true });
  });
  return c;
}

/** Each login from a fresh client address: the refusals this test expects must not lock it out. */
const status = async (r: Replica, user: string, pw: string) =>
  (await get(`${r.child.url}/v2/`, basic(user, pw), 'GET', { 'x-forwarded-for': `198.18.${randomInt(256)}.${randomInt(256)}` })).status;

/** Polls until every replica answers `want` for the login; returns the ms it took from `since`. */
async function until(rs: Replica[], user: string, pw: string, want: 200 | 401, since: number, limitMs: number): Promise<number> {
  for (;;) {
    const codes = await Promise.all(rs.map((r) => status(r, user, pw)));
    if (codes.every((s) => s === want)) return Date.now() - since;
    if (Date.now() - since > limitMs) throw new Error(`${user}: wanted ${want} everywhere within ${limitMs} ms, got ${codes.join(',')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Adds, changes and removes a user in replica 1's file; returns the slowest propagation to replicas 2 and 3. */
async function editRound(t: Test, c: Cluster, limitMs: number): Promise<number> {
  const [r1, r2, r3] = c.replicas as [Replica, Replica, Replica];
  const others = [r2, r3];
  let since = Date.now();
  await setUser(r1.file, 'carol', 'carol-pw');
  const added = await until(others, 'carol', 'carol-pw', 200, since, limitMs);
  t.pass(`user added on replica 1: accepted on 2 and 3 after ${added} ms`);
  // Cached on 2 and 3 now: the change must evict it there.
  for (const r of others) t.equal(await status(r, 'carol', 'carol-pw'), 200);
  since = Date.now();
  await setUser(r1.file, 'carol', 'carol-new');
  const changed = await until(others, 'carol', 'carol-pw', 401, since, limitMs);
  t.pass(`password changed on replica 1: the old one refused on 2 and 3 after ${changed} ms`);
  await until(others, 'carol', 'carol-new', 200, since, limitMs);
  since = Date.now();
  await deleteUser(r1.file, 'carol');
  const removed = await until(others, 'carol', 'carol-new', 401, since, limitMs);
  t.pass(`user removed on replica 1: refused on 2 and 3 after ${removed} ms`);
  return Math.max(added, changed, removed);
}

t.test('merging two edits: each side keeps the users it changed; theirs keeps its lines', async (t) => {
  const h = (c: string) => `$2y$05$${c.repeat(53)}`;
  const base = `# team\nalice:${h('a')}\nbob:${h('b')}\n`;
  const mine = `# team\nalice:${h('A')}\ncarol:${h('c')}\n`; // alice changed, bob removed, carol added
  const theirs = `# team\nalice:${h('a')}\nbob:${h('b')}\ndave:${h('d')}\n# end\n`; // dave added
  t.equal(mergeHtpasswd(base, mine, theirs), `# team\nalice:${h('A')}\ndave:${h('d')}\n# end\ncarol:${h('c')}\n`);
  t.equal(mergeHtpasswd(base, mine, base), mine, 'nothing published meanwhile: mine verbatim');
  t.equal(mergeHtpasswd(base, base, theirs), theirs, 'no edit of mine: theirs verbatim');
  const both = mergeHtpasswd(base, `alice:${h('X')}\nbob:${h('b')}\n`, `alice:${h('Y')}\nbob:${h('b')}\n`);
  t.equal(parseHtpasswd(both).users.get('alice'), `$2b$05$${'X'.repeat(53)}`, 'one user changed on both: the later publisher (mine) wins');
});

t.test('start-up on a bucket: no file and no copy, or an unusable file, stop it; an unusable file never replaces the copy', { skip }, async (t) => {
  const dir = await tempDir('nora-htpasswd-start-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bucket = await freshBucket(t, ceph!, 'htpasswd-start');
  const env = s3Env(bucket, 60);
  const missing = await runCli(env, dir);
  t.not(missing.status, 0);
  t.match(missing.stderr, /htpasswd file .*users\.htpasswd does not exist/, 'neither a file nor a copy: the message names the file');
  await writeFile(join(dir, 'users.htpasswd'), '# nobody yet\n');
  const empty = await runCli(env, dir);
  t.not(empty.status, 0);
  t.match(empty.stderr, /no usable bcrypt user/);
  t.equal(await copyOf(bucket), null, 'nothing was written to the bucket');

  await makeHtpasswd(dir, { alice: 'alice-pw' });
  const r = await spawnRegistry(env, dir, 30_000);
  await r.stop();
  const copy = await copyOf(bucket);
  t.match(copy?.text, /^alice:/, 'a usable file seeded the copy');
  await writeFile(join(dir, 'users.htpasswd'), 'alice:not-bcrypt\n');
  const bad = await runCli(env, dir);
  t.match(bad.stderr, /no usable bcrypt user/, 'a newer file without a usable user stops start-up');
  t.same(await copyOf(bucket), copy, 'and leaves the copy as it was');
});

t.test('without Redis: an edit on any replica\'s file reaches the others within the cache TTL', { skip }, async (t) => {
  const ttl = 10;
  const c = await cluster(t, {
    ttl,
    files: async (dir, i) => {
      if (i === 0) await makeHtpasswd(dir, { alice: 'alice-pw', bob: 'bob-pw' });
      if (i === 2) {
        // a stale file of an old deployment: the store copy, edited later, wins
        await makeHtpasswd(dir, { old: 'old-pw' });
        await utimes(join(dir, 'users.htpasswd'), new Date(Date.now() - 86_400_000), new Date(Date.now() - 86_400_000));
      }
      // replica 2 has no file: it is written from the store copy
    },
  });
  const [r1, r2, r3] = c.replicas as [Replica, Replica, Replica];
  const seeded = await readFile(r1.file, 'utf8');
  t.equal((await c.copy()).text, seeded, 'the first replica seeded the store copy from its file');
  for (const r of [r2, r3]) {
    t.equal(await readFile(r.file, 'utf8'), seeded, `replica ${r.child.port}'s file was written from the store copy`);
    t.equal(await status(r, 'alice', 'alice-pw'), 200);
  }
  t.equal(await status(r3, 'old', 'old-pw'), 401, 'the stale file lost');

  const slowest = await editRound(t, c, ttl * 1000);
  t.ok(slowest < ttl * 1000, `within the ${ttl} s TTL (slowest ${slowest} ms)`);
  t.equal(await readFile(r3.file, 'utf8'), (await c.copy()).text, 'replica 3 mirrors the copy into its file');

  // Any replica's file is an edit point, mirrored from the others' edits.
  const since = Date.now();
  await setUser(r3.file, 'erin', 'erin-pw');
  t.comment(`added on replica 3: accepted on 1 and 2 after ${await until([r1, r2], 'erin', 'erin-pw', 200, since, ttl * 1000)} ms`);

  // Two replicas edited at the same moment (different users, and one user on both).
  // (one htpasswd at a time per file: the tool itself does not lock it)
  await Promise.all([
    setUser(r1.file, 'frank', 'frank-pw').then(() => setUser(r1.file, 'alice', 'alice-1')),
    setUser(r2.file, 'grace', 'grace-pw').then(() => setUser(r2.file, 'alice', 'alice-2')),
  ]);
  await until(c.replicas, 'frank', 'frank-pw', 200, Date.now(), 15_000);
  await until(c.replicas, 'grace', 'grace-pw', 200, Date.now(), 15_000);
  t.pass('both concurrent additions reached every replica');
  const merges = c.replicas.map((r) => r.child.output().split('\n').filter((l) => l.includes('"merged":true')).length);
  t.comment(`publishes merged onto a concurrent one: ${merges.join(', ')} (replicas 1, 2, 3)`);
  const settled = async () => {
    const texts = await Promise.all(c.replicas.map((r) => readFile(r.file, 'utf8')));
    const copy = (await c.copy()).text;
    return texts.every((x) => x === copy) ? copy : null;
  };
  let final: string | null = null;
  for (let i = 0; i < 100 && (final = await settled()) === null; i++) await new Promise((r) => setTimeout(r, 100));
  t.ok(final, 'every file equals the store copy');
  const users = parseHtpasswd(final ?? '').users;
  t.same([...users.keys()].sort(), ['alice', 'bob', 'erin', 'frank', 'grace'], 'no edit lost');
  const winners = await Promise.all(['alice-1', 'alice-2'].map(async (pw) => (await Promise.all(c.replicas.map((r) => status(r, 'alice', pw)))).join()));
  t.same(winners.sort(), ['200,200,200', '401,401,401'], "alice's password is one of the two edits, the same on every replica");

  if (!(await nginxPresent())) return t.comment('nginx is not installed: skopeo login through a balancer skipped');
  const lb = await startBalancer(join(r1.dir, '..', 'nginx'), c.replicas.map((r) => r.child.port));
  t.teardown(() => lb.stop());
  const host = lb.url.replace('http://', '');
  const auth = join(r1.dir, '..', 'auth.json');
  for (let i = 0; i < 3; i++) {
    // round robin: one login per replica
    const { stdout } = await exec('skopeo', ['login', '--tls-verify=false', '--authfile', auth, '-u', 'erin', '-p', 'erin-pw', host]);
    t.match(stdout, /Login Succeeded/, `skopeo login ${i + 1} through the balancer`);
  }
  await deleteUser(r3.file, 'erin');
  await until(c.replicas, 'erin', 'erin-pw', 401, Date.now(), ttl * 1000);
  const refused = await exec('skopeo', ['login', '--tls-verify=false', '--authfile', auth, '-u', 'erin', '-p', 'erin-pw', host]).then(
    () => 'accepted',
    (e: { stderr: string }) => e.stderr,
  );
  t.match(refused, /401|unauthorized|invalid username/i, 'skopeo login refused once erin was removed on replica 3');
});

t.test('with Redis: an edit reaches every replica within 1 s; a replica killed while publishing leaves a whole copy', { skip: skip || ((await redisUrl()) ? false : REDIS_ABSENT) }, async (t) => {
  const c = await cluster(t, {
    redis: (await redisUrl())!,
    ttl: 60,
    files: async (dir, i) => {
      if (i === 0) await makeHtpasswd(dir, { alice: 'alice-pw', bob: 'bob-pw' });
    },
  });
  const slowest = await editRound(t, c, 3000);
  t.ok(slowest < 1000, `within 1 s (slowest ${slowest} ms)`);

  // Killed at points from before to after the publish: the copy is always
  // one whole version, and the edit made before the kill is not lost.
  const [, r2, r3] = c.replicas as [Replica, Replica, Replica];
  for (const [round, delay] of [0, 150, 350].entries()) {
    const r1 = c.replicas[0]!;
    const before = (await c.copy()).text;
    const user = `kill${round}`;
    await setUser(r1.file, user, 'pw');
    const edited = await readFile(r1.file, 'utf8');
    await new Promise((r) => setTimeout(r, delay));
    await r1.child.stop('SIGKILL');
    const copy = await c.copy();
    t.ok(copy.text === before || copy.text === edited, `kill after ${delay} ms: the copy is the old one or the new one (${copy.text === edited ? 'new' : 'old'})`);
    const seen = await Promise.all([r2, r3].map((r) => status(r, user, 'pw')));
    t.ok(seen.every((s) => s === seen[0]), 'replicas 2 and 3 agree');
    // what a kill in the middle of mirroring a copy into the file leaves behind
    await writeFile(join(r1.dir, `.users.htpasswd.nora-${round}bad.tmp`), 'half a file');
    await c.start(0);
    await until(c.replicas, user, 'pw', 200, Date.now(), 5000);
    t.pass(`after the restart the edit is on every replica`);
  }
  t.same(
    (await readdir(c.replicas[0]!.dir)).filter((n) => n.endsWith('.tmp')),
    [],
    'temp files left by a kill are removed at start-up',
  );
});
