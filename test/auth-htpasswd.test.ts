// htpasswd handling: start-up refuses a missing, unreadable or empty file;
// non-bcrypt lines are reported by line number and never match; edits to the
// file take effect without a restart and evict cached logins.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { appendFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { basic, bearer, deleteUser, get, makeHtpasswd, metric, mint, setUser, startAuthRegistry } from './helpers/auth.js';
import { CLI, freePort, startRegistry, tempDir } from './helpers/registry.js';
import { setLogSink } from '../src/main/log.js';

const exec = promisify(execFile);

async function eventually(what: string, check: () => Promise<boolean>, ms = 6000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('start-up fails clearly without a usable htpasswd file', async (t) => {
  const dir = await tempDir();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  setLogSink(() => {});
  const start = (file: string) => startRegistry({ auth: { enabled: true, htpasswd_file: file } }, join(dir, 'data'));
  await t.rejects(start(join(dir, 'missing.htpasswd')), /htpasswd file .*missing\.htpasswd does not exist/);
  await mkdir(join(dir, 'a-directory'));
  await t.rejects(start(join(dir, 'a-directory')), /cannot be read \(EISDIR\)/);
  await writeFile(join(dir, 'empty'), '');
  await t.rejects(start(join(dir, 'empty')), /no usable bcrypt user/);
  await exec('htpasswd', ['-mbc', join(dir, 'md5-only'), 'bob', 'pw']);
  await t.rejects(start(join(dir, 'md5-only')), /no usable bcrypt user/);

  // the CLI prints the message and exits non-zero
  const child = spawn(process.execPath, [CLI, 'serve'], {
    cwd: dir,
    env: { ...process.env, NORA_AUTH_ENABLED: 'true', NORA_AUTH_HTPASSWD_FILE: 'nope.htpasswd', NORA_PORT: String(await freePort()), NORA_STORAGE_PATH: join(dir, 's') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (b) => (err += b));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.not(code, 0, 'exit status is non-zero');
  t.match(err, /nope\.htpasswd does not exist/);
});

t.test('non-bcrypt lines are reported with their line number and never match', async (t) => {
  const dir = await tempDir();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = await makeHtpasswd(dir, { alice: 'alice-pw' });
  await exec('htpasswd', ['-mb', file, 'bob', 'bob-pw']); // MD5 ($apr1$)
  await exec('htpasswd', ['-sb', file, 'carol', 'carol-pw']); // SHA1
  await appendFile(file, 'just-a-line-without-separator\n# a comment\n\n');
  const text = await readFile(file, 'utf8');
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  const r = await startRegistry({ auth: { enabled: true, htpasswd_file: file }, log: { level: 'info' } }, join(dir, 'data'));
  t.teardown(() => r.close());
  const warned = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'htpasswd line ignored');
  t.same(warned.map((w) => w.line), [2, 3, 4]);
  t.match(warned[0].reason, /bob.*not bcrypt/);
  for (const hash of text.split('\n').map((l) => l.split(':')[1]).filter(Boolean)) {
    t.notOk(lines.some((l) => l.includes(hash!)), 'hash never logged');
  }
  t.equal((await get(`${r.url}/v2/`, basic('bob', 'bob-pw'))).status, 401, 'MD5 entry never matches');
  t.equal((await get(`${r.url}/v2/`, basic('carol', 'carol-pw'))).status, 401, 'SHA1 entry never matches');
  t.equal((await get(`${r.url}/v2/`, basic('alice', 'alice-pw'))).status, 200);
});

t.test('htpasswd edits apply without a restart', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const ok = async (user: string, pw: string) => (await get(`${r.url}/v2/`, basic(user, pw))).status === 200;
  t.ok(await ok('alice', 'alice-pw'));
  t.ok(await ok('alice', 'alice-pw'), 'now cached');
  const token = await mint(r.url, 'alice', 'alice-pw', 'read');
  t.equal((await get(`${r.url}/v2/`, bearer(token))).status, 200);

  await setUser(r.htpasswd, 'alice', 'new-pw');
  await eventually('old password refused', async () => !(await ok('alice', 'alice-pw')));
  t.ok(await ok('alice', 'new-pw'), 'new password works');
  t.equal((await get(`${r.url}/v2/`, bearer(token))).status, 200, 'a password change keeps her tokens');

  await setUser(r.htpasswd, 'dave', 'dave-pw');
  await eventually('added user accepted', () => ok('dave', 'dave-pw'));

  await deleteUser(r.htpasswd, 'alice');
  await eventually('removed user refused', async () => !(await ok('alice', 'new-pw')));
  t.equal((await get(`${r.url}/v2/`, bearer(token))).status, 401, "a removed user's tokens stop working");
  await setUser(r.htpasswd, 'alice', 'back-pw');
  await eventually('re-added user accepted', () => ok('alice', 'back-pw'));
  t.equal((await get(`${r.url}/v2/`, bearer(token))).status, 200, 'and they work again when the user is back');

  // the file disappearing fails closed; coming back restores logins
  await rename(r.htpasswd, r.htpasswd + '.away');
  await eventually('logins refused while the file is missing', async () => !(await ok('bob', 'bob-pw')));
  await rename(r.htpasswd + '.away', r.htpasswd);
  await eventually('logins back with the file', () => ok('bob', 'bob-pw'));
  t.ok(r.logs.some((l) => l.includes('htpasswd file cannot be read')), 'the missing file was logged');
});

t.test('an unknown user costs one bcrypt, like a known one', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const before = await metric(r.url, 'nora_auth_verifications_total', 'kind="bcrypt"');
  t.equal((await get(`${r.url}/v2/`, basic('nobody-here', 'whatever'))).status, 401);
  const mid = await metric(r.url, 'nora_auth_verifications_total', 'kind="bcrypt"');
  t.equal(mid - before, 1, 'unknown user: one bcrypt (against a dummy hash)');
  t.equal((await get(`${r.url}/v2/`, basic('alice', 'wrong'))).status, 401);
  t.equal((await metric(r.url, 'nora_auth_verifications_total', 'kind="bcrypt"')) - mid, 1, 'known user: one bcrypt');
});
