// Blob uploads over real HTTP against an in-process registry: sessions, chunks,
// single-request uploads, mounts, limits, expiry and failure paths.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { request, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { startRegistry, tempDir, type Running } from './helpers/registry.js';
import { openFilesUnder } from './helpers/open-files.js';

const hash = (alg: string, b: Buffer) => `${alg}:${createHash(alg).update(b).digest('hex')}`;
const sha256 = (b: Buffer) => hash('sha256', b);

const tmpDir = (r: Running) => join(r.config.storage.path, 'tmp');
/** Chunks being written: storage writers not yet committed. */
const chunkFiles = async (r: Running) => (await readdir(tmpDir(r)).catch(() => [] as string[])).filter((f) => f.startsWith('upload-'));
/** Accepted chunks: part objects of the sessions in the store (_uploads/<uuid>/<n>-<id>). */
async function partFiles(r: Running): Promise<string[]> {
  const root = join(r.config.storage.path, '_uploads');
  const out: string[] = [];
  for (const uuid of await readdir(root).catch(() => [] as string[])) {
    for (const f of await readdir(join(root, uuid)).catch(() => [] as string[])) if (f !== 'session.json') out.push(join(uuid, f));
  }
  return out;
}
const uploadFiles = async (r: Running) => [...(await chunkFiles(r)), ...(await partFiles(r))];
/** The temp file of the chunk being written, once one appears. */
async function chunkPath(r: Running): Promise<string> {
  let name: string | undefined;
  await eventually(async () => (name = (await chunkFiles(r))[0]) !== undefined, 'a chunk to be written');
  return join(tmpDir(r), name!);
}

function blobPath(r: Running, digest: string): string {
  const [alg, hex] = digest.split(':') as [string, string];
  return join(r.config.storage.path, 'blobs', alg, hex.slice(0, 2), hex);
}

async function errorCode(res: Response): Promise<string> {
  const body = (await res.json()) as { errors: { code: string }[] };
  return body.errors[0]!.code;
}

async function startUpload(r: Running, name: string, query = ''): Promise<string> {
  const res = await fetch(`${r.url}/v2/${name}/blobs/uploads/${query}`, { method: 'POST' });
  await res.arrayBuffer();
  if (res.status !== 202) throw new Error(`POST answered ${res.status}`);
  return `${r.url}${res.headers.get('location')}`;
}

function patch(loc: string, body: Buffer, range?: string): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (range) headers['content-range'] = range;
  return fetch(loc, { method: 'PATCH', body, headers });
}

function put(loc: string, digest: string, body?: Buffer): Promise<Response> {
  return fetch(`${loc}?digest=${encodeURIComponent(digest)}`, { method: 'PUT', body });
}

interface Raw {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A request through node:http, for bodies fetch cannot send (chunked in pieces, aborted half way). */
function rawRequest(url: string, method: string, headers: Record<string, string>, write: (req: ClientRequest) => Promise<void> | void): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    Promise.resolve(write(req)).then(() => req.end(), reject);
  });
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}


/** Asserts the blob is served by `name` and stored on disk under bytes that hash to its digest. */
interface Asserts {
  equal(found: unknown, wanted: unknown, message?: string): boolean;
  ok(found: unknown, message?: string): boolean;
}

async function checkStored(t: Asserts, r: Running, name: string, digest: string, data: Buffer): Promise<void> {
  const res = await fetch(`${r.url}/v2/${name}/blobs/${digest}`);
  t.equal(res.status, 200, 'blob is served');
  t.equal(res.headers.get('docker-content-digest'), digest);
  t.ok(Buffer.from(await res.arrayBuffer()).equals(data), 'served bytes are the uploaded bytes');
  const onDisk = await readFile(blobPath(r, digest));
  t.equal(hash(digest.split(':')[0]!, onDisk), digest, 'stored file hashes to its digest');
}

t.test('chunked upload: POST, PATCH with Content-Range, status GET, PUT', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const data = randomBytes(3000);
  const d = sha256(data);

  const post = await fetch(`${r.url}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: { 'content-length': '0' } });
  t.equal(post.status, 202);
  const uuid = post.headers.get('docker-upload-uuid')!;
  t.match(uuid, /^[0-9a-f-]{36}$/);
  t.equal(post.headers.get('location'), `/v2/team/app/blobs/uploads/${uuid}`);
  t.equal(post.headers.get('range'), '0-0');
  t.equal(post.headers.get('oci-chunk-min-length'), '0');
  const loc = `${r.url}${post.headers.get('location')}`;

  const empty = await fetch(loc);
  t.equal(empty.status, 204);
  t.equal(empty.headers.get('range'), '0-0');
  t.equal(empty.headers.get('docker-upload-uuid'), uuid);
  t.equal(empty.headers.get('location'), `/v2/team/app/blobs/uploads/${uuid}`);

  let res = await patch(loc, data.subarray(0, 1000), '0-999');
  t.equal(res.status, 202);
  t.equal(res.headers.get('range'), '0-999');
  t.equal(res.headers.get('location'), `/v2/team/app/blobs/uploads/${uuid}`);
  t.equal(res.headers.get('docker-upload-uuid'), uuid);

  res = await patch(loc, data.subarray(1000, 2000), '1000-1999');
  t.equal(res.status, 202);
  t.equal(res.headers.get('range'), '0-1999');

  const status = await fetch(loc, { method: 'HEAD' });
  t.equal(status.status, 204);
  t.equal(status.headers.get('range'), '0-1999');

  // The last chunk rides on the closing PUT.
  res = await fetch(`${loc}?digest=${d}`, { method: 'PUT', body: data.subarray(2000), headers: { 'content-range': '2000-2999' } });
  t.equal(res.status, 201);
  t.equal(res.headers.get('location'), `/v2/team/app/blobs/${d}`);
  t.equal(res.headers.get('docker-content-digest'), d);
  await checkStored(t, r, 'team/app', d, data);

  const gone = await fetch(loc);
  t.equal(gone.status, 404, 'a finished session is closed');
  t.equal(await errorCode(gone), 'BLOB_UPLOAD_UNKNOWN');
  t.same(await uploadFiles(r), [], 'no temp file left');
  t.same(await openFilesUnder(r.dir), [], 'no file left open');
});

t.test('out-of-order, malformed and mis-sized chunks leave the session unchanged', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const data = randomBytes(300);
  const loc = await startUpload(r, 'app');
  t.equal((await patch(loc, data.subarray(0, 100), '0-99')).status, 202);

  for (const range of ['50-149', '101-200', '0-99']) {
    const res = await patch(loc, data.subarray(100, 200), range);
    t.equal(res.status, 416, range);
    t.equal(res.headers.get('range'), '0-99', `${range}: Range says where the upload stands`);
    t.ok(res.headers.get('location'), `${range}: Location present`);
    t.equal(await errorCode(res), 'BLOB_UPLOAD_INVALID');
  }
  const bad = await patch(loc, data.subarray(100, 200), 'bytes=100-199');
  t.equal(bad.status, 400, 'malformed Content-Range');
  t.equal(await errorCode(bad), 'BLOB_UPLOAD_INVALID');
  const mismatch = await patch(loc, data.subarray(100, 200), '100-249');
  t.equal(mismatch.status, 400, 'Content-Length disagrees with Content-Range');
  t.equal(await errorCode(mismatch), 'SIZE_INVALID');

  const status = await fetch(loc);
  t.equal(status.headers.get('range'), '0-99');
  // The RFC 9110 form is accepted too.
  t.equal((await patch(loc, data.subarray(100, 200), 'bytes 100-199/*')).status, 202);
  // A closing PUT with a chunk out of order is refused and the session survives.
  const outOfOrder = await fetch(`${loc}?digest=${sha256(data)}`, { method: 'PUT', body: data.subarray(250), headers: { 'content-range': '250-299' } });
  t.equal(outOfOrder.status, 416);
  t.equal(outOfOrder.headers.get('range'), '0-199');
  await outOfOrder.arrayBuffer();
  t.equal((await patch(loc, data.subarray(200))).status, 202, 'a chunk without Content-Range is appended');
  const done = await put(loc, sha256(data));
  t.equal(done.status, 201);
  await checkStored(t, r, 'app', sha256(data), data);
});

t.test('single POST upload; a wrong digest stores nothing', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const data = randomBytes(5000);
  const d = sha256(data);
  const res = await fetch(`${r.url}/v2/app/blobs/uploads/?digest=${d}`, { method: 'POST', body: data });
  t.equal(res.status, 201);
  t.equal(res.headers.get('location'), `/v2/app/blobs/${d}`);
  t.equal(res.headers.get('docker-content-digest'), d);
  await checkStored(t, r, 'app', d, data);

  const other = randomBytes(100);
  const claimed = sha256(randomBytes(100));
  const wrong = await fetch(`${r.url}/v2/app/blobs/uploads/?digest=${claimed}`, { method: 'POST', body: other });
  t.equal(wrong.status, 400);
  const body = (await wrong.json()) as { errors: { code: string; detail: { expected: string; computed: string } }[] };
  t.equal(body.errors[0]!.code, 'DIGEST_INVALID');
  t.equal(body.errors[0]!.detail.computed, sha256(other));
  t.equal((await fetch(`${r.url}/v2/app/blobs/${claimed}`, { method: 'HEAD' })).status, 404);
  t.equal((await fetch(`${r.url}/v2/app/blobs/${sha256(other)}`, { method: 'HEAD' })).status, 404);
  await t.rejects(stat(blobPath(r, claimed)), 'nothing stored under the claimed digest');
  await t.rejects(stat(blobPath(r, sha256(other))), 'nothing stored under the computed digest');

  const invalid = await fetch(`${r.url}/v2/app/blobs/uploads/?digest=sha256:123`, { method: 'POST', body: other });
  t.equal(invalid.status, 400);
  t.equal(await errorCode(invalid), 'DIGEST_INVALID');

  // An empty blob is a blob too.
  const e = sha256(Buffer.alloc(0));
  const empty = await fetch(`${r.url}/v2/app/blobs/uploads/?digest=${e}`, { method: 'POST', headers: { 'content-length': '0' } });
  t.equal(empty.status, 201);
  const get = await fetch(`${r.url}/v2/app/blobs/${e}`);
  t.equal(get.status, 200);
  t.equal(get.headers.get('content-length'), '0');
  t.same(await uploadFiles(r), []);
});

t.test('POST then PUT with the whole blob (monolithic)', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const data = randomBytes(70_000);
  const loc = await startUpload(r, 'app');
  const res = await put(loc, sha256(data), data);
  t.equal(res.status, 201);
  await checkStored(t, r, 'app', sha256(data), data);
});

t.test('sha512 uploads', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const a = randomBytes(4000);
  const da = hash('sha512', a);
  const mono = await fetch(`${r.url}/v2/app/blobs/uploads/?digest=${da}`, { method: 'POST', body: a });
  t.equal(mono.status, 201, 'single POST with a sha512 digest');
  t.equal(mono.headers.get('docker-content-digest'), da);
  await checkStored(t, r, 'app', da, a);

  // Session declared as sha512 up front, and one that is not (hashed again at PUT).
  for (const query of ['?digest-algorithm=sha512', '']) {
    const b = randomBytes(3000);
    const db = hash('sha512', b);
    const loc = await startUpload(r, 'app', query);
    t.equal((await patch(loc, b.subarray(0, 1500), '0-1499')).status, 202);
    t.equal((await patch(loc, b.subarray(1500), '1500-2999')).status, 202);
    const res = await put(loc, db);
    t.equal(res.status, 201, `chunked sha512 ${query || 'undeclared'}`);
    await checkStored(t, r, 'app', db, b);
  }
  const unsupported = await fetch(`${r.url}/v2/app/blobs/uploads/?digest-algorithm=md5`, { method: 'POST' });
  t.equal(unsupported.status, 400);
  t.equal(await errorCode(unsupported), 'DIGEST_INVALID');
});

t.test('closing PUT digest errors', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const data = randomBytes(500);
  const loc = await startUpload(r, 'app');
  t.equal((await patch(loc, data)).status, 202);

  const missing = await fetch(loc, { method: 'PUT' });
  t.equal(missing.status, 400);
  t.equal(await errorCode(missing), 'DIGEST_INVALID');
  const invalid = await put(loc, 'sha256:nothex');
  t.equal(invalid.status, 400);
  t.equal(await errorCode(invalid), 'DIGEST_INVALID');
  const still = await fetch(loc);
  t.equal(still.status, 204, 'the session survives a malformed digest');
  t.equal(still.headers.get('range'), '0-499');

  const wrong = await put(loc, sha256(Buffer.from('something else')));
  t.equal(wrong.status, 400);
  t.equal(await errorCode(wrong), 'DIGEST_INVALID');
  t.equal((await fetch(loc)).status, 404, 'a digest mismatch discards the session');
  t.same(await uploadFiles(r), [], 'and its temp file');
  await t.rejects(stat(blobPath(r, sha256(data))), 'nothing stored');
});

t.test('unknown sessions and sessions of another repository', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const loc = await startUpload(r, 'mine');
  const uuid = loc.split('/').pop()!;
  const foreign = `${r.url}/v2/theirs/blobs/uploads/${uuid}`;
  const unknown = `${r.url}/v2/mine/blobs/uploads/00000000-0000-0000-0000-000000000000`;
  for (const url of [foreign, unknown]) {
    for (const [method, body] of [['GET'], ['PATCH', 'x'], ['PUT'], ['DELETE']] as [string, string?][]) {
      const target = method === 'PUT' ? `${url}?digest=${sha256(Buffer.alloc(0))}` : url;
      const res = await fetch(target, { method, body });
      t.equal(res.status, 404, `${method} ${url === foreign ? 'foreign' : 'unknown'}`);
      t.equal(await errorCode(res), 'BLOB_UPLOAD_UNKNOWN');
    }
  }
  t.equal((await fetch(loc)).status, 204, 'the real session is untouched');
  const wrongMethod = await fetch(`${r.url}/v2/mine/blobs/uploads/`, { method: 'GET' });
  t.equal(wrongMethod.status, 405);
});

t.test('DELETE cancels a session and removes its temp file', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const loc = await startUpload(r, 'app');
  t.equal((await patch(loc, randomBytes(2000))).status, 202);
  t.equal((await uploadFiles(r)).length, 1);
  const del = await fetch(loc, { method: 'DELETE' });
  t.equal(del.status, 204);
  t.same(await uploadFiles(r), []);
  t.equal((await fetch(loc)).status, 404);
  t.equal((await fetch(loc, { method: 'DELETE' })).status, 404);
});

t.test('cross-repository mount', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const data = randomBytes(1234);
  const d = sha256(data);
  t.equal((await fetch(`${r.url}/v2/src/blobs/uploads/?digest=${d}`, { method: 'POST', body: data })).status, 201);

  const mount = await fetch(`${r.url}/v2/dst/app/blobs/uploads/?mount=${d}&from=src`, { method: 'POST' });
  t.equal(mount.status, 201);
  t.equal(mount.headers.get('location'), `/v2/dst/app/blobs/${d}`);
  t.equal(mount.headers.get('docker-content-digest'), d);
  await checkStored(t, r, 'dst/app', d, data);

  const again = await fetch(`${r.url}/v2/dst/app/blobs/uploads/?mount=${d}&from=elsewhere`, { method: 'POST' });
  t.equal(again.status, 201, 'the target already has it');

  // The source does not have it: fall back to a new session.
  const fallback = await fetch(`${r.url}/v2/third/blobs/uploads/?mount=${d}&from=nothere`, { method: 'POST' });
  t.equal(fallback.status, 202);
  const loc = `${r.url}${fallback.headers.get('location')}`;
  t.match(fallback.headers.get('location'), /^\/v2\/third\/blobs\/uploads\/[0-9a-f-]{36}$/);
  t.equal((await put(loc, d, data)).status, 201, 'the fallback session works');
  await checkStored(t, r, 'third', d, data);

  const noFrom = await fetch(`${r.url}/v2/fourth/blobs/uploads/?mount=${d}`, { method: 'POST' });
  t.equal(noFrom.status, 202, 'no anonymous mounts from unnamed repositories');
  await fetch(`${r.url}${noFrom.headers.get('location')}`, { method: 'DELETE' });

  const badDigest = await fetch(`${r.url}/v2/fifth/blobs/uploads/?mount=sha256:xyz&from=src`, { method: 'POST' });
  t.equal(badDigest.status, 400);
  t.equal(await errorCode(badDigest), 'DIGEST_INVALID');
  const badFrom = await fetch(`${r.url}/v2/fifth/blobs/uploads/?mount=${d}&from=Bad..Name`, { method: 'POST' });
  t.equal(badFrom.status, 400);
  t.equal(await errorCode(badFrom), 'NAME_INVALID');
  // A mount whose source link exists but whose bytes were never stored falls back too.
  const ghost = sha256(Buffer.from('ghost'));
  await r.registry.ctx.storage.put(`docker/src/_layers/sha256/${ghost.slice(7)}`, '');
  const dangling = await fetch(`${r.url}/v2/sixth/blobs/uploads/?mount=${ghost}&from=src`, { method: 'POST' });
  t.equal(dangling.status, 202);
});

t.test('session limits answer 429 with Retry-After', async (t) => {
  const r = await startRegistry({ docker: { max_upload_sessions: 3, max_upload_sessions_per_client: 2 } });
  t.teardown(() => r.close());
  const a = await startUpload(r, 'app');
  await startUpload(r, 'app');
  const third = await fetch(`${r.url}/v2/app/blobs/uploads/`, { method: 'POST' });
  t.equal(third.status, 429, 'per-client limit');
  t.match(third.headers.get('retry-after'), /^\d+$/);
  t.equal(await errorCode(third), 'TOOMANYREQUESTS');
  const data = Buffer.from('small');
  const mono = await fetch(`${r.url}/v2/app/blobs/uploads/?digest=${sha256(data)}`, { method: 'POST', body: data });
  t.equal(mono.status, 429, 'single-POST uploads count too');

  t.equal((await fetch(a, { method: 'DELETE' })).status, 204);
  const b = await startUpload(r, 'app');
  t.equal((await put(b, sha256(data), data)).status, 201, 'a finished session frees its slot');
  t.ok(await startUpload(r, 'app'));

  // The global limit.
  const g = await startRegistry({ docker: { max_upload_sessions: 2, max_upload_sessions_per_client: 10 } });
  t.teardown(() => g.close());
  await startUpload(g, 'app');
  await startUpload(g, 'other');
  const global = await fetch(`${g.url}/v2/app/blobs/uploads/`, { method: 'POST' });
  t.equal(global.status, 429, 'global limit');
  t.match(global.headers.get('retry-after'), /^\d+$/);
  t.equal(await errorCode(global), 'TOOMANYREQUESTS');

  const metrics = await (await fetch(`${g.url}/metrics`)).text();
  t.match(metrics, /^nora_upload_sessions 2$/m, 'the gauge counts open sessions');
});

t.test('idle sessions expire and their temp files are removed', async (t) => {
  const r = await startRegistry({ docker: { upload_session_ttl_secs: 1 } });
  t.teardown(() => r.close());
  const loc = await startUpload(r, 'app');
  t.equal((await patch(loc, randomBytes(1000))).status, 202);
  t.equal((await uploadFiles(r)).length, 1);
  await eventually(async () => (await fetch(loc)).status === 404, 'the session to expire');
  await eventually(async () => (await uploadFiles(r)).length === 0, 'its part to be removed');
  const res = await patch(loc, Buffer.from('late'));
  t.equal(res.status, 404);
  t.equal(await errorCode(res), 'BLOB_UPLOAD_UNKNOWN');
});

t.test('PATCH with Transfer-Encoding: chunked', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const data = randomBytes(1024 * 1024 + 333);
  const loc = await startUpload(r, 'app');
  const res = await rawRequest(loc, 'PATCH', { 'transfer-encoding': 'chunked', 'content-type': 'application/octet-stream' }, async (req) => {
    for (let off = 0; off < data.length; off += 100_000) {
      if (!req.write(data.subarray(off, off + 100_000))) await new Promise((r) => req.once('drain', r));
    }
  });
  t.equal(res.status, 202);
  t.equal(res.headers['range'], `0-${data.length - 1}`);
  // A chunked body with a Content-Range must match it exactly.
  const extra = randomBytes(1000);
  const short = await rawRequest(loc, 'PATCH', { 'transfer-encoding': 'chunked', 'content-range': `${data.length}-${data.length + 1999}` }, (req) => {
    req.write(extra);
  });
  t.equal(short.status, 400, 'fewer bytes than the Content-Range announced');
  t.equal(short.headers['range'], `0-${data.length - 1}`, 'the short chunk was rolled back');
  const long = await rawRequest(loc, 'PATCH', { 'transfer-encoding': 'chunked', 'content-range': `${data.length}-${data.length + 499}` }, (req) => {
    req.write(extra);
  });
  t.equal(long.status, 400, 'more bytes than the Content-Range announced');
  t.equal((await fetch(loc)).headers.get('range'), `0-${data.length - 1}`);
  const done = await put(loc, sha256(data));
  t.equal(done.status, 201);
  await checkStored(t, r, 'app', sha256(data), data);
});

t.test('a multi-MiB blob in several PATCHes', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const data = randomBytes(6 * 1024 * 1024 + 17);
  const loc = await startUpload(r, 'big/blob');
  const step = 2 * 1024 * 1024;
  for (let off = 0; off < data.length; off += step) {
    const end = Math.min(off + step, data.length) - 1;
    const res = await patch(loc, data.subarray(off, end + 1), `${off}-${end}`);
    t.equal(res.status, 202);
    t.equal(res.headers.get('range'), `0-${end}`);
  }
  const res = await put(loc, sha256(data));
  t.equal(res.status, 201);
  await checkStored(t, r, 'big/blob', sha256(data), data);
  t.same(await openFilesUnder(r.dir), []);
});

t.test('an upload over max_upload_session_size_mb is refused with 413 and the session stays consistent', async (t) => {
  const r = await startRegistry({ docker: { max_upload_session_size_mb: 1 } });
  t.teardown(() => r.close());
  const first = randomBytes(768 * 1024);
  const loc = await startUpload(r, 'app');
  t.equal((await patch(loc, first, `0-${first.length - 1}`)).status, 202);

  const more = randomBytes(512 * 1024);
  const declared = await rawRequest(loc, 'PATCH', { 'content-length': String(more.length) }, (req) => {
    req.write(more);
  }).catch(() => null);
  // The server may answer before reading the body and close the connection; when the answer arrives it is 413.
  if (declared) t.equal(declared.status, 413, 'Content-Length over the cap');
  const streamed = await rawRequest(loc, 'PATCH', { 'transfer-encoding': 'chunked' }, (req) => {
    req.write(more);
  }).catch(() => null);
  if (streamed) {
    t.equal(streamed.status, 413, 'chunked body over the cap');
    t.equal(JSON.parse(streamed.body.toString()).errors[0].code, 'SIZE_INVALID');
  }
  const status = await fetch(loc);
  t.equal(status.status, 204);
  t.equal(status.headers.get('range'), `0-${first.length - 1}`, 'nothing of the refused chunks was kept');
  const done = await put(loc, sha256(first));
  t.equal(done.status, 201, 'the data accepted so far still verifies');
  await checkStored(t, r, 'app', sha256(first), first);

  const mono = await rawRequest(`${r.url}/v2/app/blobs/uploads/?digest=${sha256(Buffer.alloc(1))}`, 'POST', { 'transfer-encoding': 'chunked' }, async (req) => {
    req.write(randomBytes(700 * 1024));
    req.write(randomBytes(700 * 1024));
  }).catch(() => null);
  if (mono) t.equal(mono.status, 413, 'single POST over the cap');
  await eventually(async () => (await uploadFiles(r)).length === 0, 'the refused upload to be removed');
});

t.test('a client that goes away mid-PATCH leaves the session as it was', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const good = randomBytes(200_000);
  const loc = await startUpload(r, 'app');
  t.equal((await patch(loc, good.subarray(0, 100_000), '0-99999')).status, 202);

  // Announce 1 MiB, send 300 KiB, wait until the server has written some of it, then cut the connection.
  await new Promise<void>((resolve) => {
    const req = request(loc, { method: 'PATCH', headers: { 'content-length': String(1024 * 1024) } });
    req.on('error', () => resolve());
    req.write(randomBytes(300 * 1024));
    void chunkPath(r)
      .then((path) => eventually(async () => (await stat(path)).size > 100_000, 'the partial chunk to reach the disk'))
      .then(() => req.destroy());
  });

  // Until the server has noticed, the session is busy (416); then it takes the right chunk.
  let res: Response;
  await eventually(async () => {
    res = await patch(loc, good.subarray(100_000), '100000-199999');
    return res.status !== 416;
  }, 'the aborted PATCH to be rolled back');
  t.equal(res!.status, 202);
  t.equal(res!.headers.get('range'), '0-199999');
  const done = await put(loc, sha256(good));
  t.equal(done.status, 201, 'file and hash hold exactly the accepted chunks');
  await checkStored(t, r, 'app', sha256(good), good);
  t.same(await openFilesUnder(r.dir), []);
});

t.test('a second writer on a busy session gets 416', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const data = randomBytes(400_000);
  const loc = await startUpload(r, 'app');

  let finishFirst!: () => void;
  const firstDone = rawRequest(loc, 'PATCH', { 'content-length': String(data.length) }, async (req) => {
    req.write(data.subarray(0, 200_000));
    await new Promise<void>((resolve) => (finishFirst = resolve));
    req.write(data.subarray(200_000));
  });
  const path = await chunkPath(r);
  await eventually(async () => (await stat(path)).size > 0, 'the first PATCH to be writing');
  const second = await patch(loc, Buffer.from('intruder'));
  t.equal(second.status, 416);
  t.equal(await errorCode(second), 'BLOB_UPLOAD_INVALID');
  const put2 = await put(loc, sha256(data));
  t.equal(put2.status, 416, 'a PUT waits for no one either');
  await put2.arrayBuffer();
  finishFirst();
  const first = await firstDone;
  t.equal(first.status, 202);
  t.equal(first.headers['range'], `0-${data.length - 1}`);
  t.equal((await put(loc, sha256(data))).status, 201);
  await checkStored(t, r, 'app', sha256(data), data);
});

t.test('cancelling a session while a PATCH streams into it', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const loc = await startUpload(r, 'app');
  let finishFirst!: () => void;
  const firstDone = rawRequest(loc, 'PATCH', { 'content-length': '200000' }, async (req) => {
    req.write(randomBytes(100_000));
    await new Promise<void>((resolve) => (finishFirst = resolve));
    req.write(randomBytes(100_000));
  });
  const path = await chunkPath(r);
  await eventually(async () => (await stat(path)).size > 0, 'the PATCH to be writing');
  const del = await fetch(loc, { method: 'DELETE' });
  t.equal(del.status, 204);
  t.equal((await fetch(loc)).status, 404, 'the session is gone at once');
  finishFirst();
  const first = await firstDone;
  t.equal(first.status, 404, 'the interrupted PATCH learns the session was cancelled');
  t.equal(JSON.parse(first.body.toString()).errors[0].code, 'BLOB_UPLOAD_UNKNOWN');
  t.same(await uploadFiles(r), [], 'its temp file is removed once the PATCH lets go');
  t.same(await openFilesUnder(r.dir), []);
});

t.test('start-up sweeps stale temp files and the parts of sessions a restart forgot', async (t) => {
  const dir = await tempDir();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tmp = join(dir, 'storage', 'tmp');
  await mkdir(tmp, { recursive: true });
  const stale = join(tmp, 'upload-stale');
  const fresh = join(tmp, 'upload-fresh');
  await writeFile(stale, 'left by a crash');
  await writeFile(fresh, 'just written');
  const old = new Date(Date.now() - 3 * 3600 * 1000);
  await utimes(stale, old, old);

  const r = await startRegistry({}, dir);
  const names = await readdir(tmp);
  t.notOk(names.includes('upload-stale'), 'a temp file older than the session TTL is removed at start-up');
  // Sessions live in memory: at start-up even a recent temp file belongs to a dead process.
  t.notOk(names.includes('upload-fresh'), 'so is a recent one (a crashed process left it)');

  const first = randomBytes(100);
  const loc = await startUpload(r, 'app');
  t.equal((await patch(loc, first)).status, 202);
  t.same(await chunkFiles(r), [], 'an accepted chunk is a part in the store, not a temp file');
  t.equal((await partFiles(r)).length, 1);
  await r.close();

  // On a disk of its own a registry keeps session documents in memory (no other replica
  // can take the next request): a restart forgets the session and removes its parts.
  const again = await startRegistry({}, dir);
  t.teardown(() => again.close());
  const moved = loc.replace(r.url, again.url);
  t.equal((await fetch(moved)).status, 404, 'the session is unknown after a restart');
  t.same(await uploadFiles(again), [], 'and its part is gone');
});
