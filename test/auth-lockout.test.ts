// Failed-login lockout per client IP, and which X-Forwarded-For entries count.
import t from 'tap';
import { basic, get, startAuthRegistry } from './helpers/auth.js';
import { ClientIp } from '../src/main/auth/client-ip.js';
import { Lockout } from '../src/main/auth/lockout.js';
import type { Req } from '../src/main/http/types.js';

const wrong = basic('alice', 'wrong');
const right = basic('alice', 'alice-pw');

t.test('5 failures lock the IP out with 429 and Retry-After', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  for (let i = 0; i < 5; i++) t.equal((await get(`${r.url}/v2/`, wrong)).status, 401);
  const locked = await fetch(`${r.url}/v2/`, { headers: { authorization: right } });
  t.equal(locked.status, 429, 'valid credentials wait too');
  t.equal(locked.headers.get('retry-after'), '1', 'first lockout is 1 s');
  t.match(await locked.json(), { errors: [{ code: 'TOOMANYREQUESTS', message: /retry after 1 seconds/ }] });
  t.equal((await get(`${r.url}/health`)).status, 200, 'public paths are not locked');
  await new Promise((res) => setTimeout(res, 1100));
  t.equal((await get(`${r.url}/v2/`, wrong)).status, 401, 'after the wait one more failure');
  const longer = await get(`${r.url}/v2/`, right);
  t.equal(longer.status, 429);
  t.equal(longer.headers.get('retry-after'), '2', 'then the lockout doubles');
  await new Promise((res) => setTimeout(res, 2100));
  t.equal((await get(`${r.url}/v2/`, right)).status, 200, 'success after the wait');
  t.equal((await get(`${r.url}/v2/`, wrong)).status, 401, 'success cleared the record: one failure is not locked');
  t.equal((await get(`${r.url}/v2/`, right)).status, 200);
  const audit = r.logs.filter((l) => l.includes('"event":"auth_lockout"')).map((l) => JSON.parse(l));
  t.match(audit[0], { ip: '127.0.0.1', failures: 5, lock_seconds: 1 });
});

t.test('X-Forwarded-For counts only from trusted proxies', async (t) => {
  // the test client connects from 127.0.0.1, a trusted proxy by default
  const trusted = await startAuthRegistry();
  t.teardown(() => trusted.close());
  const via = (ip: string, auth: string) => get(`${trusted.url}/v2/`, auth, 'GET', { 'x-forwarded-for': ip });
  for (let i = 0; i < 5; i++) t.equal((await via('10.0.0.1', wrong)).status, 401);
  t.equal((await via('10.0.0.1', right)).status, 429, 'the forwarded client is locked out');
  t.equal((await via('10.0.0.2', right)).status, 200, 'another forwarded client is not');
  t.equal((await get(`${trusted.url}/v2/`, right)).status, 200, 'nor the proxy itself');
  t.equal((await via('6.6.6.6, 10.0.0.1', right)).status, 429, 'a client-written entry on the left does not escape');
  t.ok(trusted.logs.some((l) => l.includes('"event":"auth_failure"') && l.includes('"ip":"10.0.0.1"')), 'audit has the client IP');

  const untrusted = await startAuthRegistry({ trusted_proxies: ['192.168.0.0/16'] });
  t.teardown(() => untrusted.close());
  const via2 = (ip: string, auth: string) => get(`${untrusted.url}/v2/`, auth, 'GET', { 'x-forwarded-for': ip });
  for (let i = 0; i < 5; i++) t.equal((await via2(`10.0.0.${i}`, wrong)).status, 401);
  t.equal((await via2('10.0.0.99', right)).status, 429, 'from an untrusted peer X-Forwarded-For is ignored');
});

t.test('client IP resolution', async (t) => {
  const req = (ip: string, headers: Record<string, string> = {}) => ({ ip, headers }) as unknown as Req;
  const c = new ClientIp(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
  t.equal(c.resolve(req('127.0.0.1', { 'x-forwarded-for': '203.0.113.5' })), '203.0.113.5');
  t.equal(c.resolve(req('127.0.0.1', { 'x-forwarded-for': '203.0.113.5, 10.1.2.3' })), '203.0.113.5', 'trusted hops skipped');
  t.equal(c.resolve(req('127.0.0.1', { 'x-forwarded-for': '1.1.1.1, 203.0.113.5' })), '203.0.113.5', 'rightmost untrusted wins');
  t.equal(c.resolve(req('127.0.0.1', { 'x-forwarded-for': 'garbage' })), '127.0.0.1');
  t.equal(c.resolve(req('127.0.0.1', { 'x-real-ip': '198.51.100.7' })), '198.51.100.7');
  t.equal(c.resolve(req('8.8.8.8', { 'x-forwarded-for': '203.0.113.5' })), '8.8.8.8', 'untrusted peer');
  t.equal(c.resolve(req('::ffff:10.9.9.9', { 'x-forwarded-for': '2001:db8::1' })), '2001:db8::1', 'mapped IPv4 peer, IPv6 client');
  t.equal(c.resolve(req('fd00::1', { 'x-forwarded-for': '2001:db8::2' })), '2001:db8::2', 'IPv6 CIDR');
  t.equal(new ClientIp([]).resolve(req('127.0.0.1', { 'x-forwarded-for': '1.2.3.4' })), '127.0.0.1', 'empty list trusts nobody');
  t.throws(() => new ClientIp(['not-an-ip']), /not-an-ip/);
  t.throws(() => new ClientIp(['10.0.0.0/33']), /prefix/);
});

t.test('lockout schedule', async (t) => {
  let now = 1_000_000;
  const l = new Lockout(() => now);
  t.teardown(() => l.close());
  for (let i = 1; i <= 4; i++) t.equal(l.failure('a').lockedFor, 0);
  t.equal(l.failure('a').lockedFor, 1);
  t.equal(l.retryAfter('a'), 1);
  t.equal(l.retryAfter('b'), 0, 'per IP');
  now += 1000;
  t.equal(l.retryAfter('a'), 0);
  for (let i = 6; i <= 20; i++) l.failure('a');
  t.equal(l.retryAfter('a'), 900, 'capped at 900 s');
  l.success('a');
  t.equal(l.retryAfter('a'), 0);
});
