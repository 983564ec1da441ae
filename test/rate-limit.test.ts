// Request-rate limits on a real registry: buckets per authenticated identity
// (two users behind one address do not share one), per client address for
// anonymous callers (behind a trusted proxy, the forwarded address), a 429
// with Retry-After in each format's error shape (OCI, npm, PyPI, the token
// API), on the cached-read path too; /health and /ready never limited; the
// refusals counted in /metrics; idle buckets forgotten. A real client (npm)
// reports the refusal.
import t from 'tap';
import type { Test } from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { basic, makeHtpasswd, metric, USERS } from './helpers/auth.js';
import { startRegistry, tempDir } from './helpers/registry.js';
import { OCI_CONFIG, OCI_MANIFEST } from './helpers/oci-push.js';
import { RateLimiter } from '../src/main/http/rate-limit.js';
import { Metrics } from '../src/main/metrics.js';
import type { ReadView } from '../src/main/http/types.js';
import type { Identity } from '../src/main/auth/types.js';

const exec = promisify(execFile);

async function call(url: string, auth?: string, method = 'GET', body?: Buffer | string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method, body, headers: { ...(auth ? { authorization: auth } : {}), ...headers } });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

type Res = Awaited<ReturnType<typeof call>>;

/** Calls until the first 429 (at most 30 calls): the statuses that passed before it, the 429, the time taken. */
async function untilLimited(fn: () => Promise<Res>): Promise<{ passed: number[]; limited: Res | undefined; ms: number }> {
  const passed: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < 30; i++) {
    const res = await fn();
    if (res.status === 429) return { passed, limited: res, ms: performance.now() - t0 };
    passed.push(res.status);
  }
  return { passed, limited: undefined, ms: performance.now() - t0 };
}

/** A 429 came once the burst was spent: no sooner, and no later than the tokens refilled meanwhile (1 per second) allow. */
function refusedAfter(t: Test, r: { passed: number[]; limited: Res | undefined; ms: number }, burst: number, what: string): void {
  t.ok(r.limited, `${what}: refused with 429`);
  const most = burst + Math.ceil(r.ms / 1000);
  t.ok(r.passed.length >= burst && r.passed.length <= most, `${what}: ${r.passed.length} passed in ${Math.round(r.ms)} ms before the 429 (burst ${burst}, at most ${most})`);
}

t.test('rate limits per identity, per address, in every format', async (t) => {
  const dir = await tempDir('nora-rate-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const htpasswd = await makeHtpasswd(dir, USERS);
  const r = await startRegistry({
    auth: { enabled: true, htpasswd_file: htpasswd, anonymous_read: true, hash_workers: 1 },
    rate_limit: { enabled: true, general_rps: 1, general_burst: 4, upload_rps: 1, upload_burst: 2, auth_rps: 1, auth_burst: 2 },
  });
  t.teardown(() => r.close());
  const alice = basic('alice', USERS.alice);
  const bob = basic('bob', USERS.bob);

  // bob pushes an image (config blob, manifest): his upload burst of 2.
  const pushStart = performance.now();
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const cdigest = 'sha256:' + createHash('sha256').update(config).digest('hex');
  t.equal((await call(`${r.url}/v2/team/app/blobs/uploads/?digest=${cdigest}`, bob, 'POST', config, { 'content-type': 'application/octet-stream' })).status, 201);
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: cdigest, size: config.length }, layers: [] });
  t.equal((await call(`${r.url}/v2/team/app/manifests/v1`, bob, 'PUT', manifest, { 'content-type': OCI_MANIFEST })).status, 201);
  const writes = await untilLimited(() => call(`${r.url}/v2/team/app/blobs/uploads/`, bob, 'POST'));
  // tokens may have refilled since the push began
  refusedAfter(t, { ...writes, ms: performance.now() - pushStart }, 0, 'bob\'s writes after his push');
  t.equal(writes.limited?.headers.get('retry-after'), '1');
  t.equal(JSON.parse(writes.limited?.text ?? '{}').errors?.[0].code, 'TOOMANYREQUESTS', 'OCI error shape');
  t.equal((await call(`${r.url}/v2/team/app/blobs/uploads/`, alice, 'POST')).status, 202, 'alice, same address, has her own upload bucket');

  t.test('reads: the cached manifest path is limited per identity too', async (t) => {
    const url = `${r.url}/v2/team/app/manifests/v1`;
    const accept = { accept: OCI_MANIFEST };
    const reads = await untilLimited(() => call(url, alice, 'GET', undefined, accept));
    refusedAfter(t, reads, 4, 'alice\'s reads');
    t.ok(reads.passed.every((s) => s === 200));
    t.ok((await metric(r.url, 'nora_http_memory_answers_total')) > 0, 'some of those reads were answered from memory');
    t.equal((await call(url, bob, 'GET', undefined, accept)).status, 200, 'bob reads on');
    await new Promise((res) => setTimeout(res, 1100));
    t.equal((await call(url, alice, 'GET', undefined, accept)).status, 200, 'a second later alice has a token again');
  });

  t.test('anonymous callers are limited by address (the forwarded one behind a trusted proxy)', async (t) => {
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    const npm = await untilLimited(() => call(`${r.url}/npm/left-pad`, undefined, 'GET', undefined, from('198.51.100.7')));
    refusedAfter(t, npm, 4, 'npm reads from 198.51.100.7');
    t.ok(npm.passed.every((s) => s === 404));
    t.match(JSON.parse(npm.limited?.text ?? '{}'), { error: /rate limit exceeded; retry after \d+ seconds/ }, 'npm error shape');
    t.equal((await call(`${r.url}/npm/left-pad`, undefined, 'GET', undefined, from('198.51.100.8'))).status, 404, 'another address is not limited');
    const pypi = await untilLimited(() => call(`${r.url}/simple/demo/`, undefined, 'GET', undefined, from('198.51.100.7')));
    t.ok(pypi.limited, 'the same address, another format: same bucket');
    t.match(pypi.limited?.headers.get('content-type'), /^text\/plain/, 'PyPI error shape');
    t.ok(pypi.limited?.headers.get('retry-after'));
  });

  t.test('the token API draws on the auth bucket; /health and /ready never limited', async (t) => {
    const list = () => call(`${r.url}/api/tokens/list`, undefined, 'POST', JSON.stringify({ username: 'alice', password: USERS.alice }), { 'content-type': 'application/json', 'x-forwarded-for': '192.0.2.9' });
    const calls = await untilLimited(list);
    refusedAfter(t, calls, 2, 'token API calls');
    t.ok(calls.passed.every((s) => s === 200));
    t.match(JSON.parse(calls.limited?.text ?? '{}'), { error: /rate limit/ });
    for (let i = 0; i < 30; i++) {
      const h = await call(`${r.url}/health`);
      const rd = await call(`${r.url}/ready`);
      if (h.status !== 200 || rd.status !== 200) t.fail(`health ${h.status} ready ${rd.status} at ${i}`);
    }
    t.pass('30 × /health and /ready: all 200');
    t.ok((await metric(r.url, 'nora_rate_limited_total', 'class="upload"')) >= 1, 'upload refusals counted');
    t.ok((await metric(r.url, 'nora_rate_limited_total', 'class="general"')) >= 3, 'read refusals counted');
    t.ok((await metric(r.url, 'nora_rate_limited_total', 'class="auth"')) >= 1, 'token API refusals counted');
    t.ok((await metric(r.url, 'nora_http_requests_total', 'status="429"')) >= 4, '429s in the request counter');
  });

  t.test('npm reports the refusal', async (t) => {
    // npm's requests come from 127.0.0.1 as an anonymous caller: keep that address's bucket
    // empty while npm runs (each token that refills is taken within a millisecond or two).
    let draining = true;
    const drainer = (async () => {
      while (draining) await call(`${r.url}/npm/left-pad`);
    })();
    await new Promise((res) => setTimeout(res, 300));
    const cache = join(dir, 'npm-cache');
    const out = await exec('npm', ['view', 'left-pad', '--registry', `${r.url}/npm/`, '--cache', cache, '--fetch-retries', '0', '--userconfig', join(dir, 'npmrc')], {
      env: { ...process.env, npm_config_loglevel: 'error' },
    }).then(
      (o) => o.stdout + o.stderr,
      (e: { stdout: string; stderr: string }) => e.stdout + e.stderr,
    );
    draining = false;
    await drainer;
    t.match(out, /429|Too Many Requests|rate limit/i, out.slice(0, 300));
  });
});

t.test('idle buckets are forgotten; the table is bounded', async (t) => {
  const limiter = new RateLimiter({ enabled: true, auth_rps: 1, auth_burst: 5, upload_rps: 10, upload_burst: 20, general_rps: 10, general_burst: 20 }, [], new Metrics());
  t.teardown(() => limiter.close());
  const anon: Identity = { user: 'anonymous', role: 'read', via: 'anonymous' };
  for (let i = 0; i < 1000; i++) limiter.wait('auth', anon, { ip: `10.1.${i >> 8}.${i & 255}`, headers: {} } as unknown as ReadView);
  t.equal(limiter.tracked, 1000, 'one bucket per address');
  limiter.sweep(Date.now() + 200);
  t.equal(limiter.tracked, 1000, 'not yet refilled: kept');
  limiter.sweep(Date.now() + 2000);
  t.equal(limiter.tracked, 0, 'refilled buckets are dropped');
  const alice: Identity = { user: 'alice', role: 'write', via: 'htpasswd' };
  const view = { ip: '10.0.0.1', headers: {} } as unknown as ReadView;
  let refused = 0;
  for (let i = 0; i < 25; i++) if (limiter.wait('upload', alice, view) > 0) refused++;
  t.equal(refused, 5, 'burst 20 of 25');
  limiter.sweep(Date.now() + 10_000);
  t.equal(limiter.wait('upload', { ...alice }, view), 0, 'a swept identity starts again with a full bucket, even through its old memo');
});
