// The real npm CLI against nora-ts with auth off: publish (plain and scoped),
// install through the registry in another directory, dist-tags, deprecate,
// view, search, whoami, ping, unpublish of a version and of a package.
import t from 'tap';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { startRegistry, tempDir } from './helpers/registry.js';
import { makePackage, NpmWorkspace } from './helpers/npm-cli.js';

t.test('npm CLI end to end (auth off)', async (t) => {
  const r = await startRegistry();
  const dir = await tempDir('nora-npm-cli-');
  t.teardown(async () => {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });
  const ws = new NpmWorkspace(dir, `${r.url}/npm/`);
  // npm refuses to publish without some credential, even to an open registry.
  await ws.configure('nra_unused_when_auth_is_off');
  const ok = (t: { equal: (a: unknown, b: unknown, m: string) => unknown }, res: { code: number; stdout: string; stderr: string }, what: string) =>
    t.equal(res.code, 0, `${what}: ${res.stderr.split('\n').filter((l) => /ERR|error/.test(l)).join(' | ')}`);

  const plain = await makePackage(join(dir, 'plain'), { name: 'tiny-plain', version: '1.0.0', description: 'a tiny plain package', keywords: ['tiny', 'nora'] }, 'plain-1.0.0');
  const scoped = await makePackage(
    join(dir, 'scoped'),
    { name: '@demo/tiny-scoped', version: '1.0.0', description: 'a scoped one', dependencies: { 'tiny-plain': '^1.0.0' } },
    'scoped-1.0.0',
  );
  ok(t, await ws.run(['publish'], plain), 'publish tiny-plain@1.0.0');
  ok(t, await ws.run(['publish'], scoped), 'publish @demo/tiny-scoped@1.0.0');

  const pj = JSON.parse(await readFile(join(plain, 'package.json'), 'utf8'));
  pj.version = '1.1.0';
  await makePackage(plain, pj, 'plain-1.1.0');
  ok(t, await ws.run(['publish', '--tag', 'beta'], plain), 'publish tiny-plain@1.1.0 --tag beta');

  const view = await ws.run(['view', 'tiny-plain', '--json']);
  ok(t, view, 'view');
  const doc = JSON.parse(view.stdout);
  t.same(doc['dist-tags'], { latest: '1.0.0', beta: '1.1.0' }, 'a --tag publish leaves latest alone');
  t.same(doc.versions, ['1.0.0', '1.1.0']);
  t.match(doc.dist.tarball, `${r.url}/npm/tiny-plain/-/tiny-plain-1.0.0.tgz`);

  ok(t, await ws.run(['dist-tag', 'add', 'tiny-plain@1.1.0', 'latest']), 'dist-tag add');
  ok(t, await ws.run(['dist-tag', 'rm', 'tiny-plain', 'beta']), 'dist-tag rm');
  const tags = await ws.run(['dist-tag', 'ls', 'tiny-plain']);
  t.equal(tags.stdout.trim(), 'latest: 1.1.0');
  const rmLatest = await ws.run(['dist-tag', 'rm', 'tiny-plain', 'latest']);
  t.not(rmLatest.code, 0, 'the latest tag cannot be removed');
  t.match(rmLatest.stderr, /latest tag cannot be removed/);

  // Install the scoped package (and its dependency) elsewhere, with a cold cache.
  const app = join(dir, 'app');
  await makePackage(app, { name: 'app', version: '0.0.0', private: true }, null);
  const install = await ws.run(['install', '@demo/tiny-scoped', '--no-audit', '--no-fund'], app, join(dir, 'cache-install'));
  ok(t, install, 'install @demo/tiny-scoped');
  const req = createRequire(join(app, 'index.js'));
  t.equal(req('@demo/tiny-scoped'), 'scoped-1.0.0');
  t.equal(req('tiny-plain'), 'plain-1.1.0', 'the dependency resolved to the latest tag');
  const lock = JSON.parse(await readFile(join(app, 'package-lock.json'), 'utf8'));
  const published = await (await fetch(`${r.url}/npm/tiny-plain/1.1.0`)).json() as { dist: { integrity: string } };
  t.equal(lock.packages['node_modules/tiny-plain'].integrity, published.dist.integrity);

  ok(t, await ws.run(['deprecate', 'tiny-plain@1.0.0', 'use 1.1 instead']), 'deprecate');
  const dep = await ws.run(['view', 'tiny-plain@1.0.0', 'deprecated'], dir, join(dir, 'cache-view'));
  t.equal(dep.stdout.trim(), 'use 1.1 instead');
  const notDep = await ws.run(['view', 'tiny-plain@1.1.0', 'deprecated'], dir, join(dir, 'cache-view'));
  t.equal(notDep.stdout.trim(), '', 'other versions untouched');

  const search = await ws.run(['search', 'tiny', '--json']);
  ok(t, search, 'search');
  const hits = JSON.parse(search.stdout) as { name: string; version: string }[];
  t.same(hits.map((h) => h.name).sort(), ['@demo/tiny-scoped', 'tiny-plain']);
  t.equal(hits.find((h) => h.name === 'tiny-plain')!.version, '1.1.0');
  const scopedOnly = JSON.parse((await ws.run(['search', 'scoped', '--json'])).stdout) as { name: string }[];
  t.same(scopedOnly.map((h) => h.name), ['@demo/tiny-scoped']);

  const who = await ws.run(['whoami']);
  t.equal(who.stdout.trim(), 'anonymous', 'auth off: whoami is anonymous');
  ok(t, await ws.run(['ping']), 'ping');

  ok(t, await ws.run(['unpublish', 'tiny-plain@1.0.0']), 'unpublish one version');
  const after = JSON.parse((await ws.run(['view', 'tiny-plain', 'versions', '--json'], dir, join(dir, 'cache-after'))).stdout);
  t.same(after, ['1.1.0']);
  t.equal((await fetch(`${r.url}/npm/tiny-plain/-/tiny-plain-1.0.0.tgz`)).status, 404, 'tarball of an unpublished version is gone');
  t.equal((await fetch(`${r.url}/npm/tiny-plain/-/tiny-plain-1.1.0.tgz`)).status, 200);

  ok(t, await ws.run(['unpublish', '@demo/tiny-scoped', '--force']), 'unpublish a whole package');
  const gone = await ws.run(['view', '@demo/tiny-scoped'], dir, join(dir, 'cache-gone'));
  t.not(gone.code, 0);
  t.match(gone.stderr, /E404/);
  t.equal((await fetch(`${r.url}/npm/@demo%2ftiny-scoped`)).status, 404);
});
