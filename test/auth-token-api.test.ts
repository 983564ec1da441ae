// The public token API exactly as the seed document shows it (real curl
// commands), every error it defines, and the role rules for minting.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { api, bearer, basic, get, mint, startAuthRegistry } from './helpers/auth.js';
import { startRegistry } from './helpers/registry.js';

const exec = promisify(execFile);
const sh = async (cmd: string) => (await exec('sh', ['-c', cmd])).stdout;

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

  const revoke = await sh(`curl -s -o /dev/null -w '%{http_code}' -X POST http://localhost:${port}/api/tokens/revoke \\
  -H "Content-Type: application/json" \\
  -d '{
    "username": "admin",
    "password": "your-password",
    "hash_prefix": "${entry.hash_prefix}"
  }'`);
  t.equal(revoke, '200');
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
    ['malformed prefix', '/api/tokens/revoke', { ...good, hash_prefix: 'XYZ' }, 404, /not found/],
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

  // A token as the password: never a higher role, never a longer life
  const viaRead = await api(r.url, '/api/tokens', { username: 'token', password: aliceRead, role: 'write' });
  t.equal(viaRead.status, 403, 'read token cannot mint write');
  t.match(viaRead.body, { error: /read token cannot create a write token/ });
  t.equal((await api(r.url, '/api/tokens', { username: 'token', password: aliceWrite, role: 'admin' })).status, 403);
  const longer = await api(r.url, '/api/tokens', { username: 'token', password: aliceWrite, role: 'read', ttl_days: 30 });
  t.equal(longer.status, 422, 'cannot outlive the token used');
  t.match(longer.body, { error: /ttl_days/ });
  const child = await api(r.url, '/api/tokens', { username: 'x', password: aliceWrite, role: 'read', ttl_days: 3 });
  t.equal(child.status, 200, 'write token mints a shorter read token');
  const adminChild = await api(r.url, '/api/tokens', { username: 'x', password: adminToken, role: 'admin', ttl_days: 1 });
  t.equal(adminChild.status, 200, 'admin token mints admin');

  const aliceList = (await api(r.url, '/api/tokens/list', alice)).body.tokens as { hash_prefix: string }[];
  t.equal(aliceList.length, 3, "alice sees her three tokens (one minted by her token)");
  const bobList = (await api(r.url, '/api/tokens/list', bob)).body.tokens as { hash_prefix: string }[];
  t.equal(bobList.length, 1, 'bob sees only his');
  const all = (await api(r.url, '/api/tokens/list', admin)).body.tokens as { user: string }[];
  t.equal(all.length, 6, 'an admin_users member sees every token');
  t.same([...new Set(all.map((x) => x.user))].sort(), ['admin', 'alice', 'bob']);
  const viaAdminToken = await api(r.url, '/api/tokens/list', { username: 'token', password: adminToken });
  t.equal(viaAdminToken.body.tokens.length, 6, 'an admin token sees every token');
  const viaReadToken = await api(r.url, '/api/tokens/list', { username: 'token', password: aliceRead });
  t.equal(viaReadToken.body.tokens.length, 3, "a token sees its owner's tokens");

  // bob cannot revoke alice's token (same answer as a missing one); admin can
  const target = aliceList[0]!.hash_prefix;
  const foreign = await api(r.url, '/api/tokens/revoke', { ...bob, hash_prefix: target });
  t.equal(foreign.status, 404);
  const byAdmin = await api(r.url, '/api/tokens/revoke', { ...admin, hash_prefix: target });
  t.equal(byAdmin.status, 200);
  t.same(byAdmin.body, { revoked: target });
  t.equal((await api(r.url, '/api/tokens/revoke', { ...admin, hash_prefix: target })).status, 404, 'already gone');
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
