// What a new user sees when start-up goes wrong (issue 16, items 1, 7, 8): the
// real CLI refuses a held port, a misspelled NORA_* variable, a broken TOML
// file and an unusable storage directory with one line saying what to change,
// exits 2 (configuration) or 3 (cannot start), and never hangs.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { freePort, runCli, spawnRegistry, tempDir } from './helpers/registry.js';
import { makeDirs } from '../src/main/storage/drivers/make-dirs.js';

const run = runCli;

t.test('a second registry on a held port refuses to start; the first keeps every request', async (t) => {
  const d = await tempDir();
  const first = await spawnRegistry({ NORA_STORAGE_PATH: join(d, 'a') }, d);
  t.teardown(() => first.stop());
  execFileSync('htpasswd', ['-Bbc', join(d, 'users.htpasswd'), 'admin', 'pw'], { stdio: 'ignore' });
  // The case: an auth-on registry started over an auth-off one.
  const second = await run(
    { NORA_PORT: String(first.port), NORA_STORAGE_PATH: join(d, 'b'), NORA_AUTH_ENABLED: 'true', NORA_AUTH_HTPASSWD_FILE: join(d, 'users.htpasswd'), NORA_AUTH_TOKEN_STORAGE: join(d, 'tokens') },
    d,
  );
  t.equal(second.status, 3, 'exit 3: cannot start');
  t.equal(second.stderr, `nora: cannot start: port ${first.port} is in use (server.port / NORA_PORT): another program listens on 127.0.0.1:${first.port}\n`);
  t.notMatch(second.stdout, /listening/);
  const statuses = [];
  for (let i = 0; i < 10; i++) statuses.push((await fetch(`${first.url}/v2/_catalog`)).status);
  t.same(statuses, Array(10).fill(200), 'all ten answered by the first (auth-off) registry');
});

t.test('a port another program holds, an address not on this machine: the reason, exit 3', async (t) => {
  const d = await tempDir();
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.teardown(() => holder.close());
  const port = (holder.address() as net.AddressInfo).port;
  const held = await run({ NORA_PORT: String(port), NORA_STORAGE_PATH: join(d, 's') }, d);
  t.equal(held.status, 3);
  t.match(held.stderr, new RegExp(`^nora: cannot start: port ${port} is in use \\(server\\.port / NORA_PORT\\)`));

  // 192.0.2.1 is TEST-NET-1 (RFC 5737): never assigned to a host.
  const away = await run({ NORA_HOST: '192.0.2.1', NORA_PORT: String(await freePort()), NORA_STORAGE_PATH: join(d, 's') }, d);
  t.equal(away.status, 3);
  t.match(away.stderr, /^nora: cannot start: cannot listen on 192\.0\.2\.1:\d+: 192\.0\.2\.1 is not an address of this machine \(server\.host \/ NORA_HOST\)\n$/);
});

t.test('a misspelled NORA_* variable is refused with the nearest known name, exit 2', async (t) => {
  const d = await tempDir();
  const typo = await run({ NORA_PORT: String(await freePort()), NORA_STORAGE_PATH: join(d, 's'), NORA_AUTH_ENABLE: 'true' }, d);
  t.equal(typo.status, 2);
  t.equal(typo.stderr, 'nora: config: NORA_AUTH_ENABLE: unknown environment variable (did you mean NORA_AUTH_ENABLED?)\n');
  t.notMatch(typo.stdout, /listening/, 'never started with auth off');
  // NORA's own drift (spec §12): the documented file name is not what NORA reads.
  const drift = await run({ NORA_CURATION_BLOCKLIST_FILE: 'x.json' }, d, ['config']);
  t.equal(drift.status, 2);
  t.match(drift.stderr, /did you mean NORA_CURATION_BLOCKLIST_PATH\?/);
});

t.test('NORA settings nora-ts does not implement start with a warning; test switches and client-side names silently', async (t) => {
  const d = await tempDir();
  // NORA_TOKEN: the shell that exported it for the README's .npmrc line also runs the registry.
  const env = { NORA_STORAGE_PATH: join(d, 's'), NORA_SIGNING_ENABLED: 'false', NORA_GO_PROXY: 'https://proxy.golang.org', NORA_SOAK: '1', NORA_TOKEN: 'nra_00000000000000000000000000000000' };
  const child = await spawnRegistry(env, d);
  t.teardown(() => child.stop());
  t.equal((await fetch(`${child.url}/v2/`)).status, 200);
  await new Promise((r) => setTimeout(r, 100));
  const warned = child.output().split('\n').filter((l) => l.includes('does not implement'));
  t.equal(warned.length, 2, 'one warning per unimplemented NORA variable');
  t.match(child.output(), /"variable":"NORA_SIGNING_ENABLED"/);
  t.match(child.output(), /"variable":"NORA_GO_PROXY"/);
  t.notMatch(child.output(), /NORA_SOAK|NORA_TOKEN|nra_/);
  const cfg = await run({ NORA_SIGNING_ENABLED: 'false' }, d, ['config']);
  t.equal(cfg.status, 0, cfg.stderr);
  t.match(cfg.stdout, /# ignored: NORA_SIGNING_ENABLED \(a NORA setting nora-ts does not implement\)/);
});

t.test('a TOML error names the file, line and column, exit 2', async (t) => {
  const d = await tempDir();
  await writeFile(join(d, 'config.toml'), '[auth]\nenabled = yes\n');
  const r = await run({ NORA_PORT: '1' }, d);
  t.equal(r.status, 2);
  t.equal(r.stderr, 'nora: config: config.toml:2:11: invalid TOML: invalid value\n');
  await writeFile(join(d, 'other.toml'), '[server]\nport = 40 00\n');
  const named = await run({ NORA_PORT: '1', NORA_CONFIG_PATH: join(d, 'other.toml') }, d);
  t.equal(named.status, 2);
  t.match(named.stderr, new RegExp(`^nora: config: ${join(d, 'other.toml').replace(/[.]/g, '\\.')}:2:11: invalid TOML: `));
});

t.test('an unusable storage directory names storage.path and the path, fails fast, exit 3', async (t) => {
  const d = await tempDir();
  await writeFile(join(d, 'a-file'), '');
  const cases: [string, RegExp][] = [[join(d, 'a-file', 'storage'), /ENOTDIR/]];
  // procfs answers ENOENT to any mkdir: Node's recursive mkdir then loops forever (the hang).
  if (existsSync('/proc/self')) cases.push(['/proc/nora', /\/proc exists but cannot hold new directories/]);
  for (const [path, why] of cases) {
    const r = await run({ NORA_PORT: String(await freePort()), NORA_STORAGE_PATH: path }, d);
    t.equal(r.status, 3, `${path}: exit 3 after ${r.ms} ms (a hang is killed at 15 s)`);
    t.match(r.stderr, `nora: cannot start: storage directory ${path} cannot be used (`);
    t.match(r.stderr, /; set storage\.path \/ NORA_STORAGE_PATH\n$/);
    t.match(r.stderr, why);
  }
  if (existsSync('/proc/self')) {
    execFileSync('htpasswd', ['-Bbc', join(d, 'users.htpasswd'), 'admin', 'pw'], { stdio: 'ignore' });
    const tokens = await run(
      { NORA_PORT: String(await freePort()), NORA_STORAGE_PATH: join(d, 's'), NORA_AUTH_ENABLED: 'true', NORA_AUTH_HTPASSWD_FILE: join(d, 'users.htpasswd'), NORA_AUTH_TOKEN_STORAGE: '/proc/nora-tokens' },
      d,
    );
    t.equal(tokens.status, 3, 'token directory on procfs: exit 3');
    t.match(tokens.stderr, /token directory \/proc\/nora-tokens cannot be used .*auth\.token_storage \/ NORA_AUTH_TOKEN_STORAGE/);
  }
});

t.test('makeDirs ends where mkdir -p would loop: a dangling symlink parent', async (t) => {
  const d = await tempDir();
  await symlink(join(d, 'gone'), join(d, 'dangling'));
  await t.rejects(makeDirs(join(d, 'dangling', 'a', 'b')), { code: 'ENOENT' });
  await makeDirs(join(d, 'x', 'y', 'z'));
  await makeDirs(join(d, 'x', 'y', 'z'));
  await mkdir(join(d, 'x', 'y', 'z', 'w'));
  t.pass('creates nested directories and accepts existing ones');
});

t.test('/ready says what is not ready', async (t) => {
  const d = await tempDir();
  const storage = join(d, 'storage');
  const child = await spawnRegistry({ NORA_STORAGE_PATH: storage }, d);
  t.teardown(() => child.stop());
  let res = await fetch(`${child.url}/ready`);
  t.equal(res.status, 200);
  t.same(await res.json(), { status: 'ready', storage: 'writable', auth_workers: 'off', redis: 'off' });
  // The registry's temp directory replaced by a file: nothing can be written any more.
  await rm(join(storage, 'tmp'), { recursive: true });
  await writeFile(join(storage, 'tmp'), '');
  res = await fetch(`${child.url}/ready`);
  t.equal(res.status, 503);
  t.same(await res.json(), { status: 'not ready', storage: 'not writable', auth_workers: 'off', redis: 'off' });

  execFileSync('htpasswd', ['-Bbc', join(d, 'users.htpasswd'), 'admin', 'pw'], { stdio: 'ignore' });
  const authed = await spawnRegistry({ NORA_STORAGE_PATH: join(d, 's2'), NORA_AUTH_ENABLED: 'true', NORA_AUTH_HTPASSWD_FILE: join(d, 'users.htpasswd'), NORA_AUTH_TOKEN_STORAGE: join(d, 'tokens') }, d);
  t.teardown(() => authed.stop());
  t.same(await (await fetch(`${authed.url}/ready`)).json(), { status: 'ready', storage: 'writable', auth_workers: 'ready', redis: 'off' });
});
