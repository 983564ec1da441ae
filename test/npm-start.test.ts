// `npm start` as the README runs it (issue 16, item 9): with nothing changed
// since the last build it must not recompile (it took 7.9 s to the first
// /health, the server itself 0.23 s). tsc -b keeps dist/.tsbuildinfo and
// skips the compiler when no input is newer.
import t from 'tap';
import { spawn, execFileSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, ROOT, freePort, tempDir } from './helpers/registry.js';

t.test('npm start with an up-to-date dist/ starts without rewriting it', async (t) => {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-b'], { cwd: ROOT }); // as pretest leaves it
  const buildInfo = join(ROOT, 'dist', '.tsbuildinfo');
  const before = [(await stat(buildInfo)).mtimeMs, (await stat(CLI)).mtimeMs];

  const d = await tempDir();
  const port = await freePort();
  const started = performance.now();
  const npm = spawn('npm', ['start'], {
    cwd: ROOT,
    detached: true, // its own process group: npm, sh and node stop together
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NORA_PORT: String(port), NORA_STORAGE_PATH: join(d, 'storage'), NORA_LOG_LEVEL: 'warn', npm_config_update_notifier: 'false' },
  });
  let out = '';
  npm.stdout!.on('data', (b) => (out += b));
  npm.stderr!.on('data', (b) => (out += b));
  const exited = new Promise((resolve) => npm.once('exit', resolve));
  t.teardown(async () => {
    if (npm.exitCode === null) process.kill(-npm.pid!, 'SIGTERM');
    await exited;
  });
  for (;;) {
    if (npm.exitCode !== null) return t.fail(`npm start exited ${npm.exitCode}: ${out}`);
    const res = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
    if (res?.ok) break;
    if (performance.now() - started > 60_000) return t.fail(`no /health within 60 s: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  t.comment(`npm start → first /health: ${Math.round(performance.now() - started)} ms`);
  t.same([(await stat(buildInfo)).mtimeMs, (await stat(CLI)).mtimeMs], before, 'nothing recompiled: dist/ untouched');
});
