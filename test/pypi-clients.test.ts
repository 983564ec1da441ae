// twine and pip against nora-ts with auth off: a wheel and an sdist built
// offline, uploaded to each upload URL, installed by pip in a fresh venv; the
// PEP 503 HTML and PEP 691 JSON pages and the PEP 658 metadata checked against
// the files themselves.
import t from 'tap';
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { startRegistry, tempDir } from './helpers/registry.js';
import { buildProject, twine, venv, zipMember } from './helpers/pypi-tools.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

t.test('twine upload, pip install, index pages', async (t) => {
  const r = await startRegistry();
  const dir = await tempDir('nora-pypi-clients-');
  t.teardown(async () => {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });
  const { wheel, sdist } = await buildProject(join(dir, 'proj'), 'Tiny_Demo', '0.1.0', 'tiny-0.1.0');
  const wheelName = basename(wheel);
  const sdistName = basename(sdist);
  const wheelBytes = await readFile(wheel);
  const sdistBytes = await readFile(sdist);

  // NORA's upload URL (/simple/) for the wheel, the seed's (/pypi/) for the sdist.
  const up1 = await twine(['--repository-url', `${r.url}/simple/`, '-u', 'token', '-p', 'unused', wheel]);
  t.equal(up1.code, 0, up1.stdout + up1.stderr);
  const up2 = await twine(['--repository-url', `${r.url}/pypi/`, '-u', 'token', '-p', 'unused', sdist]);
  t.equal(up2.code, 0, up2.stdout + up2.stderr);

  // Files are immutable; --skip-existing understands the 409.
  const again = await twine(['--repository-url', `${r.url}/legacy/`, '-u', 'token', '-p', 'unused', wheel]);
  t.not(again.code, 0);
  t.match(again.stdout + again.stderr, /409 Conflict/);
  const skip = await twine(['--skip-existing', '--repository-url', `${r.url}/legacy/`, '-u', 'token', '-p', 'unused', wheel, sdist]);
  t.equal(skip.code, 0, skip.stdout + skip.stderr);
  t.match(skip.stdout + skip.stderr, /Skipping/);

  // pip in a fresh venv, isolated from the machine's pip configuration.
  const env = await venv(join(dir, 'venv'));
  const pip = await env.pip(['install', '--no-deps', '--index-url', `${r.url}/simple/`, 'tiny-demo']);
  t.equal(pip.code, 0, pip.stdout + pip.stderr);
  t.match(pip.stdout, /Successfully installed tiny-demo-0\.1\.0|Successfully installed Tiny-Demo-0\.1\.0|Successfully installed Tiny_Demo-0\.1\.0/i);
  const imp = await env.python('import tiny_demo; print(tiny_demo.VALUE)');
  t.equal(imp.stdout.trim(), 'tiny-0.1.0');

  // PEP 503 HTML.
  const htmlRes = await fetch(`${r.url}/simple/tiny-demo/`);
  t.equal(htmlRes.status, 200);
  t.equal(htmlRes.headers.get('content-type'), 'text/html; charset=utf-8');
  const html = await htmlRes.text();
  const meta = await zipMember(wheel, `${wheelName.split('-')[0]}-0.1.0.dist-info/METADATA`);
  const metaSha = sha256(meta);
  t.match(html, '<meta name="pypi:repository-version" content="1.1">');
  t.match(
    html,
    `<a href="${r.url}/simple/tiny-demo/${wheelName}#sha256=${sha256(wheelBytes)}" data-requires-python="&gt;=3.8" data-dist-info-metadata="sha256=${metaSha}" data-core-metadata="sha256=${metaSha}">${wheelName}</a>`,
  );
  t.match(html, `<a href="${r.url}/simple/tiny-demo/${sdistName}#sha256=${sha256(sdistBytes)}" data-requires-python="&gt;=3.8">${sdistName}</a>`);

  // PEP 691 JSON.
  const jsonRes = await fetch(`${r.url}/simple/tiny-demo/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
  t.equal(jsonRes.headers.get('content-type'), 'application/vnd.pypi.simple.v1+json');
  const page = (await jsonRes.json()) as any;
  t.same(page.meta, { 'api-version': '1.1' });
  t.equal(page.name, 'tiny-demo');
  t.same(page.versions, ['0.1.0']);
  const wf = page.files.find((f: any) => f.filename === wheelName);
  t.same(wf.hashes, { sha256: sha256(wheelBytes) });
  t.equal(wf.url, `${r.url}/simple/tiny-demo/${wheelName}`);
  t.equal(wf['requires-python'], '>=3.8');
  t.same(wf['core-metadata'], { sha256: metaSha });
  t.equal(wf['dist-info-metadata'], undefined, 'PEP 714: the old key is not sent in JSON');
  t.equal(wf.yanked, false);
  t.equal(wf.size, wheelBytes.length);
  t.match(wf['upload-time'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  const sf = page.files.find((f: any) => f.filename === sdistName);
  t.equal(sf['core-metadata'], undefined, 'no metadata file for an sdist');

  // PEP 658 metadata file matches the wheel's METADATA byte for byte.
  const metaRes = await fetch(`${r.url}/simple/tiny-demo/${wheelName}.metadata`);
  t.equal(metaRes.status, 200);
  t.same(Buffer.from(await metaRes.arrayBuffer()), meta);
  t.equal((await fetch(`${r.url}/simple/tiny-demo/${sdistName}.metadata`)).status, 404);

  // Project list, both formats.
  const list = await (await fetch(`${r.url}/simple/`)).text();
  t.match(list, `<a href="${r.url}/simple/tiny-demo/">Tiny-Demo</a>`, "twine sends the safe_name spelling");
  const listJson = (await (await fetch(`${r.url}/simple/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as any;
  t.same(listJson, { meta: { 'api-version': '1.1' }, projects: [{ name: "Tiny-Demo" }] });

  // Non-normalised names redirect as PyPI does.
  for (const path of ['/simple/Tiny_Demo/', '/simple/tiny.demo/', '/simple/tiny-demo']) {
    const res = await fetch(r.url + path, { redirect: 'manual' });
    t.equal(res.status, 301, path);
    t.equal(res.headers.get('location'), `${r.url}/simple/tiny-demo/`, path);
  }

  // Downloads with Range.
  const part = await fetch(`${r.url}/simple/tiny-demo/${wheelName}`, { headers: { range: 'bytes=0-3' } });
  t.equal(part.status, 206);
  t.same(Buffer.from(await part.arrayBuffer()), wheelBytes.subarray(0, 4));
  t.equal(part.headers.get('content-range'), `bytes 0-3/${wheelBytes.length}`);
  const whole = await fetch(`${r.url}/simple/tiny-demo/${sdistName}`);
  t.equal(whole.headers.get('content-type'), 'application/gzip');
  t.same(Buffer.from(await whole.arrayBuffer()), sdistBytes);
});
