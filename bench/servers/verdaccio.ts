// Verdaccio 6.8.0 as the npm peer, installed apart from nora-ts under
// bench/peers/verdaccio (`npm ci --prefix bench/peers/verdaccio`): its own
// htpasswd file in a fresh temp dir (users are created over its API, so no
// bcrypt-format question arises), no uplinks (offline), no web UI, logging at
// warn (nora-ts runs with access logs off too).
import { access, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnUntilReady } from './process.js';
import { ROOT } from './nora.js';
import type { RunningServer, StartOptions } from './types.js';

/** Verdaccio's entry point in the checkout at `root` (the bench runs from dist/, the tests from the sources). */
export function verdaccioBin(root = ROOT): string {
  return join(root, 'bench', 'peers', 'verdaccio', 'node_modules', 'verdaccio', 'bin', 'verdaccio');
}
const VERDACCIO_BIN = verdaccioBin();

/** null when Verdaccio is installed, else how to install it. */
export async function verdaccioMissing(bin = VERDACCIO_BIN): Promise<string | null> {
  try {
    await access(bin);
    return null;
  } catch {
    return 'Verdaccio is not installed: run `npm ci --prefix bench/peers/verdaccio`';
  }
}

function configYaml(dir: string, port: number): string {
  return [
    `storage: ${JSON.stringify(join(dir, 'storage'))}`,
    'auth:',
    `  htpasswd: { file: ${JSON.stringify(join(dir, 'htpasswd'))}, max_users: 100, algorithm: bcrypt, rounds: 5 }`,
    'uplinks: {}',
    'packages:',
    "  '@*/*': { access: $authenticated, publish: $authenticated, unpublish: $authenticated }",
    "  '**': { access: $authenticated, publish: $authenticated, unpublish: $authenticated }",
    'max_body_size: 100mb',
    `listen: 127.0.0.1:${port}`,
    'log: { type: stdout, format: pretty, level: warn }',
    'web: { enable: false }',
  ].join('\n') + '\n';
}

export async function startVerdaccio(opts: StartOptions): Promise<RunningServer> {
  const missing = await verdaccioMissing();
  if (missing) throw new Error(missing);
  const dir = await mkdtemp(join(tmpdir(), 'verdaccio-bench-'));
  const port = await freePort();
  const config = join(dir, 'config.yaml');
  await writeFile(config, configYaml(dir, port));
  const url = `http://127.0.0.1:${port}`;
  const s = await spawnUntilReady({
    cmd: process.execPath,
    args: [VERDACCIO_BIN, '--config', config],
    env: process.env,
    cwd: dir,
    readyUrl: `${url}/-/ping`,
    dataDir: dir,
  });
  void opts; // every Verdaccio scenario authenticates with a token made at seed time
  return {
    name: 'verdaccio',
    url,
    pid: s.child.pid!,
    startupMs: s.startupMs,
    readyPath: '/-/ping',
    probePath: '/-/ping',
    npmPath: '',
    stop: s.stop,
    output: s.output,
  };
}
