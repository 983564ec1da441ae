// The PyPI upload API and simple index over plain HTTP: every malformed or
// dishonest upload is refused with a clear message and leaves stored state
// (project metadata, blobs, temp files) exactly as it was; digests are checked
// against Python's own hashlib; wheels' METADATA is extracted (also from
// ZIP64 and stored members); content negotiation, redirects, yanking.
import t from 'tap';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { startRegistry, tempDir, type Running } from './helpers/registry.js';
import { python, writeWheel, zipMember } from './helpers/pypi-tools.js';

const BOUNDARY = '----nora-test-boundary-7MA4YWxkTrZu0gW';
type Field = [string, string];
interface FilePart {
  field?: string;
  filename: string;
  data: Buffer;
}

function form(fields: Field[], file?: FilePart, fileFirst = false): Buffer {
  const parts: Buffer[] = [];
  const text = (name: string, value: string) =>
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  const filePart = (f: FilePart) =>
    Buffer.concat([
      Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${f.field ?? 'content'}"; filename="${f.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`, 'latin1'),
      f.data,
      Buffer.from('\r\n'),
    ]);
  if (file && fileFirst) parts.push(filePart(file));
  for (const [k, v] of fields) parts.push(text(k, v));
  if (file && !fileFirst) parts.push(filePart(file));
  parts.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(parts);
}

const hex = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');
async function blake2(b: Buffer): Promise<string> {
  return (await python('import sys,hashlib;print(hashlib.blake2b(sys.stdin.buffer.read(),digest_size=32).hexdigest())', [], b)).toString().trim();
}

async function fieldsFor(name: string, version: string, data: Buffer, over: Record<string, string | null> = {}): Promise<Field[]> {
  const base: Record<string, string | null> = {
    ':action': 'file_upload',
    protocol_version: '1',
    name,
    version,
    filetype: 'sdist',
    requires_python: '',
    sha256_digest: hex('sha256', data),
    md5_digest: hex('md5', data),
    blake2_256_digest: await blake2(data),
    ...over,
  };
  return Object.entries(base).filter((e): e is Field => e[1] !== null);
}

function upload(r: Running, body: Buffer, path = '/pypi/', type = `multipart/form-data; boundary=${BOUNDARY}`): Promise<Response> {
  return fetch(r.url + path, { method: 'POST', headers: { 'content-type': type }, body });
}

/** Project page JSON, every stored file path, and leftover temp files. */
async function snapshot(r: Running, project = 'demo-pkg'): Promise<string> {
  const page = await fetch(`${r.url}/simple/${project}/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
  const root = join(r.dir, 'storage');
  const files = (await readdir(root, { recursive: true })).map(String).sort();
  const tmp = await readdir(join(root, 'tmp'));
  return JSON.stringify({ status: page.status, page: await page.text(), files, tmp });
}

t.test('uploads: accepted, refused, immutable', async (t) => {
  const r = await startRegistry({ server: { body_limit_mb: 1 } });
  const dir = await tempDir('nora-pypi-api-');
  t.teardown(async () => {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });
  const sdist = Buffer.from('not really a tarball, the index does not look inside sdists'.repeat(50));
  const ok = await upload(r, form(await fieldsFor('Demo.Pkg', '1.0', sdist), { filename: 'demo.pkg-1.0.tar.gz', data: sdist }));
  t.equal(ok.status, 200, await ok.text());
  const before = await snapshot(r);
  t.match(before, /demo\.pkg-1\.0\.tar\.gz/);

  const other = Buffer.from('other bytes');
  const cases: [string, Promise<Buffer>, RegExp, number?][] = [
    ['path traversal', (async () => form(await fieldsFor('demo-pkg', '1.1', other), { filename: '../demo-pkg-1.1.tar.gz', data: other }))(), /path separator/],
    ['dot-dot without slash', (async () => form(await fieldsFor('demo-pkg', '1.1', other), { filename: 'demo-pkg-1.1..tar.gz', data: other }))(), /'\.\.'/],
    ['subdirectory', (async () => form(await fieldsFor('demo-pkg', '1.1', other), { filename: 'sub/demo-pkg-1.1.tar.gz', data: other }))(), /path separator/],
    ['backslash', (async () => form(await fieldsFor('demo-pkg', '1.1', other), { filename: 'sub\\\\demo-pkg-1.1.tar.gz', data: other }))(), /path separator/],
    ['NUL', (async () => form(await fieldsFor('demo-pkg', '1.1', other), { filename: 'demo-pkg\u00001.1.tar.gz', data: other }))(), /NUL/],
    ['extension', (async () => form(await fieldsFor('demo-pkg', '1.1', other), { filename: 'demo-pkg-1.1.exe', data: other }))(), /must end with/],
    ['another project', (async () => form(await fieldsFor('demo-pkg', '1.1', other), { filename: 'evil-1.1.tar.gz', data: other }))(), /not a distribution of demo-pkg/],
    ['another version', (async () => form(await fieldsFor('demo-pkg', '1.1', other), { filename: 'demo-pkg-2.0.tar.gz', data: other }))(), /not a distribution/],
    ['sha256 mismatch', (async () => form(await fieldsFor('demo-pkg', '1.1', other, { sha256_digest: hex('sha256', sdist) }), { filename: 'demo-pkg-1.1.tar.gz', data: other }))(), /sha256_digest does not match/],
    ['md5 mismatch', (async () => form(await fieldsFor('demo-pkg', '1.1', other, { md5_digest: hex('md5', sdist) }), { filename: 'demo-pkg-1.1.tar.gz', data: other }))(), /md5_digest does not match/],
    ['blake2 mismatch', (async () => form(await fieldsFor('demo-pkg', '1.1', other, { blake2_256_digest: await blake2(sdist) }), { filename: 'demo-pkg-1.1.tar.gz', data: other }))(), /blake2_256_digest does not match/],
    ['malformed digest', (async () => form(await fieldsFor('demo-pkg', '1.1', other, { sha256_digest: 'zz' }), { filename: 'demo-pkg-1.1.tar.gz', data: other }))(), /64 hex digits/],
    ['wrong action', (async () => form(await fieldsFor('demo-pkg', '1.1', other, { ':action': 'remove_pkg' }), { filename: 'demo-pkg-1.1.tar.gz', data: other }))(), /unsupported :action/],
    ['no file', (async () => form(await fieldsFor('demo-pkg', '1.1', other)))(), /no file/],
    ['bad project name', (async () => form(await fieldsFor('-demo-', '1.1', other), { filename: '-demo--1.1.tar.gz', data: other }))(), /invalid project name/],
    ['bad version', (async () => form(await fieldsFor('demo-pkg', '1 1', other), { filename: 'demo-pkg-1.1.tar.gz', data: other }))(), /invalid version/],
    ['truncated body', (async () => { const b = form(await fieldsFor('demo-pkg', '1.1', other), { filename: 'demo-pkg-1.1.tar.gz', data: other }); return b.subarray(0, b.length - 30); })(), /malformed multipart body/],
    ['garbage wheel', (async () => { const w = Buffer.from('PK but not a zip at all'); return form(await fieldsFor('demo-pkg', '1.1', w), { filename: 'demo_pkg-1.1-py3-none-any.whl', data: w }); })(), /invalid wheel/],
    ['duplicate file', (async () => form(await fieldsFor('demo-pkg', '1.0', sdist), { filename: 'demo.pkg-1.0.tar.gz', data: sdist }))(), /File already exists: demo\.pkg-1\.0\.tar\.gz/, 409],
    ['oversized', (async () => { const big = Buffer.alloc(1536 * 1024, 7); return form(await fieldsFor('demo-pkg', '1.1', big), { filename: 'demo-pkg-1.1.tar.gz', data: big }); })(), /exceeds/, 413],
  ];
  const impostor = join(dir, 'impostor.whl');
  await writeWheel(impostor, 'demo_pkg', '1.1', 'somebody-else');
  const imp = await readFile(impostor);
  cases.push(['wheel METADATA of another project', (async () => form(await fieldsFor('demo-pkg', '1.1', imp), { filename: 'demo_pkg-1.1-py3-none-any.whl', data: imp }))(), /names project "somebody-else"/]);

  for (const [what, bodyP, message, status = 400] of cases) {
    const res = await upload(r, await bodyP);
    t.equal(res.status, status, what);
    t.match(res.headers.get('content-type'), /^text\/plain/, what);
    t.match(await res.text(), message, what);
    t.equal(await snapshot(r), before, `${what}: stored state untouched`);
  }
  const notMultipart = await upload(r, Buffer.from('{}'), '/pypi/', 'application/json');
  t.equal(notMultipart.status, 400);
  t.equal(await snapshot(r), before);
  // Chunked (no Content-Length) oversized body is cut off while streaming.
  const big = Buffer.alloc(1536 * 1024, 9);
  const chunks = form(await fieldsFor('demo-pkg', '1.2', big), { filename: 'demo-pkg-1.2.tar.gz', data: big });
  const streamed = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${r.url}/pypi/`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    // The server answers and closes before the client finishes sending: that is the point.
    req.on('error', (e) => setTimeout(() => reject(e), 1000));
    for (let i = 0; i < chunks.length; i += 65536) req.write(chunks.subarray(i, i + 65536));
    req.end();
  });
  t.equal(streamed, 413);
  t.equal(await snapshot(r), before, 'chunked oversized upload: stored state untouched');

  // The other upload URLs, a local version, fields after the file (blake2 known only at the end).
  const local = Buffer.from('local build');
  const late = await upload(r, form(await fieldsFor('demo-pkg', '1.0+local.1', local), { filename: 'demo-pkg-1.0+local.1.tar.gz', data: local }, true), '/simple/');
  t.equal(late.status, 200, await late.text());
  const page = (await (await fetch(`${r.url}/simple/demo-pkg/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as any;
  const lf = page.files.find((f: any) => f.filename === 'demo-pkg-1.0+local.1.tar.gz');
  t.equal(lf.url, `${r.url}/simple/demo-pkg/demo-pkg-1.0%2Blocal.1.tar.gz`);
  t.same(Buffer.from(await (await fetch(lf.url)).arrayBuffer()), local);
  t.same(page.versions, ['1.0', '1.0+local.1']);

  // Wheels: deflated, stored and ZIP64 members all yield their METADATA.
  for (const [i, opts] of [{}, { stored: true }, { zip64: true }].entries()) {
    const v = `2.${i}`;
    const path = join(dir, `w${i}.whl`);
    await writeWheel(path, 'demo_pkg', v, 'Demo-Pkg', opts);
    const data = await readFile(path);
    const name = `demo_pkg-${v}-py3-none-any.whl`;
    const res = await upload(r, form(await fieldsFor('demo-pkg', v, data, { filetype: 'bdist_wheel' }), { filename: name, data }), '/legacy/');
    t.equal(res.status, 200, `${JSON.stringify(opts)}: ${await res.text()}`);
    const meta = await fetch(`${r.url}/simple/demo-pkg/${name}.metadata`);
    t.equal(meta.status, 200);
    t.same(Buffer.from(await meta.arrayBuffer()), await zipMember(path, `demo_pkg-${v}.dist-info/METADATA`), `${JSON.stringify(opts)}: METADATA matches zipfile's`);
  }
  const html = await (await fetch(`${r.url}/simple/demo-pkg/`)).text();
  t.match(html, /demo_pkg-2\.0-py3-none-any\.whl#sha256=[0-9a-f]{64}" data-requires-python="&gt;=3\.9, &lt;4" data-dist-info-metadata="sha256=[0-9a-f]{64}"/, 'Requires-Python from METADATA, HTML-escaped');
});

t.test('index negotiation, redirects, yanking, concurrency', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const versions = Array.from({ length: 8 }, (_, i) => `0.${i}`);
  const results = await Promise.all(
    versions.map(async (v) => {
      const data = Buffer.from(`release ${v}`);
      return (await upload(r, form(await fieldsFor('busy', v, data), { filename: `busy-${v}.tar.gz`, data }))).status;
    }),
  );
  t.same(results, versions.map(() => 200), 'concurrent uploads to one project');
  const page = (await (await fetch(`${r.url}/simple/busy/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as any;
  t.same(page.files.map((f: any) => f.filename).sort(), versions.map((v) => `busy-${v}.tar.gz`).sort());

  const accept = async (value: string | null, query = '') => {
    const res = await fetch(`${r.url}/simple/busy/${query}`, { headers: value === null ? {} : { accept: value } });
    await res.arrayBuffer();
    return [res.status, res.headers.get('content-type')];
  };
  t.same(await accept(null), [200, 'text/html; charset=utf-8']);
  t.same(await accept('*/*'), [200, 'text/html; charset=utf-8']);
  t.same(await accept('application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01'), [200, 'application/vnd.pypi.simple.v1+json']);
  t.same(await accept('application/vnd.pypi.simple.latest+json'), [200, 'application/vnd.pypi.simple.v1+json']);
  t.same(await accept('application/vnd.pypi.simple.v1+html'), [200, 'application/vnd.pypi.simple.v1+html']);
  t.same(await accept('text/html, application/vnd.pypi.simple.v1+json; q=0.5'), [200, 'text/html; charset=utf-8']);
  t.same(await accept('application/json'), [406, 'text/plain; charset=utf-8']);
  t.same(await accept('text/html', '?format=application/vnd.pypi.simple.v1+json'), [200, 'application/vnd.pypi.simple.v1+json']);

  const etag = (await fetch(`${r.url}/simple/busy/`)).headers.get('etag')!;
  t.equal((await fetch(`${r.url}/simple/busy/`, { headers: { 'if-none-match': etag } })).status, 304);
  t.equal((await fetch(`${r.url}/simple/nothing-here/`)).status, 404);
  t.equal((await fetch(`${r.url}/simple/busy/busy-9.9.tar.gz`)).status, 404);
  const redirect = await fetch(`${r.url}/simple/BUSY/?x=1`, { redirect: 'manual' });
  t.equal(redirect.status, 301);
  t.equal(redirect.headers.get('location'), `${r.url}/simple/busy/?x=1`);
  t.equal((await fetch(`${r.url}/simple`, { redirect: 'manual' })).headers.get('location'), `${r.url}/simple/`);
  t.equal((await fetch(`${r.url}/simple/busy/`, { method: 'DELETE' })).status, 405);

  // PEP 592.
  const y = await fetch(`${r.url}/pypi/Busy/0.3/yank`, { method: 'POST', body: 'broken <build>' });
  t.equal(y.status, 200, await y.text());
  const yanked = (await (await fetch(`${r.url}/simple/busy/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as any;
  t.equal(yanked.files.find((f: any) => f.filename === 'busy-0.3.tar.gz').yanked, 'broken <build>');
  t.equal(yanked.files.find((f: any) => f.filename === 'busy-0.2.tar.gz').yanked, false);
  t.match(await (await fetch(`${r.url}/simple/busy/`)).text(), /busy-0\.3\.tar\.gz#sha256=[0-9a-f]+" data-yanked="broken &lt;build&gt;">/);
  t.equal((await fetch(`${r.url}/pypi/busy/0.3/unyank`, { method: 'POST' })).status, 200);
  const unyanked = (await (await fetch(`${r.url}/simple/busy/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as any;
  t.equal(unyanked.files.find((f: any) => f.filename === 'busy-0.3.tar.gz').yanked, false);
  t.equal((await fetch(`${r.url}/pypi/busy/7.7/yank`, { method: 'POST' })).status, 404);
});
