// The product document's npm recipe as written: a token scoped to the root
// (`//host/:_authToken=...`) and `npm publish --registry=<host>` with no /npm/.
// npm clients get the npm registry at the root (recognised by their headers);
// every path another format owns or keeps still goes to that format, /npm/
// works as before, and the access rules are the same at both mounts.
import t from 'tap';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { bearer, mint, startAuthRegistry } from './helpers/auth.js';
import { tempDir } from './helpers/registry.js';
import { makePackage, NpmWorkspace, type NpmResult } from './helpers/npm-cli.js';

// What npm 11.19 sends on every request (captured from `npm publish` / `npm install`).
const NPM = { 'user-agent': 'npm/11.19.1 node/v20.20.2 linux x64 workspaces/false', 'npm-command': 'install', 'npm-auth-type': 'web' };
const errLines = (r: NpmResult) => r.stderr.split('\n').filter((l) => /ERR|error/.test(l)).join(' | ');

t.test("the product document's npm lines, at the root, with auth on", async (t) => {
  const r = await startAuthRegistry();
  const dir = await tempDir('nora-npm-root-');
  t.teardown(async () => {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });
  const root = `${r.url}/`;
  const write = await mint(r.url, 'alice', 'alice-pw', 'write');
  const read = await mint(r.url, 'bob', 'bob-pw', 'read');

  // echo "//registry.example.com/:_authToken=${NORA_TOKEN}" > .npmrc; npm publish --registry=https://registry.example.com
  const ci = new NpmWorkspace(join(dir, 'ci'), root);
  await makePackage(ci.dir, { name: 'ci', version: '0.0.0', private: true }, null);
  await ci.configure();
  const hello = await makePackage(join(dir, 'hello'), { name: 'nora-hello', version: '1.0.0' }, 'hello-1');
  const scoped = await makePackage(join(dir, 'scoped'), { name: '@demo/hello', version: '1.0.0', dependencies: { 'nora-hello': '^1.0.0' } }, 'scoped-1');
  for (const pkg of [hello, scoped]) {
    await writeFile(join(pkg, '.npmrc'), `//${r.url.slice('http://'.length)}/:_authToken=${write}\n`);
    const pub = await ci.run(['publish', `--registry=${r.url}`], pkg);
    t.equal(pub.code, 0, `publish at the root: ${errLines(pub)}`);
  }
  t.match((await ci.run(['whoami', `--registry=${r.url}`], hello)).stdout.trim(), 'alice', 'whoami at the root names the token owner');

  // The same package is one package at both mounts.
  const viaPrefix = (await (await fetch(`${r.url}/npm/@demo/hello`, { headers: { authorization: bearer(read) } })).json()) as any;
  t.same(viaPrefix['dist-tags'], { latest: '1.0.0' });

  // Install elsewhere with a read token scoped to the root (cold cache); tarballs
  // point under /npm/, which the root-scoped token covers.
  const user = new NpmWorkspace(join(dir, 'user'), root);
  await makePackage(user.dir, { name: 'user', version: '0.0.0', private: true }, null);
  await user.configure(read);
  const inst = await user.run(['install', '@demo/hello', '--no-audit', '--no-fund']);
  t.equal(inst.code, 0, `install from the root: ${errLines(inst)}`);
  const req = createRequire(join(user.dir, 'index.js'));
  t.equal(req('@demo/hello'), 'scoped-1');
  t.equal(req('nora-hello'), 'hello-1', 'the dependency resolved at the root too');
  const lock = JSON.parse(await readFile(join(user.dir, 'package-lock.json'), 'utf8'));
  t.equal(lock.packages['node_modules/nora-hello'].resolved, `${r.url}/npm/nora-hello/-/nora-hello-1.0.0.tgz`);
  t.equal(lock.packages['node_modules/@demo/hello'].resolved, `${r.url}/npm/@demo/hello/-/hello-1.0.0.tgz`);

  // The registry endpoints under /-/ at the root.
  t.equal((await user.run(['ping'])).code, 0, 'ping');
  const hits = JSON.parse((await user.run(['search', 'hello', '--json'])).stdout) as { name: string }[];
  t.same(hits.map((h) => h.name).sort(), ['@demo/hello', 'nora-hello'], 'search');
  const tagAdd = await ci.run(['dist-tag', 'add', 'nora-hello@1.0.0', 'stable', `--registry=${r.url}`], hello);
  t.equal(tagAdd.code, 0, `dist-tag add: ${errLines(tagAdd)}`);
  t.equal((await user.run(['dist-tag', 'ls', 'nora-hello'])).stdout.trim().split('\n').sort().join(','), 'latest: 1.0.0,stable: 1.0.0');

  // Same access rules as under /npm/: no token → 401, read token cannot publish → 403.
  const nobody = new NpmWorkspace(join(dir, 'nobody'), root);
  await makePackage(nobody.dir, { name: 'nobody', version: '0.0.0', private: true }, null);
  await nobody.configure();
  const anon = await nobody.run(['install', 'nora-hello', '--no-audit', '--no-fund']);
  t.not(anon.code, 0);
  t.match(anon.stderr, /E401|401 Unauthorized/);
  const hello2 = await makePackage(join(dir, 'hello2'), { name: 'nora-hello', version: '1.0.1' }, 'hello-2');
  const denied = await user.run(['publish'], hello2);
  t.not(denied.code, 0);
  t.match(denied.stderr, /E403|403 Forbidden/);

  // Unpublish a version (GET ?write=true, PUT -rev, DELETE tarball -rev, all at the root).
  const hello11 = await makePackage(join(dir, 'hello11'), { name: 'nora-hello', version: '1.1.0' }, 'hello-11');
  await writeFile(join(hello11, '.npmrc'), `//${r.url.slice('http://'.length)}/:_authToken=${write}\n`);
  t.equal((await ci.run(['publish', `--registry=${r.url}`], hello11)).code, 0, 'publish 1.1.0');
  const unpub = await ci.run(['unpublish', 'nora-hello@1.1.0', `--registry=${r.url}`], hello11);
  t.equal(unpub.code, 0, `unpublish at the root: ${errLines(unpub)}`);
  const doc = (await (await fetch(`${r.url}/npm/nora-hello`, { headers: { authorization: bearer(read) } })).json()) as any;
  t.same(Object.keys(doc.versions), ['1.0.0']);
});

t.test('npm at the root never shadows another route; other clients see no npm there', async (t) => {
  const r = await startAuthRegistry({ anonymous_read: true });
  t.teardown(() => r.close());
  const write = await mint(r.url, 'alice', 'alice-pw', 'write');
  const npmGet = (path: string, extra: Record<string, string> = {}) => fetch(`${r.url}${path}`, { headers: { ...NPM, ...extra } });

  // Routes owned by other formats answer as themselves, whatever the client.
  for (const path of ['/v2/', '/v2/_catalog', '/simple/', '/simple/nothing/', '/pypi/', '/legacy/', '/health', '/ready', '/metrics', '/api/tokens', '/npm/-/ping', '/npm/nothing']) {
    const [a, b] = [await fetch(`${r.url}${path}`), await npmGet(path)];
    t.same([b.status, b.headers.get('content-type')], [a.status, a.headers.get('content-type')], `${path}: the same answer with npm's headers`);
  }
  t.equal((await npmGet('/v2/')).headers.get('docker-distribution-api-version'), 'registry/2.0', '/v2/ is Docker');
  t.match(await (await npmGet('/health')).json(), { status: 'healthy' }, '/health is the health check');

  // Names kept for the registry's own routes (served or planned) are never claimed for npm.
  for (const path of ['/api', '/%63argo']) {
    const res = await npmGet(path);
    t.equal(res.status, 404, `${path}: not npm's`);
    t.same(await res.json(), { error: 'not found', code: 'NOT_FOUND' }, `${path}: the plain 404, not a package lookup`);
  }
  // Served formats answer as themselves, whoever asks.
  for (const path of ['/cargo/api/v1/crates', '/raw/file', '/maven2/com/x/maven-metadata.xml']) {
    const [a, b] = [await fetch(`${r.url}${path}`), await npmGet(path)];
    t.same([b.status, b.headers.get('content-type'), await b.text()], [a.status, a.headers.get('content-type'), await a.text()], `${path}: its format's answer, not npm's`);
  }
  // The web UI's paths are the UI's, whoever asks; a browser at the root is sent there, npm is not.
  const ui = await npmGet('/ui/', { accept: 'text/html' });
  t.equal(ui.status, 200);
  t.match(ui.headers.get('content-type'), /^text\/html/, '/ui/ is the web UI even with npm headers');
  const browser = await fetch(`${r.url}/`, { headers: { accept: 'text/html,application/xhtml+xml' }, redirect: 'manual' });
  t.same([browser.status, browser.headers.get('location')], [303, '/ui/'], 'a browser at the root goes to the UI');
  const npmAtRoot = await npmGet('/', { accept: 'text/html' });
  t.not(npmAtRoot.status, 303, 'an npm client at the root is never redirected to the UI');
  const put = await fetch(`${r.url}/api`, {
    method: 'PUT',
    headers: { ...NPM, 'npm-command': 'publish', authorization: bearer(write), 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'api', versions: {} }),
  });
  t.equal(put.status, 404, 'a package named like a kept route cannot be published at the root');

  // Without npm's headers the root is not npm's (a browser or curl gets the plain 404).
  const plain = await fetch(`${r.url}/-/ping`);
  t.equal(plain.status, 404);
  t.same(await plain.json(), { error: 'not found', code: 'NOT_FOUND' });
  // With them, each way npm clients identify themselves is recognised.
  for (const h of [
    { 'npm-command': 'ping' },
    { 'npm-auth-type': 'web' },
    { 'npm-session': '0123456789abcdef' },
    { 'user-agent': 'npm/11.19.1 node/v20.20.2 linux x64 workspaces/false' },
    { 'user-agent': 'yarn/1.22.22 npm/? node/v20.20.2 linux x64' },
    { 'user-agent': 'pnpm/9.15.0 npm/? node/v20.20.2 linux x64' },
  ]) {
    const res = await fetch(`${r.url}/-/ping`, { headers: h });
    t.equal(res.status, 200, `ping at the root with ${JSON.stringify(h)}`);
  }
  t.equal((await fetch(`${r.url}/-/ping`, { headers: { 'user-agent': 'notnpm/1.0' } })).status, 404, 'an npm-ish word in another agent is not npm');

  // Scoped names, versions and tarballs at the root; /npm/ unchanged; the error shape is npm's.
  t.equal((await fetch(`${r.url}/@s%2fp`, { headers: NPM })).status, 404);
  t.same(await (await fetch(`${r.url}/@s%2fp`, { headers: NPM })).json(), { error: 'package @s/p not found' }, "npm's error shape at the root");
  const whoAnon = await fetch(`${r.url}/-/whoami`, { headers: NPM });
  t.equal(whoAnon.status, 401, 'whoami needs a verified user, as under /npm/');
  const who = await fetch(`${r.url}/-/whoami`, { headers: { ...NPM, authorization: bearer(write) } });
  t.same(await who.json(), { username: 'alice' });
  t.same(await (await fetch(`${r.url}/npm/-/whoami`, { headers: { authorization: bearer(write) } })).json(), { username: 'alice' }, '/npm/ without npm headers as before');
  const login = await fetch(`${r.url}/-/user/org.couchdb.user:bob`, { method: 'PUT', headers: { ...NPM, 'content-type': 'application/json' }, body: '{}' });
  t.equal(login.status, 404);
  t.match(await login.json(), { error: /\/\/<host>\/:_authToken=/ });
});
