// Crash safety of the token store: SIGKILL the server while tokens are being
// created; after a restart every token file parses and every token the server
// acknowledged still works. Also: no secret ever reaches the process output.
import t from 'tap';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { api, basic, bearer, get, makeHtpasswd } from './helpers/auth.js';
import { spawnRegistry, tempDir, type Child } from './helpers/registry.js';

t.test('SIGKILL while creating tokens loses nothing acknowledged and tears no file', async (t) => {
  const dir = await tempDir();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const htpasswd = await makeHtpasswd(dir, { alice: 'alice-secret-pw' });
  const tokens = join(dir, 'tokens');
  const env = {
    NORA_AUTH_ENABLED: 'true',
    NORA_AUTH_HTPASSWD_FILE: htpasswd,
    NORA_AUTH_TOKEN_STORAGE: tokens,
    NORA_STORAGE_PATH: join(dir, 'storage'),
    NORA_AUTH_HASH_WORKERS: '2',
  };
  let child: Child | null = await spawnRegistry(env, dir);
  t.teardown(() => child?.stop('SIGKILL'));
  const first = child;

  const acknowledged: string[] = [];
  let killed = false;
  const loop = async (n: number) => {
    for (let i = 0; !killed; i++) {
      try {
        const r = await api(first.url, '/api/tokens', { username: 'alice', password: 'alice-secret-pw', role: 'write', description: `loop ${n} #${i}` });
        if (r.status === 200) {
          acknowledged.push(r.body.token);
          // use it at once so last_used updates are pending at the kill
          await get(`${first.url}/v2/`, bearer(r.body.token));
        }
      } catch {
        return; // the server is gone
      }
    }
  };
  const loops = [loop(1), loop(2), loop(3), loop(4)];
  while (acknowledged.length < 16) await new Promise((r) => setTimeout(r, 10));
  killed = true;
  await first.stop('SIGKILL');
  await Promise.all(loops);
  const firstOutput = first.output();
  t.ok(acknowledged.length >= 16, `${acknowledged.length} tokens acknowledged before the kill`);

  child = await spawnRegistry(env, dir);
  const names = await readdir(tokens);
  t.notOk(names.some((n) => n.endsWith('.tmp')), 'no temp file left after restart');
  const files = names.filter((n) => n.endsWith('.json'));
  t.ok(files.length >= acknowledged.length, `${files.length} token files for ${acknowledged.length} acknowledged tokens`);
  let parsed = 0;
  for (const f of files) {
    const rec = JSON.parse(await readFile(join(tokens, f), 'utf8'));
    if (typeof rec.token_hash === 'string' && rec.token_hash.startsWith('$argon2id$') && rec.user === 'alice') parsed++;
  }
  t.equal(parsed, files.length, 'every token file parses');
  const statuses = await Promise.all(acknowledged.map(async (tok) => (await get(`${child!.url}/v2/`, bearer(tok))).status));
  t.same([...new Set(statuses)], [200], 'every acknowledged token works after the restart');

  // failures of every kind, then check the whole output of both runs for secrets
  await get(`${child.url}/v2/`, basic('alice', 'wrong-password-xyz'));
  await get(`${child.url}/v2/`, bearer('nra_' + 'f'.repeat(32)));
  await api(child.url, '/api/tokens', { username: 'alice', password: 'wrong-password-xyz' });
  await child.stop('SIGTERM');
  const out = firstOutput + child.output();
  child = null;
  t.match(out, /"event":"auth_failure"/, 'failures were logged');
  const hashes = (await readFile(htpasswd, 'utf8')).split('\n').filter(Boolean).map((l) => l.split(':')[1]!);
  const leaked = ['alice-secret-pw', 'wrong-password-xyz', 'nra_' + 'f'.repeat(32), '$argon2', ...hashes, ...acknowledged].filter((s) => out.includes(s));
  t.same(leaked, [], 'no password, token or hash in the output');
});
