// Docker pull-through against a real upstream: Debian's docker-registry
// (CNCF distribution 2.8) holding images pushed with skopeo, behind the
// counting pass-through. skopeo pulls through nora-ts; tags revalidate with
// HEAD; an upstream that goes down leaves cached tags served (marked stale)
// and answers 503 + Retry-After for what is not cached; hosted wins.
import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readdir, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry, tempDir, CLI, type Running } from './helpers/registry.js';
import { parseDigest } from '../src/main/digest.js';
import { startDistribution } from './helpers/distribution.js';
import { startPassThrough } from '../bench/pass-through.js';
import { buildOciImage } from './helpers/oci-image.js';
import { pushImage, OCI_MANIFEST } from './helpers/oci-push.js';

const exec = promisify(execFile);
const skopeo = async (...args: string[]) => (await exec('skopeo', args, { maxBuffer: 16 << 20 })).stdout;
const ACCEPT = `${OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json`;

t.test('docker pull-through from distribution: skopeo, HEAD revalidation, stale, 503, hosted wins', async (t) => {
  const work = await tempDir('nora-proxy-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const upstream = await startDistribution(join(work, 'upstream'));
  t.teardown(() => upstream.stop());
  const pt = await startPassThrough(upstream.url);
  t.teardown(() => pt.close());
  const img = await buildOciImage(work, 'v1');
  await skopeo('copy', '--dest-tls-verify=false', `oci:${img.dir}:v1`, `docker://127.0.0.1:${upstream.port}/library/app:v1`);

  const r = await startRegistry({ docker: { upstreams: [{ url: pt.url, auth: '', prefix: '', namespace: 'up' }] } });
  t.teardown(() => r.close());
  const host = `127.0.0.1:${r.port}`;

  // skopeo through nora-ts: a one-segment name finds library/app; inspect lists tags from upstream
  const back = join(work, 'back');
  const [inspectOut] = await Promise.all([
    skopeo('inspect', '--tls-verify=false', `docker://${host}/library/app:v1`),
    skopeo('copy', '--src-tls-verify=false', `docker://${host}/app:v1`, `oci:${back}:v1`),
  ]);
  const inspect = JSON.parse(inspectOut) as { Digest: string; RepoTags: string[] };
  t.equal(inspect.Digest, img.manifestDigest, 'the upstream manifest digest, exact bytes');
  t.same(inspect.RepoTags, ['v1'], 'tags listed from upstream');
  t.same((await readdir(join(back, 'blobs', 'sha256'))).sort(), (await readdir(join(img.dir, 'blobs', 'sha256'))).sort(), 'every blob came through');

  // cached now: a second pull of the blobs asks upstream nothing
  const blobGets = pt.count('GET', '/v2/library/app/blobs/');
  const again = join(work, 'again');
  await skopeo('copy', '--src-tls-verify=false', `docker://${host}/library/app:v1`, `oci:${again}:v1`);
  t.equal(pt.count('GET', '/v2/library/app/blobs/'), blobGets, 'cached blobs are not fetched again');

  // tags revalidate with HEAD (metadata_ttl -1): unchanged → no GET
  const path = '/v2/library/app/manifests/v1';
  const gets = pt.count('GET', path);
  const heads = pt.count('HEAD', path);
  const m1 = await fetch(`${r.url}${path}?ns=docker.io`, { headers: { accept: ACCEPT } });
  t.equal(m1.status, 200, "containerd's ?ns= shape");
  t.equal(m1.headers.get('docker-content-digest'), img.manifestDigest);
  await m1.arrayBuffer();
  t.equal(pt.count('HEAD', path), heads + 1, 'revalidated with one HEAD');
  // docker's registry-mirrors first sends HEAD of the tag
  const head = await fetch(`${r.url}${path}`, { method: 'HEAD', headers: { accept: ACCEPT } });
  t.equal(head.status, 200, "registry-mirrors' HEAD of a tag");
  t.equal(head.headers.get('docker-content-digest'), img.manifestDigest);
  t.equal(pt.count('GET', path), gets, 'no GET when the digest did not move (two revalidations)');

  // the tag moves upstream: the next pull sees it
  const moved = await pushImage({ url: upstream.url } as Running, 'library/app', 'v1', { seed: 'moved' });
  const m2 = await fetch(`${r.url}${path}`, { headers: { accept: ACCEPT } });
  t.equal(m2.headers.get('docker-content-digest'), moved.digest, 'a moved tag is fetched anew');
  t.ok(Buffer.from(await m2.arrayBuffer()).equals(moved.bytes), 'exact bytes of the new manifest');
  t.equal(m2.headers.get('content-type'), OCI_MANIFEST, 'media type kept');

  // upstream down: the cached tag is served, marked stale; what is not cached is 503, never 404
  pt.down = true;
  const stale = await fetch(`${r.url}${path}`, { headers: { accept: ACCEPT } });
  t.equal(stale.status, 200);
  t.equal(stale.headers.get('docker-content-digest'), moved.digest);
  t.match(stale.headers.get('warning'), /110 .*Stale/, 'marked stale');
  await stale.arrayBuffer();
  for (const p of ['/v2/library/app/manifests/nope', '/v2/library/other/blobs/sha256:' + 'a'.repeat(64), '/v2/library/app/tags/list']) {
    const res = await fetch(`${r.url}${p}`);
    const body = (await res.json()) as { errors: { code: string }[] };
    t.equal(res.status, 503, `${p}: 503 with nothing cached`);
    t.ok(Number(res.headers.get('retry-after')) >= 1, 'Retry-After');
    t.equal(body.errors[0]!.code, 'UNAVAILABLE', 'OCI error shape');
  }
  pt.down = false;

  // an unknown name upstream is a plain 404
  const unknown = await fetch(`${r.url}/v2/library/nothing/manifests/v1`);
  t.equal(unknown.status, 404);
  await unknown.arrayBuffer();

  // hosted wins: a push to a proxied name shadows the upstream for that name
  const own = await pushImage(r, 'library/app', 'v1', { seed: 'hosted' });
  const m3 = await fetch(`${r.url}${path}`, { headers: { accept: ACCEPT } });
  t.equal(m3.headers.get('docker-content-digest'), own.digest, 'the hosted manifest wins');
  await m3.arrayBuffer();
  const metrics = await (await fetch(`${r.url}/metrics`)).text();
  t.match(metrics, /nora_upstream_requests_total\{upstream="http:\/\/127\.0\.0\.1:\d+",status="200"\} \d+/);
  t.match(metrics, /nora_upstream_errors_total\{upstream="http:\/\/127\.0\.0\.1:\d+",kind="network"\} \d+/);
});

t.test('no upstream configured (the default): hosted only, nothing leaves', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  t.same(r.config.docker.upstreams, []);
  const res = await fetch(`${r.url}/v2/library/alpine/manifests/latest`);
  t.equal(res.status, 404);
  await res.arrayBuffer();
});

t.test('nora gc --proxy-max-age-days: keeps cache used recently, drops the rest, never hosted content', async (t) => {
  const work = await tempDir('nora-proxy-gc-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const upstream = await startDistribution(join(work, 'upstream'));
  t.teardown(() => upstream.stop());
  const old = await pushImage({ url: upstream.url } as Running, 'library/old', 'v1', { seed: 'old' });
  const fresh = await pushImage({ url: upstream.url } as Running, 'library/fresh', 'v1', { seed: 'fresh' });
  const dir = join(work, 'nora');
  const r = await startRegistry({ docker: { upstreams: [{ url: upstream.url, auth: '', prefix: '', namespace: 'up' }] } }, dir);
  t.teardown(() => r.close());
  const own = await pushImage(r, 'team/own', 'v1', { seed: 'own' });
  const pull = async (name: string, m: { doc: Record<string, unknown> }) => {
    const res = await fetch(`${r.url}/v2/${name}/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
    await res.arrayBuffer();
    const doc = m.doc as { config: { digest: string }; layers: { digest: string }[] };
    for (const d of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) await (await fetch(`${r.url}/v2/${name}/blobs/${d}`)).arrayBuffer();
    return res.status;
  };
  t.equal(await pull('library/old', old), 200);
  t.equal(await pull('library/fresh', fresh), 200);
  // everything ten days old, except what `fresh` served since
  const tenDays = new Date(Date.now() - 10 * 86_400_000);
  const storage = join(dir, 'storage');
  const setTimes = async (p: string, when: Date): Promise<void> => {
    for (const e of await readdir(p, { withFileTypes: true })) {
      const full = join(p, e.name);
      if (e.isDirectory()) await setTimes(full, when);
      else await utimes(full, when, when);
    }
  };
  await setTimes(storage, tenDays);
  await setTimes(join(storage, 'docker/_proxy/up/library/fresh'), new Date());
  const out = execFileSync(process.execPath, [CLI, 'gc', '--proxy-max-age-days', '7', '--grace-secs', '0'], {
    env: { ...process.env, NORA_STORAGE_PATH: storage, NORA_AUTH_TOKEN_STORAGE: join(dir, 'tokens') },
    encoding: 'utf8',
  });
  t.match(out, /pull-through cache unused for 7 days: 1 manifests, 1 tags, 2 blob links dropped/);
  const has = async (d: string) => (await r.registry.ctx.blobs.stat(parseDigest(d)!)) !== null;
  const layers = (m: { doc: Record<string, unknown> }) => (m.doc as { layers: { digest: string }[] }).layers.map((l) => l.digest);
  t.notOk(await has(layers(old)[0]!), "the unused cache entry's layer was freed");
  t.ok(await has(layers(fresh)[0]!), 'the recently used cache entry is kept');
  t.ok(await has(layers(own)[0]!) && (await has(own.digest)), 'hosted content is never dropped for age');
  await new Promise((res) => setTimeout(res, 1100)); // the tag cache's TTL
  t.equal(await pull('library/old', old), 200, 'a dropped entry is fetched again on its next pull');
});
