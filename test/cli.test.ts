import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, ROOT, spawnRegistry, tempDir } from './helpers/registry.js';

const run = (args: string[], env: Record<string, string> = {}, cwd = ROOT) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });

t.test('--help and --version', async (t) => {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const v = run(['--version']);
  t.equal(v.status, 0);
  t.equal(v.stdout.trim(), `nora ${pkg.version}`);
  const h = run(['--help']);
  t.equal(h.status, 0);
  t.match(h.stdout, /serve/);
  t.match(h.stdout, /config/);
  const bad = run(['frobnicate']);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /unknown command "frobnicate"/);
});

t.test('nora config prints the effective configuration', async (t) => {
  const d = await tempDir();
  await writeFile(join(d, 'config.toml'), '[server]\nport = 4321\n');
  const r = run(['config'], { NORA_AUTH_ENABLED: 'true' }, d);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /port = 4321/);
  t.match(r.stdout, /\[auth\]\nenabled = true/);
});

t.test('an invalid configuration stops start-up with one line and exit code 2', async (t) => {
  const d = await tempDir();
  const cases: [string, Record<string, string>, RegExp][] = [
    ['[server]\nport = "x"\n', {}, /^nora: config: server\.port: expected an integer, got "x"\n$/],
    ['[server]\nbogus = 1\n', {}, /^nora: config: server\.bogus: unknown key \(did you mean server\.\w+\?\)\n$/],
    ['[auth]\nenable = true\n', {}, /^nora: config: auth\.enable: unknown key \(did you mean auth\.enabled\?\)\n$/],
    ['[server\n', {}, /^nora: config: config\.toml:1:8: invalid TOML: /],
    ['', { NORA_AUTH_ENABLED: 'maybe' }, /^nora: config: NORA_AUTH_ENABLED: expected true or false, got "maybe"\n$/],
    ['', { NORA_STORAGE_MODE: 's4' }, /^nora: config: NORA_STORAGE_MODE: expected one of local/],
  ];
  for (const [toml, env, re] of cases) {
    await writeFile(join(d, 'config.toml'), toml);
    const r = run(['serve'], { NORA_PORT: '1', ...env }, d);
    t.equal(r.status, 2, `exit 2 for ${JSON.stringify(toml || env)}`);
    t.match(r.stderr, re);
  }
});

t.test('serve: starts, answers, and exits 0 on SIGTERM', async (t) => {
  const d = await tempDir();
  const child = await spawnRegistry({ NORA_STORAGE_PATH: join(d, 'storage') }, d);
  const res = await fetch(`${child.url}/v2/`);
  t.equal(res.status, 200);
  const hc = run(['healthcheck'], { NORA_PORT: String(child.port) }, d);
  t.equal(hc.status, 0, 'healthcheck passes against a running server');
  const code = await child.stop('SIGTERM');
  t.equal(code, 0);
  t.match(child.output(), /"msg":"stopped"/);
  const dead = run(['healthcheck'], { NORA_PORT: String(child.port) }, d);
  t.equal(dead.status, 1, 'healthcheck fails when nothing listens');
});
