// Generated links (npm tarball URLs, PyPI file links and redirects) name the
// host the client asked for when no public_url is set, as Verdaccio does: the
// Host header, or X-Forwarded-Host / -Proto from a trusted proxy only. The
// image used to fix links at http://localhost:4000, so installs from any other
// machine were sent to localhost. Real npm and pip install through names
// other than the bind address; hostile or untrusted values never reach a link.
import t, { type Test } from 'tap';
import http from 'node:http';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry, tempDir, type Running } from './helpers/registry.js';
import { makePackage, NpmWorkspace } from './helpers/npm-cli.js';
import { buildProject, twine, venv } from './helpers/pypi-tools.js';
import { rawHttp } from './helpers/raw-http.js';
import { parseHost } from '../src/main/http/link-base.js';

t.test('parseHost accepts host[:port] only', async (t) => {
  for (const ok of ['localhost', 'LOCALHOST:4000', 'registry.example.com', 'my_registry:80', '10.0.0.7:4000', '[::1]:4000', '[fd00::1]', 'a-b.c-d']) {
    t.equal(parseHost(ok), ok.toLowerCase(), ok);
  }
  for (const bad of ['', ' ', 'a b', 'evil.example/path', 'user@evil.example', 'evil"><script>', 'a.example:99999', 'a.example:0', 'a.example:', ':80', '[::1', '[zz::1]', '::1', 'a..b', '-a.example', 'a.example,b', 'x'.repeat(64) + '.example', 'ex%61mple.com', 'a.example:80:80', 'é.example']) {
    t.equal(parseHost(bad), null, JSON.stringify(bad));
  }
});

/** A reverse proxy as nginx is usually set up: upstream Host, client's host in X-Forwarded-Host. Records the paths it forwarded. */
async function proxy(upstream: number): Promise<{ port: number; paths: string[]; close(): Promise<void> }> {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(req.url!);
    const headers = { ...req.headers, host: `127.0.0.1:${upstream}`, 'x-forwarded-host': req.headers.host!, 'x-forwarded-proto': 'http' };
    const up = http.request({ host: '127.0.0.1', port: upstream, method: req.method, path: req.url, headers }, (u) => {
      res.writeHead(u.statusCode!, u.headers);
      u.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    paths,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function seed(r: Running, dir: string): Promise<{ wheelName: string }> {
  const ws = new NpmWorkspace(join(dir, 'publisher'), `${r.url}/npm/`);
  await makePackage(ws.dir, { name: 'publisher', version: '0.0.0', private: true }, null);
  await ws.configure('nra_unused_when_auth_is_off');
  const pkg = await makePackage(join(dir, 'pkg'), { name: 'far-away', version: '1.0.0' }, 'far-1');
  const pub = await ws.run(['publish'], pkg);
  if (pub.code !== 0) throw new Error(`publish failed: ${pub.stderr}`);
  const { wheel } = await buildProject(join(dir, 'proj'), 'far-away-py', '0.1.0', 'far-py');
  const up = await twine(['--repository-url', `${r.url}/pypi/`, '-u', 'token', '-p', 'unused', wheel]);
  if (up.code !== 0) throw new Error(`twine failed: ${up.stdout}${up.stderr}`);
  return { wheelName: wheel.slice(wheel.lastIndexOf('/') + 1) };
}

/** npm install from `registry` in a fresh directory with a cold cache; returns the lockfile's resolved URL. */
async function npmInstall(t: Test, dir: string, registry: string): Promise<string> {
  const ws = new NpmWorkspace(dir, registry);
  await makePackage(ws.dir, { name: 'consumer', version: '0.0.0', private: true }, null);
  await ws.configure('nra_unused_when_auth_is_off');
  const inst = await ws.run(['install', 'far-away', '--no-audit', '--no-fund']);
  t.equal(inst.code, 0, `npm install from ${registry}: ${inst.stderr}`);
  const lock = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8'));
  return lock.packages['node_modules/far-away'].resolved as string;
}

/** pip install from `index` in a fresh venv; returns the URL pip downloaded the file from (pip --report). */
async function pipInstall(t: Test, dir: string, index: string): Promise<string> {
  const env = await venv(dir);
  const report = join(dir, 'report.json');
  const pip = await env.pip(['install', '--no-deps', '--report', report, '--index-url', index, 'far-away-py']);
  t.equal(pip.code, 0, `pip install from ${index}: ${pip.stdout}${pip.stderr}`);
  t.equal((await env.python('import far_away_py; print(far_away_py.VALUE)')).stdout.trim(), 'far-py');
  return (JSON.parse(await readFile(report, 'utf8')) as { install: { download_info: { url: string } }[] }).install[0]!.download_info.url;
}

/** A registry (bound to 127.0.0.1) with one npm package and one wheel, and a proxy in front of it. */
async function setup(t: Test, overrides: Parameters<typeof startRegistry>[0] = {}) {
  const r = await startRegistry(overrides);
  const dir = await tempDir('nora-links-');
  const p = await proxy(r.port);
  t.teardown(async () => {
    await p.close();
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { r, dir, p, ...(await seed(r, dir)) };
}

t.test('npm and pip install through names other than the bind address', async (t) => {
  const { r, dir, p, wheelName } = await setup(t); // no public_url

  // The name `localhost` (Host header) instead of 127.0.0.1, npm at the root.
  const direct = `http://localhost:${r.port}`;
  t.equal(await npmInstall(t, join(dir, 'npm-direct'), `${direct}/`), `${direct}/npm/far-away/-/far-away-1.0.0.tgz`, 'npm fetched the tarball through localhost');
  t.equal(await pipInstall(t, join(dir, 'pip-direct'), `${direct}/simple/`), `${direct}/simple/far-away-py/${wheelName}`, 'pip fetched the wheel through localhost');

  // Through a trusted proxy on another port: the links name the proxy, so the downloads go through it.
  const front = `http://localhost:${p.port}`;
  t.equal(await npmInstall(t, join(dir, 'npm-proxy'), `${front}/npm/`), `${front}/npm/far-away/-/far-away-1.0.0.tgz`);
  t.equal(await pipInstall(t, join(dir, 'pip-proxy'), `${front}/simple/`), `${front}/simple/far-away-py/${wheelName}`);
  t.ok(p.paths.includes('/npm/far-away/-/far-away-1.0.0.tgz'), 'npm downloaded the tarball through the proxy');
  t.ok(p.paths.includes(`/simple/far-away-py/${wheelName}`), 'pip downloaded the wheel through the proxy');

  // Redirects name the host asked for too.
  const redirect = await fetch(`${front}/simple/Far_Away_Py`, { redirect: 'manual' });
  t.equal(redirect.headers.get('location'), `${front}/simple/far-away-py/`);
  const list = await (await fetch(`${direct}/simple/`)).text();
  t.match(list, `href="${direct}/simple/far-away-py/"`);
  const search = (await (await fetch(`${front}/npm/-/v1/search?text=far`)).json()) as any;
  t.equal(search.objects[0].package.links.npm, `${front}/npm/far-away`);
});

t.test('hostile Host and forwarding headers never reach a link', async (t) => {
  const { r } = await setup(t);
  const tarballVia = async (headers: Record<string, string>) => {
    const res = await rawHttp(r.port, { method: 'GET', target: '/npm/far-away', headers });
    t.equal(res.status, 200);
    return (JSON.parse(res.body.toString()) as any).versions['1.0.0'].dist.tarball as string;
  };
  const wheelVia = async (headers: Record<string, string>) => {
    const res = await rawHttp(r.port, { method: 'GET', target: '/simple/far-away-py/', headers: { accept: 'application/vnd.pypi.simple.v1+json', ...headers } });
    t.equal(res.status, 200);
    return (JSON.parse(res.body.toString()) as any).files[0].url as string;
  };
  const configured = `http://127.0.0.1:${r.port}`;
  for (const host of ['evil.example/x?', 'evil"><script>alert(1)</script>', 'a@evil.example', 'evil.example:99999', '', 'evil.example\tx']) {
    t.equal(await tarballVia({ host }), `${configured}/npm/far-away/-/far-away-1.0.0.tgz`, `Host ${JSON.stringify(host)}: the configured base`);
    t.match(await wheelVia({ host }), new RegExp(`^${configured}/simple/`), `Host ${JSON.stringify(host)} (pypi)`);
  }
  // From a trusted peer (loopback is trusted by default): used when well-formed.
  t.equal(await tarballVia({ 'x-forwarded-host': 'registry.example.com, inner.lan', 'x-forwarded-proto': 'https' }), 'https://registry.example.com/npm/far-away/-/far-away-1.0.0.tgz');
  t.equal(await tarballVia({ 'x-forwarded-proto': 'HTTPS' }), `https://127.0.0.1:${r.port}/npm/far-away/-/far-away-1.0.0.tgz`, 'only the scheme forwarded');
  t.equal(await tarballVia({ 'x-forwarded-host': 'evil.example/<x>' }), `${configured}/npm/far-away/-/far-away-1.0.0.tgz`, 'a malformed forwarded host falls back to the configured base');
  t.equal(await tarballVia({ 'x-forwarded-host': 'ok.example', 'x-forwarded-proto': 'javascript' }), 'http://ok.example/npm/far-away/-/far-away-1.0.0.tgz', 'an unknown scheme is not copied');
});

t.test('X-Forwarded-Host from an untrusted peer is ignored', async (t) => {
  const { r, p, wheelName } = await setup(t, { auth: { trusted_proxies: ['10.9.9.9'] } });
  const doc = (await (await fetch(`http://localhost:${p.port}/npm/far-away`)).json()) as any;
  t.equal(doc.versions['1.0.0'].dist.tarball, `${r.url}/npm/far-away/-/far-away-1.0.0.tgz`, 'the Host the proxy sent, not its X-Forwarded-Host');
  const res = await rawHttp(r.port, { method: 'GET', target: '/simple/far-away-py/', headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } });
  t.match(res.body.toString(), `href="${r.url}/simple/far-away-py/${wheelName}#sha256=`);
  t.notMatch(res.body.toString(), /evil|https:/);
});

t.test('public_url, when set, wins over Host and forwarding headers', async (t) => {
  const { r } = await setup(t, { server: { public_url: 'https://registry.example.com' } });
  const res = await rawHttp(r.port, { method: 'GET', target: '/npm/far-away', headers: { host: `localhost:${r.port}`, 'x-forwarded-host': 'other.example' } });
  t.equal((JSON.parse(res.body.toString()) as any).versions['1.0.0'].dist.tarball, 'https://registry.example.com/npm/far-away/-/far-away-1.0.0.tgz');
  const page = await rawHttp(r.port, { method: 'GET', target: '/simple/far-away-py/', headers: { host: `localhost:${r.port}` } });
  t.match(page.body.toString(), 'href="https://registry.example.com/simple/far-away-py/');
});
