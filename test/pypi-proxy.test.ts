// PyPI pull-through: a static PEP 503 tree under `python3 -m http.server`
// (HTML pages, relative links, Last-Modified) and a second nora-ts (PEP 691
// JSON) as upstream indexes, in that order, each behind a counting
// pass-through; pip installs through nora-ts in fresh venvs with hashes
// checked. Also: hosted projects win, a tampered file is refused, upstream
// failures are 503 (never 404) with the cached page served when there is
// one, and a hostile upstream page keeps only the links that are files of the
// project with a hash.
import t from 'tap';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CLI, freePort, startRegistry, tempDir, type Running } from './helpers/registry.js';
import { parseDigest } from '../src/main/digest.js';
import { PYTHON, twine, venv, writeWheel } from './helpers/pypi-tools.js';
import { startPassThrough, type PassThrough } from '../bench/pass-through.js';
import { collectGarbage } from '../src/main/maintenance/gc.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';

/** `python3 -m http.server` on `root`, ready when it answers. */
async function httpServer(t: Tap.Test, root: string): Promise<string> {
  const port = await freePort();
  const child = spawn(PYTHON, ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', root, String(port)], { stdio: 'ignore' });
  t.teardown(() => {
    child.kill();
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(url).then(() => true, () => false)) return url;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('http.server did not start');
}

interface Wheel {
  name: string;
  bytes: Buffer;
  sha: string;
}

async function wheel(dir: string, dist: string, version: string): Promise<Wheel> {
  const path = join(dir, `${dist}-${version}-py3-none-any.whl`);
  await writeWheel(path, dist, version);
  const bytes = await readFile(path);
  return { name: basename(path), bytes, sha: sha256(bytes) };
}

/** A project page of the static tree: links relative to the page, as many mirrors write them. */
async function staticProject(root: string, norm: string, wheels: Wheel[], extra = ''): Promise<void> {
  await mkdir(join(root, 'simple', norm), { recursive: true });
  await mkdir(join(root, 'packages'), { recursive: true });
  for (const w of wheels) await writeFile(join(root, 'packages', w.name), w.bytes);
  const links = wheels.map((w) => `<a href="../../packages/${w.name}#sha256=${w.sha}" data-requires-python="&gt;=3.8">${w.name}</a><br/>`);
  await writeFile(join(root, 'simple', norm, 'index.html'), `<!DOCTYPE html><html><body>\n${links.join('\n')}\n${extra}</body></html>\n`);
}

const dir = await tempDir('nora-pypi-proxy-');
t.teardown(() => rm(dir, { recursive: true, force: true }));
const root = join(dir, 'tree');
const files = join(dir, 'files');
await mkdir(files, { recursive: true });
const v1 = await wheel(files, 'up_demo', '1.0.0');
const v2 = await wheel(files, 'up_demo', '1.1.0');
await staticProject(root, 'up-demo', [v1, v2]);
const a = await startPassThrough(await httpServer(t, root));
t.teardown(() => a.close());
// The second upstream: a nora-ts with a hosted project, answering PEP 691 JSON.
const second = await startRegistry();
t.teardown(() => second.close());
const onlyB = await wheel(files, 'json_only', '2.0.0');
const up = await twine(['--repository-url', `${second.url}/simple/`, '-u', 'token', '-p', 'unused', join(files, onlyB.name)]);
if (up.code !== 0) throw new Error(up.stderr);
const b = await startPassThrough(second.url);
t.teardown(() => b.close());

async function nora(t: Tap.Test, at?: string): Promise<Running> {
  const r = await startRegistry({ pypi: { proxy: '', proxy_auth: '', proxy_timeout: 30, proxies: [{ url: `${a.url}/simple/`, auth: '' }, { url: `${b.url}/simple`, auth: 'user:secret-pass' }] } }, at);
  t.teardown(() => r.close());
  return r;
}

const reset = (p: PassThrough) => {
  p.down = false;
  p.status = 0;
  p.replace.clear();
};
t.beforeEach(() => {
  reset(a);
  reset(b);
});

t.test('pip install through nora-ts from a static PEP 503 tree and a PEP 691 index, hashes checked', async (t) => {
  const r = await nora(t);
  const html = await (await fetch(`${r.url}/simple/up-demo/`)).text();
  t.match(html, `<a href="${r.url}/simple/up-demo/${v2.name}#sha256=${v2.sha}" data-requires-python="&gt;=3.8">${v2.name}</a>`, 'links rewritten to nora-ts, hash and requires-python kept');
  t.notMatch(html, a.url, 'no link to the upstream');
  const json = (await (await fetch(`${r.url}/simple/up-demo/`, { headers: { accept: JSON_TYPE } })).json()) as { files: { filename: string; url: string; hashes: { sha256: string } }[] };
  t.same(json.files.map((f) => [f.filename, f.url, f.hashes.sha256]), [[v1.name, `${r.url}/simple/up-demo/${v1.name}`, v1.sha], [v2.name, `${r.url}/simple/up-demo/${v2.name}`, v2.sha]]);

  const env = await venv(join(dir, 'venv-1'));
  await writeFile(join(dir, 'req.txt'), `up-demo==1.1.0 --hash=sha256:${v2.sha}\n`);
  const pip = await env.pip(['install', '--require-hashes', '--index-url', `${r.url}/simple/`, '-r', join(dir, 'req.txt')]);
  t.equal(pip.code, 0, pip.stdout + pip.stderr);
  t.equal((await env.python('import up_demo; print(up_demo.VALUE)')).stdout.trim(), '1');
  const fileGets = () => a.seen.filter((s) => s.method === 'GET' && s.path.startsWith('/packages/'));
  t.same(fileGets().map((s) => s.path), [`/packages/${v2.name}`], 'the file came from the upstream once');
  t.ok(a.seen.some((s) => s.path === '/simple/up-demo/' && s.headers['if-modified-since'] && s.status === 304), 'pages revalidate with If-Modified-Since (http.server answers 304)');

  // Only the second upstream has json-only: the first answers 404, the second's JSON page is used.
  const pip2 = await env.pip(['install', '--index-url', `${r.url}/simple/`, 'json-only']);
  t.equal(pip2.code, 0, pip2.stdout + pip2.stderr);
  t.equal(a.seen.filter((s) => s.path === '/simple/json-only/').at(-1)?.status, 404);
  const bPage = b.seen.find((s) => s.path === '/simple/json-only/')!;
  t.match(bPage.headers.accept, JSON_TYPE, 'PEP 691 JSON asked for');
  t.equal(bPage.headers.authorization, `Basic ${Buffer.from('user:secret-pass').toString('base64')}`, "the second upstream's credentials go to it");
  t.notOk(a.seen.some((s) => s.headers.authorization), 'and never to the first');

  // A second fresh venv: the file is served from nora-ts's store.
  const env2 = await venv(join(dir, 'venv-2'));
  const pip3 = await env2.pip(['install', '--require-hashes', '--index-url', `${r.url}/simple/`, '-r', join(dir, 'req.txt')]);
  t.equal(pip3.code, 0, pip3.stdout + pip3.stderr);
  t.equal(fileGets().length, 1, 'no second upstream GET of a cached file');
  const report = await collectGarbage(r.registry.ctx.storage, { graceMs: 0, tempMaxAgeMs: 3_600_000 });
  t.equal(report.blobsDeleted, 0, 'gc keeps cached files the cached pages name');
});

t.test('a project hosted here wins over the upstream pages', async (t) => {
  const up = await wheel(files, 'shadow_demo', '9.0.0');
  await staticProject(root, 'shadow-demo', [up]);
  const r = await nora(t);
  const own = await wheel(join(dir), 'shadow_demo', '1.0.0');
  const tw = await twine(['--repository-url', `${r.url}/simple/`, '-u', 'token', '-p', 'unused', join(dir, own.name)]);
  t.equal(tw.code, 0, tw.stderr);
  const html = await (await fetch(`${r.url}/simple/shadow-demo/`)).text();
  t.match(html, own.name);
  t.notMatch(html, up.name, 'no upstream file on the page of a hosted project');
  t.equal((await fetch(`${r.url}/simple/shadow-demo/${up.name}`)).status, 404, 'nor is it downloadable');
  t.notOk(a.seen.some((s) => s.path.startsWith('/simple/shadow-demo/')), 'a hosted project is never asked upstream');
});

t.test('upstream failures: the cached page answers; nothing cached is 503, never 404; a tampered file is cut', async (t) => {
  const r = await nora(t);
  t.equal((await fetch(`${r.url}/simple/up-demo/`)).status, 200);
  for (const mode of ['down', 500] as const) {
    await new Promise((res) => setTimeout(res, 1100)); // past the memory path's second
    a.down = b.down = mode === 'down';
    a.status = b.status = mode === 'down' ? 0 : mode;
    const page = await fetch(`${r.url}/simple/up-demo/`);
    t.equal(page.status, 200, `upstream ${mode}: the cached page answers`);
    t.match(await page.text(), v1.name);
    const cold = await fetch(`${r.url}/simple/never-cached/`);
    t.equal(cold.status, 503, `upstream ${mode}, nothing cached: 503`);
    t.ok(Number(cold.headers.get('retry-after')) > 0, 'with Retry-After');
    t.match(await cold.text(), /upstream .* unavailable/);
    const file = await fetch(`${r.url}/simple/up-demo/${v1.name}`);
    t.equal(file.status, 503, `upstream ${mode}: an uncached file is 503`);
  }
  // One upstream down, the other says 404: still not a 404 (it may be on the one that is down).
  a.down = true;
  a.status = b.status = 0;
  t.equal((await fetch(`${r.url}/simple/elsewhere/`)).status, 503);
  reset(a);
  reset(b);
  t.equal((await fetch(`${r.url}/simple/elsewhere/`)).status, 404, 'every upstream answering 404 is a 404');

  const evil = Buffer.from(v1.bytes);
  evil[100]! ^= 0xff;
  a.replace.set(`/packages/${v1.name}`, evil);
  const cut = await fetch(`${r.url}/simple/up-demo/${v1.name}`).then(
    async (res) => res.arrayBuffer().then(() => 'complete', () => 'cut'),
    () => 'refused',
  );
  t.not(cut, 'complete', 'a file not matching the sha256 is never delivered whole');
  a.replace.clear();
  const good = await fetch(`${r.url}/simple/up-demo/${v1.name}`);
  t.ok(Buffer.from(await good.arrayBuffer()).equals(v1.bytes), 'nothing was stored: the next request fetches the genuine file');
});

t.test('a hostile upstream page: only files of the project with a sha256 and an http(s) URL are kept', async (t) => {
  const good = await wheel(files, 'evil_demo', '1.0.0');
  const other = await wheel(files, 'other_proj', '1.0.0');
  const hostile = [
    `<a href="javascript:alert(1)#sha256=${good.sha}">evil_demo-6.0.0-py3-none-any.whl</a>`,
    `<a href="file:///etc/passwd#sha256=${good.sha}">x</a>`,
    `<a href="../../packages/${other.name}#sha256=${other.sha}">another project's file</a>`,
    `<a href="../../packages/evil_demo-2.0.0-py3-none-any.whl">no hash</a>`,
    `<a href="../../packages/..%2F..%2Fevil_demo-3.0.0.tar.gz#sha256=${good.sha}">traversal</a>`,
    `<a href="http://user:pw@127.0.0.1:1/evil_demo-4.0.0.tar.gz#sha256=${good.sha}">credentials in the link</a>`,
    `<a href="../../packages/evil_demo-5.0.0.tar.gz#sha256=${good.sha}" data-yanked="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">yanked, with markup</a>`,
    `<a href="../../packages/evil-demo-notaversion.tar.gz#sha256=${good.sha}">no version</a>`,
  ].join('\n');
  await staticProject(root, 'evil-demo', [good], hostile);
  const r = await nora(t);
  const json = (await (await fetch(`${r.url}/simple/evil-demo/`, { headers: { accept: JSON_TYPE } })).json()) as { files: { filename: string; yanked: unknown }[] };
  t.same(json.files.map((f) => f.filename).sort(), [good.name, 'evil_demo-5.0.0.tar.gz']);
  t.equal(json.files.find((f) => f.filename === 'evil_demo-5.0.0.tar.gz')!.yanked, '"><script>alert(1)</script>', 'the yank reason is data');
  const html = await (await fetch(`${r.url}/simple/evil-demo/`)).text();
  t.notMatch(html, '<script>', 'and is escaped in HTML');
  t.notMatch(html, /javascript:|file:|passwd|other_proj/);
  t.equal((await fetch(`${r.url}/simple/evil-demo/${other.name}`)).status, 404);
  const pip = await (await venv(join(dir, 'venv-evil'))).pip(['install', '--index-url', `${r.url}/simple/`, 'evil-demo==1.0.0']);
  t.equal(pip.code, 0, pip.stdout + pip.stderr);
});

t.test('nora gc --proxy-max-age-days drops pages no read used for that long, then frees their files', async (t) => {
  const at = join(dir, 'aged');
  const r = await nora(t, at);
  for (const [norm, w] of [['up-demo', v1], ['json-only', onlyB]] as const) {
    t.equal((await fetch(`${r.url}/simple/${norm}/`)).status, 200);
    // Read whole: the fill is then published (an unfinished one's temp file would look abandoned once aged).
    const file = await fetch(`${r.url}/simple/${norm}/${w.name}`);
    t.ok(Buffer.from(await file.arrayBuffer()).equals(w.bytes), `${w.name} through the proxy`);
  }
  const storage = join(at, 'storage');
  const setTimes = async (p: string, when: Date): Promise<void> => {
    for (const e of await readdir(p, { withFileTypes: true })) {
      if (e.isDirectory()) await setTimes(join(p, e.name), when);
      else await utimes(join(p, e.name), when, when);
    }
  };
  // everything ten days old, except the page json-only's reads used since
  await setTimes(storage, new Date(Date.now() - 10 * 86_400_000));
  await setTimes(join(storage, 'pypi-proxy', 'json-only'), new Date());
  const out = execFileSync(process.execPath, [CLI, 'gc', '--proxy-max-age-days', '7', '--grace-secs', '0'], {
    env: { ...process.env, NORA_STORAGE_PATH: storage, NORA_AUTH_TOKEN_STORAGE: join(at, 'tokens') },
    encoding: 'utf8',
  });
  t.match(out, /npm and PyPI documents cached and unused for 7 days: 1 dropped/);
  const has = async (w: Wheel) => (await r.registry.ctx.blobs.stat(parseDigest(`sha256:${w.sha}`)!)) !== null;
  t.notOk(await has(v1), "the unused page's file was freed");
  t.ok(await has(onlyB), 'the recently used page keeps its file');
  await new Promise((res) => setTimeout(res, 1100)); // past the memory path's second
  const again = await fetch(`${r.url}/simple/up-demo/${v1.name}`);
  t.ok(Buffer.from(await again.arrayBuffer()).equals(v1.bytes), 'a dropped entry is fetched again on its next read');
});
