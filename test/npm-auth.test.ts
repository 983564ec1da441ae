// npm with authentication on: tokens in .npmrc as the seed document shows
// (//host/npm/:_authToken=...), roles enforced (read tokens cannot publish,
// whole-package unpublish needs admin), whoami names the token owner, and
// anonymous installs work with anonymous_read.
import t from 'tap';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { basic, bearer, mint, startAuthRegistry } from './helpers/auth.js';
import { tempDir } from './helpers/registry.js';
import { makePackage, NpmWorkspace } from './helpers/npm-cli.js';

t.test('tokens and roles (anonymous_read off)', async (t) => {
  const r = await startAuthRegistry();
  const dir = await tempDir('nora-npm-auth-');
  t.teardown(async () => {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });
  const reg = `${r.url}/npm/`;
  const write = await mint(r.url, 'alice', 'alice-pw', 'write');
  const read = await mint(r.url, 'bob', 'bob-pw', 'read');
  const admin = await mint(r.url, 'admin', 'admin-pw', 'admin');
  const writer = new NpmWorkspace(join(dir, 'writer'), reg);
  const reader = new NpmWorkspace(join(dir, 'reader'), reg);
  const nobody = new NpmWorkspace(join(dir, 'nobody'), reg);
  const boss = new NpmWorkspace(join(dir, 'boss'), reg);
  for (const [ws, token] of [[writer, write], [reader, read], [nobody, undefined], [boss, admin]] as const) {
    await makePackage(ws.dir, { name: 'ws', version: '0.0.0', private: true }, null);
    await ws.configure(token);
  }

  const pkg = await makePackage(join(dir, 'secure'), { name: '@corp/secure', version: '1.0.0' }, 'secure-1');
  const pub = await writer.run(['publish'], pkg);
  t.equal(pub.code, 0, pub.stderr);
  const who = await writer.run(['whoami']);
  t.equal(who.stdout.trim(), 'alice', 'whoami names the token owner');

  const doc = (await (await fetch(`${r.url}/npm/@corp/secure`, { headers: { authorization: bearer(read) } })).json()) as any;
  t.same(doc.maintainers, [{ name: 'alice' }]);
  t.same(doc.versions['1.0.0']._npmUser, { name: 'alice' });

  // A read-only token cannot publish: 403 from the registry.
  const pkg2 = await makePackage(join(dir, 'secure2'), { name: '@corp/secure', version: '1.0.1' }, 'secure-2');
  const denied = await reader.run(['publish'], pkg2);
  t.not(denied.code, 0);
  t.match(denied.stderr, /E403|403 Forbidden/);
  t.equal((await fetch(`${r.url}/npm/@corp/secure/1.0.1`, { headers: { authorization: bearer(read) } })).status, 404, 'nothing was published');

  // Without credentials nothing is readable; with a read token installs work.
  const anon = await nobody.run(['install', '@corp/secure', '--no-audit', '--no-fund']);
  t.not(anon.code, 0);
  t.match(anon.stderr, /E401|401 Unauthorized/);
  const inst = await reader.run(['install', '@corp/secure', '--no-audit', '--no-fund']);
  t.equal(inst.code, 0, inst.stderr);
  t.equal(createRequire(join(reader.dir, 'index.js'))('@corp/secure'), 'secure-1');

  // Raw API checks of the same rules, with the npm error shape.
  const noAuth = await fetch(`${r.url}/npm/@corp/secure`);
  t.equal(noAuth.status, 401);
  t.match(noAuth.headers.get('www-authenticate'), /^Basic realm=/);
  t.match(await noAuth.json(), { error: String });
  const whoAnon = await fetch(`${r.url}/npm/-/whoami`);
  t.equal(whoAnon.status, 401);
  t.same(await (await fetch(`${r.url}/npm/-/whoami`, { headers: { authorization: basic('alice', 'alice-pw') } })).json(), { username: 'alice' });
  t.equal((await fetch(`${r.url}/npm/-/ping`)).status, 200, 'ping is public');
  const tagAdd = await fetch(`${r.url}/npm/-/package/@corp%2fsecure/dist-tags/beta`, {
    method: 'PUT',
    headers: { authorization: bearer(read), 'content-type': 'application/json' },
    body: '"1.0.0"',
  });
  t.equal(tagAdd.status, 403, 'read token cannot move dist-tags');
  t.match(await tagAdd.json(), { error: /read role/ });

  // Whole-package unpublish needs admin; the write token's attempt leaves it in place.
  const wDel = await writer.run(['unpublish', '@corp/secure', '--force']);
  t.not(wDel.code, 0);
  t.match(wDel.stderr, /E403|403 Forbidden/);
  t.equal((await fetch(`${r.url}/npm/@corp/secure`, { headers: { authorization: bearer(read) } })).status, 200);
  const aDel = await boss.run(['unpublish', '@corp/secure', '--force']);
  t.equal(aDel.code, 0, aDel.stderr);
  t.equal((await fetch(`${r.url}/npm/@corp/secure`, { headers: { authorization: bearer(read) } })).status, 404);
});

t.test('anonymous install with anonymous_read', async (t) => {
  const r = await startAuthRegistry({ anonymous_read: true });
  const dir = await tempDir('nora-npm-anon-');
  t.teardown(async () => {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });
  const reg = `${r.url}/npm/`;
  const writer = new NpmWorkspace(join(dir, 'writer'), reg);
  const anon = new NpmWorkspace(join(dir, 'anon'), reg);
  await makePackage(writer.dir, { name: 'ws', version: '0.0.0', private: true }, null);
  await makePackage(anon.dir, { name: 'ws', version: '0.0.0', private: true }, null);
  await writer.configure(await mint(r.url, 'alice', 'alice-pw', 'write'));
  await anon.configure();

  const pkg = await makePackage(join(dir, 'open'), { name: 'open-pkg', version: '2.0.0' }, 'open-2');
  const pub = await writer.run(['publish'], pkg);
  t.equal(pub.code, 0, pub.stderr);
  const inst = await anon.run(['install', 'open-pkg', '--no-audit', '--no-fund']);
  t.equal(inst.code, 0, inst.stderr);
  t.equal(createRequire(join(anon.dir, 'index.js'))('open-pkg'), 'open-2');

  // Reads are open, writes are not, and whoami still wants credentials.
  const pkg2 = await makePackage(join(dir, 'open2'), { name: 'open-pkg', version: '2.0.1' }, 'open-3');
  await anon.configure('nra_not_a_real_token');
  const anonPub = await anon.run(['publish'], pkg2);
  t.not(anonPub.code, 0);
  t.match(anonPub.stderr, /E401|401 Unauthorized/);
  t.equal((await fetch(`${r.url}/npm/-/whoami`)).status, 401);
  t.equal((await fetch(`${r.url}/npm/open-pkg/-/open-pkg-2.0.0.tgz`)).status, 200);
  t.equal((await fetch(`${r.url}/npm/open-pkg/2.0.1`)).status, 404);
});
