// npm pull-through: Verdaccio 6.8.0 as the upstream (packages published to it
// with the real npm CLI), reached through a counting pass-through, and
// nora-ts with npm.proxy pointing at it: packuments full and abbreviated with
// tarball URLs rewritten to nora-ts, scoped names, If-None-Match revalidation
// counted at the upstream, hosted packages winning, the cached copy served
// while the upstream is down, 503 (never 404) with nothing cached.
import t from 'tap';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { collectGarbage } from '../src/main/maintenance/gc.js';
import { startRegistry, tempDir, type Running } from './helpers/registry.js';
import { makePackage, NpmWorkspace } from './helpers/npm-cli.js';
import { startVerdaccio, verdaccioMissing, type Verdaccio } from './helpers/verdaccio.js';
import { startPassThrough, type PassThrough } from '../bench/pass-through.js';

const ABBREVIATED = 'application/vnd.npm.install-v1+json';
const missing = await verdaccioMissing();
if (missing) t.skip(`npm pull-through needs Verdaccio as the upstream: ${missing}`);
else await main();

interface World {
  up: Verdaccio;
  proxy: PassThrough;
  dir: string;
  publishUpstream(manifest: Record<string, unknown>, value: unknown): Promise<void>;
}

/** One Verdaccio for the whole file (it takes seconds to start); each test uses its own package names. */
async function world(t: Tap.Test): Promise<World> {
  const up = await startVerdaccio();
  const proxy = await startPassThrough(up.url);
  const dir = await tempDir('nora-npm-proxy-');
  t.teardown(async () => {
    await proxy.close();
    await up.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const ws = new NpmWorkspace(join(dir, 'upstream-ws'), `${up.url}/`);
  await makePackage(ws.dir, { name: 'ws', version: '0.0.0', private: true }, null);
  await ws.configure(up.token);
  let n = 0;
  return {
    up,
    proxy,
    dir,
    async publishUpstream(manifest, value) {
      const pkg = await makePackage(join(dir, `pkg-${n++}`), manifest, value);
      const r = await ws.run(['publish'], pkg);
      if (r.code !== 0) throw new Error(`publish to Verdaccio failed: ${r.stderr}`);
    },
  };
}

async function nora(t: Tap.Test, w: World, npm: Record<string, unknown> = {}): Promise<Running> {
  const r = await startRegistry({ npm: { proxy: w.proxy.url, proxy_auth: `${w.up.user}:${w.up.password}`, metadata_ttl: 300, ...npm } });
  t.teardown(() => r.close());
  return r;
}

const getJson = async (url: string, accept?: string) => {
  const res = await fetch(url, { headers: accept ? { accept } : {} });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
};

async function main() {
  const w = await world(t);
  t.beforeEach(() => {
    w.proxy.down = false;
    w.proxy.status = 0;
  });
  t.test('packuments through the proxy: full, abbreviated, scoped; links rewritten; revalidated with If-None-Match', async (t) => {
    await w.publishUpstream({ name: 'up-hello', version: '1.0.0', description: 'from upstream' }, 'hello-1.0.0');
    await w.publishUpstream({ name: 'up-hello', version: '1.1.0', description: 'from upstream' }, 'hello-1.1.0');
    await w.publishUpstream({ name: '@upscope/lib', version: '2.0.0', dependencies: { 'up-hello': '^1.0.0' } }, 'lib-2.0.0');
    const r = await nora(t, w, { metadata_ttl: 1 });

    const full = await getJson(`${r.url}/npm/up-hello`);
    t.equal(full.status, 200);
    t.same(Object.keys(full.body.versions).sort(), ['1.0.0', '1.1.0']);
    t.equal(full.body['dist-tags'].latest, '1.1.0');
    t.equal(full.body.versions['1.0.0'].description, 'from upstream');
    t.equal(full.body.versions['1.0.0'].dist.tarball, `${r.url}/npm/up-hello/-/up-hello-1.0.0.tgz`, 'tarball URL rewritten to nora-ts');
    t.match(full.body.versions['1.0.0'].dist.integrity, /^sha512-/);
    const abbr = await getJson(`${r.url}/npm/up-hello`, ABBREVIATED);
    t.equal(abbr.status, 200);
    t.match(abbr.headers.get('content-type'), ABBREVIATED);
    t.notOk(abbr.body.versions['1.0.0'].description, 'the abbreviated document has only install fields');
    t.equal(abbr.body.versions['1.1.0'].dist.tarball, `${r.url}/npm/up-hello/-/up-hello-1.1.0.tgz`);
    const scoped = await getJson(`${r.url}/npm/@upscope%2flib`);
    t.equal(scoped.status, 200);
    t.equal(scoped.body.versions['2.0.0'].dist.tarball, `${r.url}/npm/@upscope/lib/-/lib-2.0.0.tgz`);
    t.equal((await getJson(`${r.url}/npm/@upscope/lib/2.0.0`)).body.version, '2.0.0', 'one version of a scoped package');

    const docGets = () => w.proxy.seen.filter((s) => s.method === 'GET' && s.path === '/up-hello');
    t.equal(docGets().length, 1, 'full and abbreviated documents come from one upstream fetch');
    t.equal(docGets()[0]!.headers.authorization, `Basic ${Buffer.from(`${w.up.user}:${w.up.password}`).toString('base64')}`, 'npm.proxy_auth goes upstream');

    // Within metadata_ttl nothing goes upstream; after it, one conditional request answered 304.
    await new Promise((res) => setTimeout(res, 1100));
    const again = await Promise.all([1, 2, 3, 4].map(() => getJson(`${r.url}/npm/up-hello`, ABBREVIATED)));
    t.same(again.map((a) => a.status), [200, 200, 200, 200]);
    t.equal(docGets().length, 2, 'four concurrent reads after the TTL make one upstream request');
    t.ok(docGets()[1]!.headers['if-none-match'], 'the revalidation carries If-None-Match');
    t.equal(docGets()[1]!.status, 304, 'Verdaccio answered 304');

    // A version published upstream shows up after the TTL.
    await w.publishUpstream({ name: 'up-hello', version: '1.2.0' }, 'hello-1.2.0');
    await new Promise((res) => setTimeout(res, 1100));
    const newer = await getJson(`${r.url}/npm/up-hello`);
    t.ok(newer.body.versions['1.2.0'], 'a new upstream version is seen after the TTL');
    t.equal(docGets().at(-1)!.status, 200);
  });

  t.test('npm install through nora-ts: tarballs fetched once each, checked against dist.integrity, kept by gc', async (t) => {
    await w.publishUpstream({ name: 'up-dep', version: '1.0.0' }, 'dep-1.0.0');
    await w.publishUpstream({ name: '@upscope/app-lib', version: '3.1.0', dependencies: { 'up-dep': '^1.0.0' } }, 'app-lib-3.1.0');
    const r = await nora(t, w);
    const ws = new NpmWorkspace(join(w.dir, 'install-ws'), `${r.url}/`);
    await makePackage(ws.dir, { name: 'consumer', version: '0.0.0', private: true }, null);
    await ws.configure();
    const tarballGets = () => w.proxy.seen.filter((s) => s.method === 'GET' && s.path.includes('/-/'));
    const install = await ws.run(['install', '@upscope/app-lib', '--no-audit', '--no-fund'], ws.dir, join(w.dir, 'cache-1'));
    t.equal(install.code, 0, `npm install through nora-ts: ${install.stderr}`);
    const req = createRequire(join(ws.dir, 'index.js'));
    t.equal(req('@upscope/app-lib'), 'app-lib-3.1.0');
    t.equal(req('up-dep'), 'dep-1.0.0', 'its dependency came through the proxy too');
    t.same(tarballGets().map((s) => decodeURIComponent(s.path)).sort(), ['/@upscope/app-lib/-/app-lib-3.1.0.tgz', '/up-dep/-/up-dep-1.0.0.tgz'], 'one upstream GET per tarball');
    const lock = JSON.parse(await (await import('node:fs/promises')).readFile(join(ws.dir, 'package-lock.json'), 'utf8'));
    t.equal(lock.packages['node_modules/up-dep'].resolved, `${r.url}/npm/up-dep/-/up-dep-1.0.0.tgz`, 'the lockfile names nora-ts');

    // A second clean project with a cold npm cache: the tarballs come from nora-ts's store.
    const again = await ws.run(['install', '@upscope/app-lib', '--no-audit', '--no-fund', '--prefix', join(w.dir, 'second')], ws.dir, join(w.dir, 'cache-2'));
    t.equal(again.code, 0, again.stderr);
    t.equal(tarballGets().length, 2, 'no upstream GET for cached tarballs');

    // gc keeps what the cached packuments name, however old.
    const report = await collectGarbage(r.registry.ctx.storage, { graceMs: 0, tempMaxAgeMs: 3_600_000 });
    t.equal(report.blobsDeleted, 0, 'gc keeps cached tarballs the cached documents name');
    const tgz = await fetch(`${r.url}/npm/up-dep/-/up-dep-1.0.0.tgz`);
    t.equal(tgz.status, 200);
    t.equal((await tgz.arrayBuffer()).byteLength > 0, true);
  });

  t.test('a tarball that does not match dist.integrity is refused and never stored', async (t) => {
    await w.publishUpstream({ name: 'up-tampered', version: '1.0.0' }, 'genuine');
    const r = await nora(t, w);
    const path = '/up-tampered/-/up-tampered-1.0.0.tgz';
    const genuine = Buffer.from(await (await fetch(`${w.up.url}${path}`, { headers: { authorization: `Bearer ${w.up.token}` } })).arrayBuffer());
    const evil = Buffer.from(genuine);
    evil[evil.length - 10]! ^= 0xff;
    w.proxy.replace.set(path, evil);
    const url = `${r.url}/npm/up-tampered/-/up-tampered-1.0.0.tgz`;
    const cut = await fetch(url).then(async (res) => ({ status: res.status, body: await res.arrayBuffer().then(() => 'complete', () => 'cut') }), () => ({ status: 0, body: 'refused' }));
    t.not(cut.body, 'complete', `the client never gets the whole wrong tarball (status ${cut.status}, ${cut.body})`);
    const ws = new NpmWorkspace(join(w.dir, 'tampered-ws'), `${r.url}/`);
    await makePackage(ws.dir, { name: 'victim', version: '0.0.0', private: true }, null);
    await ws.configure(undefined, ['fetch-retries=0']);
    const install = await ws.run(['install', 'up-tampered', '--no-audit', '--no-fund'], ws.dir, join(w.dir, 'cache-t'));
    t.not(install.code, 0, 'npm install fails');
    // Nothing was published: once the upstream serves the genuine bytes, a new fill serves them.
    w.proxy.replace.delete(path);
    const ok = await fetch(url);
    t.equal(ok.status, 200);
    t.ok(Buffer.from(await ok.arrayBuffer()).equals(genuine), 'the next request fetches afresh and gets the genuine tarball');
  });

  t.test('hosted packages win over the upstream; unknown names are 404', async (t) => {
    await w.publishUpstream({ name: 'shadowed', version: '9.9.9' }, 'upstream-shadowed');
    const r = await nora(t, w);
    const ws = new NpmWorkspace(join(w.dir, 'hosted-ws'), `${r.url}/npm/`);
    await makePackage(ws.dir, { name: 'ws2', version: '0.0.0', private: true }, null);
    await ws.configure('unused');
    const pkg = await makePackage(join(w.dir, 'hosted-shadowed'), { name: 'shadowed', version: '10.0.0' }, 'hosted-shadowed');
    // npm reads the packument first and wants a version above the upstream's (9.9.9) for `latest`.
    const pub = await ws.run(['publish'], pkg);
    t.equal(pub.code, 0, `publish the hosted package: ${pub.stderr}`);
    const doc = await getJson(`${r.url}/npm/shadowed`);
    t.same(Object.keys(doc.body.versions), ['10.0.0'], 'only the hosted versions, none of the upstream');
    const asked = w.proxy.seen.filter((s) => s.path === '/shadowed').length;
    t.equal((await getJson(`${r.url}/npm/shadowed`, ABBREVIATED)).body['dist-tags'].latest, '10.0.0');
    t.equal(w.proxy.seen.filter((s) => s.path === '/shadowed').length, asked, 'once hosted, the name is never asked upstream');
    const tgz = await fetch(`${r.url}/npm/shadowed/-/shadowed-9.9.9.tgz`);
    t.equal(tgz.status, 404, 'nor are its upstream tarballs served');
    const none = await getJson(`${r.url}/npm/no-such-package`);
    t.equal(none.status, 404, 'the upstream says 404: so does nora-ts');
  });

  t.test('upstream down or failing: the cached copy answers; with nothing cached 503 with Retry-After, never 404', async (t) => {
    await w.publishUpstream({ name: 'up-stale', version: '1.0.0' }, 'stale');
    const r = await nora(t, w, { metadata_ttl: 0 });
    t.equal((await getJson(`${r.url}/npm/up-stale`)).status, 200);
    for (const mode of ['reset', 500, 429] as const) {
      // Past the memory path's one second (a document answers from memory that long)
      await new Promise((res) => setTimeout(res, 1100));
      w.proxy.down = mode === 'reset';
      w.proxy.status = mode === 'reset' ? 0 : mode;
      const before = w.proxy.seen.length;
      const cached = await getJson(`${r.url}/npm/up-stale`, ABBREVIATED);
      t.equal(cached.status, 200, `upstream ${mode}: the cached document answers`);
      t.ok(cached.body.versions['1.0.0']);
      t.ok(w.proxy.seen.length > before, 'metadata_ttl 0: it asked the upstream first');
      const cold = await getJson(`${r.url}/npm/never-cached`);
      t.equal(cold.status, 503, `upstream ${mode}, nothing cached: 503`);
      t.ok(Number(cold.headers.get('retry-after')) > 0, 'with Retry-After');
      t.match(cold.body.error, /upstream .* unavailable/);
      t.notMatch(cold.body.error, w.up.password, 'no credentials in the error');
    }
    w.proxy.down = false;
    w.proxy.status = 0;
    const strict = await nora(t, w, { metadata_ttl: 0, serve_stale: false });
    t.equal((await getJson(`${strict.url}/npm/up-stale`)).status, 200);
    await new Promise((res) => setTimeout(res, 1100));
    w.proxy.down = true;
    t.equal((await getJson(`${strict.url}/npm/up-stale`)).status, 503, 'serve_stale = false: the upstream failure shows');
  });
}
