// The public token API exactly as the seed document and the README show it
// (real curl commands), every error it defines, the role rules for minting,
// and revocation by a prefix of the listed hash_prefix (unique, ambiguous,
// foreign, malformed, raced).
import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { api, bearer, basic, get, mint, startAuthRegistry, type AuthRegistry } from './helpers/auth.js';
import { ROOT, startRegistry } from './helpers/registry.js';
import { snapshotTree } from './helpers/tree-snapshot.js';
import { tokenId } from '../src/main/auth/token-format.js';
import { TokenStore } from '../src/main/auth/token-store.js';
import { tokenDriver } from '../src/main/storage/factory.js';
import { argon2Hash } from '../src/workers/hash-worker.js';

const exec = promisify(execFile);
const sh = async (cmd: string) => (await exec('sh', ['-c', cmd])).stdout;

/**
 * Puts a real token into the registry's token directory the way an existing
 * NORA token directory arrives (its file format, Argon2id hash), for tokens
 * whose ids must share a prefix: minting cannot choose ids.
 */
async function importToken(r: AuthRegistry, token: string, user: string, role: 'read' | 'write' | 'admin' = 'write'): Promise<string> {
  const id = tokenId(token);
  const now = Math.floor(Date.now() / 1000);
  const rec = { token_hash: await argon2Hash({ password: token }), user, created_at: now, expires_at: now + 86400, last_used: null, description: 'imported', role };
  if (!(await new TokenStore(await tokenDriver(r.config)).create(id, rec))) throw new Error(`token id ${id} already taken`);
  return id;
}

/** Two fresh tokens whose ids share their first 6 hex characters (a birthday search: ~5000 SHA-256s). */
function tokensSharingPrefix(): [string, string] {
  const seen = new Map<string, string>();
  for (;;) {
    const tok = 'nra_' + randomBytes(16).toString('hex');
    const p = tokenId(tok).slice(0, 6);
    const other = seen.get(p);
    if (other !== undefined) return [other, tok];
    seen.set(p, tok);
  }
}

/** Longest common start of two ids. */
function common(a: string, b: string): number {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return i;
}

/** A token whose id starts with a1b2c3 (found once by brute force), so the README's revoke line works as pasted. */
const A1B2C3_TOKEN = 'nra_4d6d169cecda4529aa7f8a9d2532a02a';

t.test("the seed's curl commands work as written", async (t) => {
  const r = await startAuthRegistry({ admin_users: [] }, { admin: 'your-password', developer: 'dev-pw' });
  t.teardown(() => r.close());
  const port = r.port;

  const created = JSON.parse(
    await sh(`curl -s -X POST http://localhost:${port}/api/tokens \\
  -H "Content-Type: application/json" \\
  -d '{
    "username": "admin",
    "password": "your-password",
    "role": "write",
    "ttl_days": 90,
    "description": "CI/CD pipeline token"
  }'`),
  );
  t.same(Object.keys(created).sort(), ['expires_in_days', 'token']);
  t.match(created.token, /^nra_[0-9a-f]{32}$/);
  t.equal(created.expires_in_days, 90);

  const listed = JSON.parse(
    await sh(`curl -s -X POST http://localhost:${port}/api/tokens/list \\
  -H "Content-Type: application/json" \\
  -d '{
    "username": "admin",
    "password": "your-password"
  }'`),
  );
  t.equal(listed.tokens.length, 1);
  const entry = listed.tokens[0];
  t.same(Object.keys(entry).sort(), ['created_at', 'description', 'expires_at', 'hash_prefix', 'last_used', 'role']);
  t.match(entry, { hash_prefix: /^[0-9a-f]{16}$/, description: 'CI/CD pipeline token', role: 'write', last_used: null });
  t.equal(entry.expires_at - entry.created_at, 90 * 86400);
  t.ok(Math.abs(entry.created_at - Date.now() / 1000) < 60, 'created_at is unix seconds');

  // The token works as docker/twine send it (Basic, any user) and as npm sends it (Bearer)
  t.equal((await get(`${r.url}/v2/`, basic('token', created.token))).status, 200);
  t.equal((await get(`${r.url}/v2/`, bearer(created.token))).status, 200);
  const again = JSON.parse(await sh(`curl -s -X POST http://localhost:${port}/api/tokens/list -H "Content-Type: application/json" -d '{"username":"admin","password":"your-password"}'`));
  t.type(again.tokens[0].last_used, 'number', 'last_used recorded after use');

  // The document revokes with 6 characters of the listed hash_prefix.
  const revoke = await sh(`curl -s -w ' %{http_code}' -X POST http://localhost:${port}/api/tokens/revoke \\
  -H "Content-Type: application/json" \\
  -d '{
    "username": "admin",
    "password": "your-password",
    "hash_prefix": "${entry.hash_prefix.slice(0, 6)}"
  }'`);
  t.equal(revoke, `{"revoked":"${entry.hash_prefix}"} 200`, 'a 6-character prefix revokes, naming the full id');
  t.equal((await get(`${r.url}/v2/`, bearer(created.token))).status, 401, 'revoked token refused at once');
  const empty = JSON.parse(await sh(`curl -s -X POST http://localhost:${port}/api/tokens/list -H "Content-Type: application/json" -d '{"username":"admin","password":"your-password"}'`));
  t.same(empty, { tokens: [] });

  // role defaults to read, ttl_days to 30
  const d = await api(r.url, '/api/tokens', { username: 'developer', password: 'dev-pw' });
  t.equal(d.status, 200);
  t.equal(d.body.expires_in_days, 30);
  const dl = await api(r.url, '/api/tokens/list', { username: 'developer', password: 'dev-pw' });
  t.equal(dl.body.tokens[0].role, 'read');
  t.equal(dl.body.tokens[0].description, null);
  t.ok(!r.logs.some((l) => l.includes('your-password') || l.includes(created.token)), 'no secret in the logs');
  t.ok(r.logs.some((l) => l.includes('"event":"token_create"') && l.includes(entry.hash_prefix)), 'token creation audited');
  t.ok(r.logs.some((l) => l.includes('"event":"token_revoke"') && l.includes(entry.hash_prefix)), 'revocation audited');
});

t.test('every token API error', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const good = { username: 'alice', password: 'alice-pw' };
  const cases: [string, string, unknown, number, RegExp][] = [
    ['bad JSON', '/api/tokens', '{"username": "alice", ', 400, /JSON/],
    ['JSON that is not an object', '/api/tokens', '[1,2]', 422, /body/],
    ['missing username', '/api/tokens', { password: 'x' }, 422, /username/],
    ['missing password', '/api/tokens/list', { username: 'alice' }, 422, /password/],
    ['username not a string', '/api/tokens', { username: 5, password: 'x' }, 422, /username/],
    ['bad role', '/api/tokens', { ...good, role: 'root' }, 422, /role/],
    ['role in capitals', '/api/tokens', { ...good, role: 'Write' }, 422, /role/],
    ['ttl_days 0', '/api/tokens', { ...good, ttl_days: 0 }, 422, /ttl_days/],
    ['ttl_days 3651', '/api/tokens', { ...good, ttl_days: 3651 }, 422, /ttl_days/],
    ['ttl_days negative', '/api/tokens', { ...good, ttl_days: -1 }, 422, /ttl_days/],
    ['ttl_days fractional', '/api/tokens', { ...good, ttl_days: 1.5 }, 422, /ttl_days/],
    ['ttl_days a string', '/api/tokens', { ...good, ttl_days: '30' }, 422, /ttl_days/],
    ['description not a string', '/api/tokens', { ...good, description: 7 }, 422, /description/],
    ['missing hash_prefix', '/api/tokens/revoke', good, 422, /hash_prefix/],
    ['wrong password', '/api/tokens', { username: 'alice', password: 'nope' }, 401, /credentials/],
    ['unknown user', '/api/tokens/list', { username: 'mallory', password: 'nope' }, 401, /credentials/],
    ['unknown prefix', '/api/tokens/revoke', { ...good, hash_prefix: '0123456789abcdef' }, 404, /not found/],
    ['unknown 6-character prefix', '/api/tokens/revoke', { ...good, hash_prefix: '012345' }, 404, /not found/],
    ['malformed prefix', '/api/tokens/revoke', { ...good, hash_prefix: 'XYZ' }, 400, /hash_prefix: 6 to 16 hex/],
    ['5-character prefix', '/api/tokens/revoke', { ...good, hash_prefix: 'a1b2c' }, 400, /hash_prefix: 6 to 16 hex/],
    ['empty prefix', '/api/tokens/revoke', { ...good, hash_prefix: '' }, 400, /hash_prefix/],
    ['non-hex prefix', '/api/tokens/revoke', { ...good, hash_prefix: 'a1b2cz' }, 400, /hash_prefix/],
    ['17-character prefix', '/api/tokens/revoke', { ...good, hash_prefix: '0123456789abcdef0' }, 400, /hash_prefix/],
    ['prefix with a path', '/api/tokens/revoke', { ...good, hash_prefix: '../a1b2c3' }, 400, /hash_prefix/],
    ['admin role without admin_users', '/api/tokens', { ...good, role: 'admin' }, 403, /admin_users/],
  ];
  for (const [name, path, body, status, msg] of cases) {
    const res = await api(r.url, path, body);
    t.equal(res.status, status, `${name} → ${status}`);
    t.match(res.body, { error: msg }, `${name}: JSON error naming the problem`);
    t.match(res.headers.get('content-type'), /application\/json/);
  }
  // ttl bounds themselves are accepted
  t.equal((await api(r.url, '/api/tokens', { ...good, ttl_days: 1 })).status, 200);
  t.equal((await api(r.url, '/api/tokens', { ...good, ttl_days: 3650 })).status, 200);

  // wrong content type: curl -d without -H sends a form
  const form = await fetch(`${r.url}/api/tokens`, { method: 'POST', body: new URLSearchParams(good) });
  t.equal(form.status, 415);
  t.match(await form.json(), { error: /application\/json/ });
  const none = await fetch(`${r.url}/api/tokens`, { method: 'POST', body: JSON.stringify(good) as unknown as BodyInit, headers: { 'content-type': '' } });
  t.equal(none.status, 415, 'no content type');
  const plus = await api(r.url, '/api/tokens/list', good, { 'content-type': 'application/vnd.api+json; charset=utf-8' });
  t.equal(plus.status, 200, '+json with parameters is JSON');

  const getRes = await fetch(`${r.url}/api/tokens`);
  t.equal(getRes.status, 405);
  t.equal(getRes.headers.get('allow'), 'POST');
  t.match(await getRes.json(), { error: /POST/ });
  t.equal((await api(r.url, '/api/tokens/nope', good)).status, 404);
  const big = await api(r.url, '/api/tokens', { ...good, description: 'x'.repeat(20_000) });
  t.equal(big.status, 413);
  t.match(big.body, { error: String });
});

t.test('roles: who may mint what, who sees and revokes what', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const admin = { username: 'admin', password: 'admin-pw' };
  const alice = { username: 'alice', password: 'alice-pw' };
  const bob = { username: 'bob', password: 'bob-pw' };

  const adminToken = await mint(r.url, 'admin', 'admin-pw', 'admin');
  t.match(adminToken, /^nra_/, 'a user in admin_users mints an admin token');
  t.equal((await api(r.url, '/api/tokens', { ...alice, role: 'admin' })).status, 403, 'others may not');
  const aliceWrite = await mint(r.url, 'alice', 'alice-pw', 'write', 10);
  const aliceRead = await mint(r.url, 'alice', 'alice-pw', 'read', 5);
  await mint(r.url, 'bob', 'bob-pw', 'write');
  const aliceList = (await api(r.url, '/api/tokens/list', alice)).body.tokens as { hash_prefix: string }[];

  // An API token as the password manages nothing: not its owner's tokens, not new ones
  // (the issue: a read token listed and revoked; a write token minted write tokens that
  // outlived its revocation). Each token from its own address, to stay under the lockout.
  const dir = r.config.auth.token_storage;
  const before = await snapshotTree(dir);
  let n = 0;
  for (const [name, token, user] of [['read', aliceRead, 'alice'], ['write', aliceWrite, 'alice'], ['admin', adminToken, 'admin']] as const) {
    const xff = { 'x-forwarded-for': `198.51.100.${++n}` };
    for (const as of ['token', user]) {
      const tries: [string, object][] = [
        ['/api/tokens', { username: as, password: token, role: name, ttl_days: 1 }],
        ['/api/tokens/list', { username: as, password: token }],
        ['/api/tokens/revoke', { username: as, password: token, hash_prefix: aliceList[0]!.hash_prefix }],
      ];
      for (const [path, body] of tries) {
        if (as === user && path !== '/api/tokens/list') continue; // 4 failures per address: under the lockout's 5
        const res = await api(r.url, path, body, xff);
        t.equal(res.status, 401, `${name} token as ${as}'s password: ${path} → 401`);
        t.match(res.body, { error: /htpasswd password, not an API token/ }, 'JSON error saying what to send');
        t.notOk(res.headers.get('www-authenticate'), 'no challenge: credentials travel in the body');
      }
    }
  }
  t.same([...(await snapshotTree(dir))], [...before], 'nothing changed in the token directory');
  t.equal((await get(`${r.url}/v2/`, bearer(aliceWrite))).status, 200, 'the refused tokens still work where tokens belong');
  t.ok(!r.logs.some((l) => l.includes(aliceRead) || l.includes(adminToken)), 'refused tokens never logged');
  t.ok(r.logs.some((l) => l.includes('"reason":"token_as_password"')), 'refusals audited as failed logins');

  const bobList = (await api(r.url, '/api/tokens/list', bob)).body.tokens as { hash_prefix: string }[];
  t.equal(aliceList.length, 2, 'alice sees her two tokens');
  t.equal(bobList.length, 1, 'bob sees only his');
  const all = (await api(r.url, '/api/tokens/list', admin)).body.tokens as { user: string }[];
  t.equal(all.length, 4, 'an admin_users member sees every token');
  t.same([...new Set(all.map((x) => x.user))].sort(), ['admin', 'alice', 'bob']);

  // bob cannot revoke alice's token (same answer as a missing one); admin can
  const target = aliceList[0]!.hash_prefix;
  const foreign = await api(r.url, '/api/tokens/revoke', { ...bob, hash_prefix: target });
  t.equal(foreign.status, 404);
  t.equal((await api(r.url, '/api/tokens/revoke', { ...bob, hash_prefix: target.slice(0, 6) })).status, 404, 'nor by a prefix');
  const byAdmin = await api(r.url, '/api/tokens/revoke', { ...admin, hash_prefix: target.slice(0, 8) });
  t.equal(byAdmin.status, 200);
  t.same(byAdmin.body, { revoked: target });
  t.equal((await api(r.url, '/api/tokens/revoke', { ...admin, hash_prefix: target })).status, 404, 'already gone');
});

t.test("the README's token curl lines, pasted", async (t) => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const auth = readme.slice(readme.indexOf('## Authentication'), readme.indexOf('\n## ', readme.indexOf('## Authentication') + 1));
  const lines = auth.split('\n');
  const cmds: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('curl ')) continue;
    let cmd = lines[i]!;
    while (cmd.endsWith('\\')) cmd += '\n' + lines[++i]!;
    cmds.push(cmd);
  }
  t.equal(cmds.length, 3, 'create, list, revoke');
  const r = await startAuthRegistry({ admin_users: [] }, { admin: 'your-password' });
  t.teardown(() => r.close());
  const run = (cmd: string) => sh(cmd.replaceAll('localhost:4000', `localhost:${r.port}`));

  // An earlier token of admin's whose id starts with the README's a1b2c3.
  t.equal(tokenId(A1B2C3_TOKEN).slice(0, 6), 'a1b2c3');
  const old = await importToken(r, A1B2C3_TOKEN, 'admin');
  t.equal((await get(`${r.url}/v2/`, bearer(A1B2C3_TOKEN))).status, 200, 'the imported token is a real one');

  const created = JSON.parse(await run(cmds[0]!));
  t.match(created, { token: /^nra_[0-9a-f]{32}$/, expires_in_days: 90 });
  const listed = JSON.parse(await run(cmds[1]!)) as { tokens: { hash_prefix: string }[] };
  t.same(listed.tokens.map((x) => x.hash_prefix).sort(), [old, tokenId(created.token)].sort());
  t.same(JSON.parse(await run(cmds[2]!)), { revoked: old }, 'the pasted revoke line revokes the a1b2c3… token');
  t.equal((await get(`${r.url}/v2/`, bearer(A1B2C3_TOKEN))).status, 401, 'which stops working at once');
  t.equal((await get(`${r.url}/v2/`, bearer(created.token))).status, 200, 'the other one still works');
  t.same(await readdir(r.config.auth.token_storage), [`${tokenId(created.token)}.json`]);
  t.match(await run(cmds[2]!), /"error":"token not found"/, 'pasted again: 404 JSON');
});

t.test('revoke by prefix: unique, ambiguous, scoped to the caller', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const dir = r.config.auth.token_storage;
  const alice = { username: 'alice', password: 'alice-pw' };
  const bob = { username: 'bob', password: 'bob-pw' };
  const admin = { username: 'admin', password: 'admin-pw' };

  // Two of alice's tokens share a 6-character prefix: ambiguous for her.
  const [a1, a2] = tokensSharingPrefix();
  const ida1 = await importToken(r, a1, 'alice');
  const ida2 = await importToken(r, a2, 'alice');
  const shared = common(ida1, ida2);
  const before = await snapshotTree(dir);
  for (const len of [6, shared]) {
    const res = await api(r.url, '/api/tokens/revoke', { ...alice, hash_prefix: ida1.slice(0, len) });
    t.equal(res.status, 409, `${len} shared characters → 409`);
    t.match(res.body, { error: /matches 2 of your tokens; send more of its characters/ });
  }
  t.same([...(await snapshotTree(dir))], [...before], 'an ambiguous revoke changes nothing');
  const one = await api(r.url, '/api/tokens/revoke', { ...alice, hash_prefix: ida1.slice(0, shared + 1).toUpperCase() });
  t.same([one.status, one.body], [200, { revoked: ida1 }], 'one more character (any case) picks one');
  t.equal((await get(`${r.url}/v2/`, bearer(a1))).status, 401);
  t.equal((await get(`${r.url}/v2/`, bearer(a2))).status, 200, 'its neighbour survives');

  // alice's and bob's tokens share a prefix: unique for each, ambiguous for an admin (who sees all).
  const [x, y] = tokensSharingPrefix();
  const idx = await importToken(r, x, 'alice');
  const idy = await importToken(r, y, 'bob');
  const p = idx.slice(0, 6);
  const amb = await api(r.url, '/api/tokens/revoke', { ...admin, hash_prefix: p });
  t.same([amb.status, amb.body], [409, { error: `hash_prefix ${p} matches 2 tokens; send more of its characters (the list shows 16)` }]);
  t.same((await api(r.url, '/api/tokens/revoke', { ...alice, hash_prefix: p })).body, { revoked: idx }, "alice's prefix names only hers");
  t.same((await api(r.url, '/api/tokens/revoke', { ...bob, hash_prefix: p })).body, { revoked: idy });
  t.equal((await api(r.url, '/api/tokens/revoke', { ...bob, hash_prefix: p })).status, 404, 'then nothing is left');
  t.ok(r.logs.some((l) => l.includes('"event":"token_revoke"') && l.includes(idy)), 'revocation audited with the full id');
});

t.test('two concurrent revokes of one prefix: one wins, the other 404', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const dir = r.config.auth.token_storage;
  const alice = { username: 'alice', password: 'alice-pw' };
  const keep = await mint(r.url, 'alice', 'alice-pw', 'read');
  const keepFile = await readFile(join(dir, `${tokenId(keep)}.json`), 'utf8');
  for (let round = 0; round < 5; round++) {
    const token = await mint(r.url, 'alice', 'alice-pw', 'write');
    const id = tokenId(token);
    const prefix = id.slice(0, 6 + round);
    const results = await Promise.all([0, 1].map(() => api(r.url, '/api/tokens/revoke', { ...alice, hash_prefix: prefix })));
    t.same(results.map((x) => x.status).sort(), [200, 404], `round ${round}: 200 and 404`);
    t.same(results.find((x) => x.status === 200)!.body, { revoked: id });
    t.match(results.find((x) => x.status === 404)!.body, { error: 'token not found' });
    t.same(await readdir(dir), [`${tokenId(keep)}.json`], 'only the other token file remains, no temp files');
    t.equal((await get(`${r.url}/v2/`, bearer(token))).status, 401);
  }
  t.equal(await readFile(join(dir, `${tokenId(keep)}.json`), 'utf8'), keepFile, 'the other token file is untouched');
  t.equal((await api(r.url, '/api/tokens/list', alice)).body.tokens.length, 1);
});

t.test('token API with auth disabled answers 503', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const res = await api(r.url, '/api/tokens', { username: 'a', password: 'b' });
  t.equal(res.status, 503);
  t.match(res.body, { error: /disabled/ });
});

t.test('failed token API logins lock the client out', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  for (let i = 0; i < 5; i++) {
    t.equal((await api(r.url, '/api/tokens/list', { username: 'alice', password: `wrong${i}` })).status, 401);
  }
  const locked = await api(r.url, '/api/tokens/list', { username: 'alice', password: 'alice-pw' });
  t.equal(locked.status, 429, 'even the right password waits');
  t.match(locked.body, { error: /retry after/ });
  t.ok(Number(locked.headers.get('retry-after')) >= 1);
  t.ok(r.logs.some((l) => l.includes('"event":"auth_lockout"')), 'lockout audited');
  t.ok(!r.logs.some((l) => l.includes('wrong0') || l.includes('alice-pw')), 'passwords never logged');
});

t.test('an API token as the password counts toward the lockout like a wrong password', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const token = await mint(r.url, 'alice', 'alice-pw', 'write');
  const paths = ['/api/tokens', '/api/tokens/list', '/api/tokens/revoke', '/api/tokens/list', '/api/tokens'];
  for (const path of paths) {
    const res = await api(r.url, path, { username: 'alice', password: token, hash_prefix: tokenId(token) });
    t.equal(res.status, 401, `${path} with a token → 401`);
  }
  const locked = await api(r.url, '/api/tokens/list', { username: 'alice', password: 'alice-pw' });
  t.equal(locked.status, 429, 'five refusals lock the client out');
  t.ok(Number(locked.headers.get('retry-after')) >= 1);
  t.equal((await readdir(r.config.auth.token_storage)).length, 1, 'no token minted or revoked');
});
