// API tokens on disk: file format and permissions, expiry, immediate
// revocation, last_used batching, NORA's legacy hash format, corrupt files.
import t from 'tap';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { api, basic, bearer, get, metric, mint, startAuthRegistry } from './helpers/auth.js';

t.test('token files: one per token, named by hash id, 0600 in a 0700 directory, Argon2id only', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const token = await mint(r.url, 'alice', 'alice-pw', 'write', 7);
  const dir = r.config.auth.token_storage;
  t.equal((await stat(dir)).mode & 0o777, 0o700);
  const files = await readdir(dir);
  const id = createHash('sha256').update(token).digest('hex').slice(0, 16);
  t.same(files, [`${id}.json`]);
  t.equal((await stat(join(dir, files[0]!))).mode & 0o777, 0o600);
  const text = await readFile(join(dir, files[0]!), 'utf8');
  t.notOk(text.includes(token), 'the token itself is not stored');
  const rec = JSON.parse(text);
  t.same(Object.keys(rec), ['token_hash', 'user', 'created_at', 'expires_at', 'last_used', 'description', 'role']);
  t.match(rec.token_hash, /^\$argon2id\$v=19\$m=19456,(t=2,p=1|p=1,t=2)\$/);
  t.match(rec, { user: 'alice', role: 'write', last_used: null });
  const listed = await api(r.url, '/api/tokens/list', { username: 'alice', password: 'alice-pw' });
  t.equal(listed.body.tokens[0].hash_prefix, id, 'hash_prefix is the file id');
});

t.test('expired tokens are refused', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const token = await mint(r.url, 'alice', 'alice-pw', 'write', 1);
  const dir = r.config.auth.token_storage;
  const [file] = await readdir(dir);
  const rec = JSON.parse(await readFile(join(dir, file!), 'utf8'));
  rec.expires_at = Math.floor(Date.now() / 1000) - 5;
  await writeFile(join(dir, file!), JSON.stringify(rec));
  const res = await fetch(`${r.url}/v2/`, { headers: { authorization: bearer(token) } });
  t.equal(res.status, 401);
  t.match(await res.json(), { errors: [{ code: 'UNAUTHORIZED', message: 'token expired' }] });
  t.equal((await api(r.url, '/api/tokens/list', { username: 'x', password: token })).status, 401, 'not on the token API either');
});

t.test('revocation is effective on the very next request, even when cached', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const token = await mint(r.url, 'alice', 'alice-pw', 'write');
  const hits0 = await metric(r.url, 'nora_auth_cache_hits_total');
  t.equal((await get(`${r.url}/v2/`, bearer(token))).status, 200);
  t.equal((await get(`${r.url}/v2/`, basic('ci', token))).status, 200);
  t.ok((await metric(r.url, 'nora_auth_cache_hits_total')) > hits0, 'the token was served from the cache');
  const [prefix] = (await api(r.url, '/api/tokens/list', { username: 'alice', password: 'alice-pw' })).body.tokens.map((x: { hash_prefix: string }) => x.hash_prefix);
  t.equal((await api(r.url, '/api/tokens/revoke', { username: 'alice', password: 'alice-pw', hash_prefix: prefix })).status, 200);
  t.equal((await get(`${r.url}/v2/`, bearer(token))).status, 401);
  t.equal((await get(`${r.url}/v2/`, basic('ci', token))).status, 401);
  t.same(await readdir(r.config.auth.token_storage), [], 'file deleted');
});

t.test('last_used is batched in memory and written at shutdown', async (t) => {
  const r = await startAuthRegistry();
  const token = await mint(r.url, 'alice', 'alice-pw', 'read');
  const dir = r.config.auth.token_storage;
  const [file] = await readdir(dir);
  t.equal((await get(`${r.url}/v2/`, bearer(token))).status, 200);
  t.equal(JSON.parse(await readFile(join(dir, file!), 'utf8')).last_used, null, 'not written per request');
  const listed = await api(r.url, '/api/tokens/list', { username: 'alice', password: 'alice-pw' });
  t.type(listed.body.tokens[0].last_used, 'number', 'but listings already show it');
  const { rm } = await import('node:fs/promises');
  // close the server but keep the directory to read the flushed file
  await r.registry.close(2000);
  const rec = JSON.parse(await readFile(join(dir, file!), 'utf8'));
  t.ok(Math.abs(rec.last_used - Date.now() / 1000) < 60, 'flushed on close');
  await rm(r.dir, { recursive: true, force: true });
});

t.test("NORA's legacy SHA-256 token files work and are upgraded to Argon2id", async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const token = 'nra_' + 'ab'.repeat(16);
  const sha = createHash('sha256').update(token).digest('hex');
  const now = Math.floor(Date.now() / 1000);
  const file = join(r.config.auth.token_storage, `${sha.slice(0, 16)}.json`);
  await writeFile(file, JSON.stringify({ token_hash: sha, user: 'bob', created_at: now, expires_at: now + 86400, last_used: null, description: null }), { mode: 0o600 });
  t.equal((await get(`${r.url}/v2/`, bearer(token))).status, 200);
  t.equal((await get(`${r.url}/v2/team/x/blobs/uploads/`, bearer(token), 'POST')).status, 403, 'a missing role loads as read');
  const rec = JSON.parse(await readFile(file, 'utf8'));
  t.match(rec.token_hash, /^\$argon2id\$/, 'rewritten as Argon2id');
  t.equal((await get(`${r.url}/v2/`, bearer('nra_' + 'cd'.repeat(16)))).status, 401);
});

t.test('a corrupt token file answers 503, never a crash or a pass', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const token = 'nra_' + 'ef'.repeat(16);
  const id = createHash('sha256').update(token).digest('hex').slice(0, 16);
  await writeFile(join(r.config.auth.token_storage, `${id}.json`), '{"token_hash": "$argon2id$', { mode: 0o600 });
  const res = await fetch(`${r.url}/v2/`, { headers: { authorization: bearer(token) } });
  t.equal(res.status, 503);
  t.match(await res.json(), { errors: [{ message: 'token verification unavailable' }] });
  const listed = await api(r.url, '/api/tokens/list', { username: 'admin', password: 'admin-pw' });
  t.same(listed.body, { tokens: [] }, 'listing skips the corrupt file');
  // Its owner cannot be read, so only an admin may remove it (by a prefix, like any token).
  t.equal((await api(r.url, '/api/tokens/revoke', { username: 'alice', password: 'alice-pw', hash_prefix: id.slice(0, 6) })).status, 404);
  const removed = await api(r.url, '/api/tokens/revoke', { username: 'admin', password: 'admin-pw', hash_prefix: id.slice(0, 6) });
  t.same([removed.status, removed.body], [200, { revoked: id }], 'an admin removes it');
  t.same(await readdir(r.config.auth.token_storage), []);
});
