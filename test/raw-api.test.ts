// Raw files over plain HTTP: create, the conditional PUT matrix (If-None-Match: *,
// If-Match with an ETag or *, NORA's 409 without either), GET/HEAD with ETag,
// If-None-Match, Range and If-Range, content types with the sandboxing headers,
// raw.cache_control, DELETE, the paginated JSON listing, file/directory
// clashes, raw.max_file_size with and without Content-Length, and racing
// create-only writers (exactly one wins).
import t from 'tap';
import { createHash } from 'node:crypto';
import { startRegistry } from './helpers/registry.js';
import { rawHttp } from './helpers/raw-http.js';
import { metric } from './helpers/auth.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

t.test('raw files', async (t) => {
  const r = await startRegistry({ raw: { max_file_size: 64 * 1024, cache_control: 'public, max-age=60' } });
  t.teardown(() => r.close());
  const put = (path: string, body: string | Buffer, headers: Record<string, string> = {}) => fetch(`${r.url}/raw/${path}`, { method: 'PUT', body, headers });

  const created = await put('docs/readme.txt', 'hello raw\n');
  t.equal(created.status, 201);
  const etag = `"${sha('hello raw\n')}"`;
  t.equal(created.headers.get('etag'), etag);
  t.equal((await put('docs/readme.txt', 'again')).status, 409, 'no precondition: an existing file is kept');
  t.equal((await put('docs/readme.txt', 'again', { 'if-none-match': '*' })).status, 412, 'If-None-Match: * on an existing file');
  t.equal((await put('docs/readme.txt', 'again', { 'if-match': '"0000"' })).status, 412, 'If-Match naming another version');
  t.equal((await put('docs/new.txt', 'x', { 'if-match': '*' })).status, 412, 'If-Match: * on a missing file');
  const bad = await put('docs/readme.txt', 'x', { 'if-none-match': '"abc"' });
  t.equal(bad.status, 400);
  t.match(await bad.text(), /If-None-Match on PUT must be \*/, 'plain-text error');
  const replaced = await put('docs/readme.txt', 'version two\n', { 'if-match': etag });
  t.equal(replaced.status, 200, 'If-Match with the current ETag replaces');
  const etag2 = `"${sha('version two\n')}"`;
  t.equal((await put('docs/readme.txt', 'three', { 'if-match': etag })).status, 412, 'the old ETag no longer matches');

  const got = await fetch(`${r.url}/raw/docs/readme.txt`);
  t.equal(await got.text(), 'version two\n');
  t.equal(got.headers.get('etag'), etag2);
  t.equal(got.headers.get('cache-control'), 'public, max-age=60', 'raw.cache_control');
  t.equal(got.headers.get('content-type'), 'text/plain; charset=utf-8');
  t.ok(got.headers.get('last-modified'));
  t.equal((await fetch(`${r.url}/raw/docs/readme.txt`, { headers: { 'if-none-match': etag2 } })).status, 304);
  const part = await fetch(`${r.url}/raw/docs/readme.txt`, { headers: { range: 'bytes=8-10' } });
  t.same([part.status, await part.text(), part.headers.get('content-range')], [206, 'two', 'bytes 8-10/12']);
  const stale = await fetch(`${r.url}/raw/docs/readme.txt`, { headers: { range: 'bytes=8-10', 'if-range': etag } });
  t.same([stale.status, await stale.text()], [200, 'version two\n'], 'If-Range with an old ETag sends the whole file');
  t.equal((await fetch(`${r.url}/raw/docs/readme.txt`, { headers: { range: 'bytes=99-' } })).status, 416);
  const head = await fetch(`${r.url}/raw/docs/readme.txt`, { method: 'HEAD' });
  t.same([head.status, head.headers.get('content-length'), head.headers.get('etag')], [200, '12', etag2]);

  // Active content cannot script the registry's origin.
  for (const [name, type] of [['page.html', 'text/html; charset=utf-8'], ['logo.svg', 'image/svg+xml'], ['app.js', 'text/javascript']] as const) {
    t.equal((await put(`site/${name}`, '<script>alert(document.cookie)</script>')).status, 201);
    const res = await fetch(`${r.url}/raw/site/${name}`);
    t.equal(res.headers.get('content-type'), type, name);
    t.equal(res.headers.get('content-security-policy'), 'sandbox', `${name}: sandboxed`);
    t.equal(res.headers.get('x-content-type-options'), 'nosniff', `${name}: nosniff`);
  }
  const missing = await fetch(`${r.url}/raw/site/%3Cscript%3E.html`);
  t.equal(missing.status, 404);
  t.equal(missing.headers.get('content-security-policy'), 'sandbox', 'an error quoting the path is sandboxed too');

  // A file and a directory cannot share a path (a disk could not hold both).
  t.equal((await put('docs/readme.txt/inner', 'x')).status, 409, 'below a file');
  t.equal((await put('docs', 'x')).status, 409, 'where a directory is');

  // Listing, paginated.
  for (let i = 0; i < 5; i++) t.equal((await put(`many/f${i}.bin`, `file ${i}`)).status, 201);
  t.equal((await put('many/sub/deep.txt', 'deep')).status, 201);
  const names: string[] = [];
  let after: string | null = null;
  let pages = 0;
  do {
    const q: string = after ? `&after=${encodeURIComponent(after)}` : '';
    const page = (await (await fetch(`${r.url}/raw/many/?limit=2${q}`)).json()) as { entries: { name: string; type: string; size?: number }[]; next: string | null };
    for (const e of page.entries) names.push(`${e.name}:${e.type}${e.size !== undefined ? `:${e.size}` : ''}`);
    after = page.next;
    pages++;
  } while (after);
  t.same(names, ['f0.bin:file:6', 'f1.bin:file:6', 'f2.bin:file:6', 'f3.bin:file:6', 'f4.bin:file:6', 'sub:directory'], 'listing in order, files with sizes');
  t.equal(pages, 3, 'three pages of two');
  const root = await (await fetch(`${r.url}/raw/`)).json();
  t.same(root.entries.map((e: { name: string }) => e.name), ['docs', 'many', 'site']);
  t.equal((await fetch(`${r.url}/raw/nowhere/`)).status, 404);

  // DELETE, conditional too.
  t.equal((await fetch(`${r.url}/raw/many/f0.bin`, { method: 'DELETE', headers: { 'if-match': '"nope"' } })).status, 412);
  t.equal((await fetch(`${r.url}/raw/many/f0.bin`, { method: 'DELETE' })).status, 204);
  t.equal((await fetch(`${r.url}/raw/many/f0.bin`)).status, 404);
  t.equal((await fetch(`${r.url}/raw/many/f0.bin`, { method: 'DELETE' })).status, 404);
  t.equal((await fetch(`${r.url}/raw/many/f1.bin`, { method: 'POST' })).status, 405);

  // raw.max_file_size, declared or streamed.
  const big = Buffer.alloc(64 * 1024 + 1, 1);
  t.equal((await put('big.bin', big)).status, 413, 'Content-Length over the limit');
  const chunked = await rawHttp(r.port, { method: 'PUT', target: '/raw/big-chunked.bin', headers: { 'transfer-encoding': 'chunked' }, body: `${big.length.toString(16)}\r\n${big.toString('latin1')}\r\n0\r\n\r\n` });
  t.equal(chunked.status, 413, 'a chunked body over the limit');
  const small = await rawHttp(r.port, { method: 'PUT', target: '/raw/chunked.txt', headers: { 'transfer-encoding': 'chunked' }, body: '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n' });
  t.equal(small.status, 201, 'a chunked upload');
  t.equal(await (await fetch(`${r.url}/raw/chunked.txt`)).text(), 'hello world');
  t.equal((await fetch(`${r.url}/raw/big.bin`)).status, 404, 'nothing stored for refused uploads');

  // Racing create-only writers: exactly one wins.
  const racers = await Promise.all(Array.from({ length: 8 }, (_, i) => put('race.txt', `writer ${i}`, { 'if-none-match': '*' }).then((x) => x.status)));
  t.same(racers.sort(), [201, 412, 412, 412, 412, 412, 412, 412]);

  // Requests count under their own format label.
  t.ok((await metric(r.url, 'nora_http_requests_total', 'format="raw",method="PUT",status="201"')) >= 10, 'metrics: raw PUTs by status');
  t.ok((await metric(r.url, 'nora_http_requests_total', 'format="raw",method="GET",status="206"')) >= 1, 'metrics: raw ranged GETs');
});

t.test('raw disabled', async (t) => {
  const r = await startRegistry({ raw: { enabled: false }, cargo: { enabled: false } });
  t.teardown(() => r.close());
  t.equal((await fetch(`${r.url}/raw/x`, { method: 'PUT', body: 'x' })).status, 404);
  t.equal((await fetch(`${r.url}/cargo/index/config.json`)).status, 404);
});
