// Blob GET/HEAD/DELETE over real HTTP against an in-process registry.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { startRegistry, type Running } from './helpers/registry.js';
import { openFilesUnder } from './helpers/open-files.js';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function push(r: Running, name: string, data: Buffer): Promise<string> {
  const d = sha256(data);
  const res = await fetch(`${r.url}/v2/${name}/blobs/uploads/?digest=${d}`, { method: 'POST', body: data });
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`push failed: ${res.status}`);
  return d;
}

async function errorCode(res: Response): Promise<string> {
  const body = (await res.json()) as { errors: { code: string }[] };
  return body.errors[0]!.code;
}

/** File descriptors of this process that point into the registry's data dir. */

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('GET and HEAD a blob', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const data = randomBytes(1000);
  const d = await push(r, 'team/app', data);

  const get = await fetch(`${r.url}/v2/team/app/blobs/${d}`);
  t.equal(get.status, 200);
  t.equal(get.headers.get('content-length'), '1000');
  t.equal(get.headers.get('content-type'), 'application/octet-stream');
  t.equal(get.headers.get('docker-content-digest'), d);
  t.equal(get.headers.get('accept-ranges'), 'bytes');
  t.equal(get.headers.get('etag'), `"${d}"`);
  t.match(get.headers.get('cache-control'), /immutable/);
  t.same(Buffer.from(await get.arrayBuffer()), data);

  const head = await fetch(`${r.url}/v2/team/app/blobs/${d}`, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.headers.get('content-length'), '1000');
  t.equal(head.headers.get('docker-content-digest'), d);
  t.equal(head.headers.get('content-type'), 'application/octet-stream');
  t.equal(head.headers.get('etag'), `"${d}"`);
  t.equal((await head.arrayBuffer()).byteLength, 0);

  const cached = await fetch(`${r.url}/v2/team/app/blobs/${d}`, { headers: { 'if-none-match': `"${d}"` } });
  t.equal(cached.status, 304);
  t.equal((await cached.arrayBuffer()).byteLength, 0);
});

t.test('a blob is only visible in repositories that link it', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const d = await push(r, 'one', Buffer.from('shared bytes'));
  const other = await fetch(`${r.url}/v2/two/blobs/${d}`);
  t.equal(other.status, 404);
  t.equal(await errorCode(other), 'BLOB_UNKNOWN');
  const head = await fetch(`${r.url}/v2/two/blobs/${d}`, { method: 'HEAD' });
  t.equal(head.status, 404);
  const missing = await fetch(`${r.url}/v2/one/blobs/${sha256(Buffer.from('never pushed'))}`);
  t.equal(missing.status, 404);
  t.equal(await errorCode(missing), 'BLOB_UNKNOWN');
});

t.test('invalid digests and methods', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  for (const bad of ['sha256:abc', 'md5:d41d8cd98f00b204e9800998ecf8427e', 'sha256:' + 'A'.repeat(64), 'nodigest']) {
    const res = await fetch(`${r.url}/v2/app/blobs/${bad}`);
    t.equal(res.status, 400, bad);
    t.equal(await errorCode(res), 'DIGEST_INVALID', bad);
  }
  const d = await push(r, 'app', Buffer.from('x'));
  const post = await fetch(`${r.url}/v2/app/blobs/${d}`, { method: 'POST' });
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET, HEAD, DELETE');
  t.equal(await errorCode(post), 'UNSUPPORTED');
});

t.test('Range requests', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  // Larger than one 256 KiB send buffer, so ranges cross buffer boundaries.
  const data = randomBytes(600 * 1024 + 7);
  const d = await push(r, 'app', data);
  const url = `${r.url}/v2/app/blobs/${d}`;
  const size = data.length;

  const cases: [string, number, number][] = [
    ['bytes=500-1499', 500, 1499],
    ['bytes=262140-524300', 262140, 524300],
    ['bytes=500-', 500, size - 1],
    ['bytes=-500', size - 500, size - 1],
    ['bytes=2000-99999999', 2000, size - 1],
  ];
  for (const [range, start, end] of cases) {
    const res = await fetch(url, { headers: { range } });
    t.equal(res.status, 206, range);
    t.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${size}`, range);
    t.equal(res.headers.get('content-length'), String(end - start + 1), range);
    t.same(Buffer.from(await res.arrayBuffer()), data.subarray(start, end + 1), range);
  }
  for (const range of [`bytes=${size}-`, `bytes=${size + 10}-${size + 20}`, 'bytes=500-0']) {
    const res = await fetch(url, { headers: { range } });
    t.equal(res.status, 416, range);
    t.equal(res.headers.get('content-range'), `bytes */${size}`, range);
    await res.arrayBuffer();
  }
  const whole = await fetch(url);
  t.equal(whole.status, 200);
  t.equal(sha256(Buffer.from(await whole.arrayBuffer())), d);
});

t.test('DELETE removes the repository link only', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const data = Buffer.from('to be deleted');
  const d = await push(r, 'a', data);
  await push(r, 'b', data);

  const del = await fetch(`${r.url}/v2/a/blobs/${d}`, { method: 'DELETE' });
  t.equal(del.status, 202);
  t.equal((await fetch(`${r.url}/v2/a/blobs/${d}`, { method: 'HEAD' })).status, 404);
  const again = await fetch(`${r.url}/v2/a/blobs/${d}`, { method: 'DELETE' });
  t.equal(again.status, 404);
  t.equal(await errorCode(again), 'BLOB_UNKNOWN');
  const b = await fetch(`${r.url}/v2/b/blobs/${d}`);
  t.equal(b.status, 200, 'another repository still has it');
  t.same(Buffer.from(await b.arrayBuffer()), data);
  const bad = await fetch(`${r.url}/v2/a/blobs/sha256:zz`, { method: 'DELETE' });
  t.equal(bad.status, 400);
});

t.test('downloads close their files, also when the client goes away', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const data = randomBytes(4 * 1024 * 1024);
  const d = await push(r, 'app', data);
  for (let i = 0; i < 3; i++) {
    await (await fetch(`${r.url}/v2/app/blobs/${d}`)).arrayBuffer();
    await (await fetch(`${r.url}/v2/app/blobs/${d}`, { headers: { range: 'bytes=10-20' } })).arrayBuffer();
    await (await fetch(`${r.url}/v2/app/blobs/${d}`, { method: 'HEAD' })).arrayBuffer();
  }
  // Abort a download after its first bytes arrive.
  await new Promise<void>((resolve, reject) => {
    const req = request(`${r.url}/v2/app/blobs/${d}`, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(e)));
    req.end();
  });
  await eventually(async () => (await openFilesUnder(r.dir)).length === 0, 'blob files to be closed');
  t.same(await openFilesUnder(r.dir), []);
});
