// Verdaccio 6.8.0 (the bench's npm peer, bench/peers/verdaccio) as a real
// upstream registry for the npm pull-through tests: offline (no uplinks),
// reads only for logged-in users, so the proxy's credentials are exercised.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnUntilReady } from '../../bench/servers/process.js';
import { createNpmUser } from '../../bench/npm-client.js';
import { verdaccioBin, verdaccioMissing as benchVerdaccioMissing } from '../../bench/servers/verdaccio.js';
import { ROOT } from './registry.js';

const BIN = verdaccioBin(ROOT);

/** null when Verdaccio is installed, else how to install it. */
export const verdaccioMissing = () => benchVerdaccioMissing(BIN);

export interface Verdaccio {
  url: string;
  /** a Verdaccio user's token (npm publish) and password (Basic auth) */
  token: string;
  user: string;
  password: string;
  stop(): Promise<void>;
}

export async function startVerdaccio(): Promise<Verdaccio> {
  const dir = await mkdtemp(join(tmpdir(), 'verdaccio-upstream-'));
  const port = await freePort();
  const config = join(dir, 'config.yaml');
  await writeFile(
    config,
    [
      `storage: ${JSON.stringify(join(dir, 'storage'))}`,
      `auth: { htpasswd: { file: ${JSON.stringify(join(dir, 'htpasswd'))}, max_users: 10, algorithm: bcrypt, rounds: 4 } }`,
      'uplinks: {}',
      'packages:',
      "  '@*/*': { access: $authenticated, publish: $authenticated, unpublish: $authenticated }",
      "  '**': { access: $authenticated, publish: $authenticated, unpublish: $authenticated }",
      `listen: 127.0.0.1:${port}`,
      'log: { type: stdout, format: pretty, level: warn }',
      'web: { enable: false }',
    ].join('\n') + '\n',
  );
  const url = `http://127.0.0.1:${port}`;
  const s = await spawnUntilReady({ cmd: process.execPath, args: [BIN, '--config', config], env: process.env, cwd: dir, readyUrl: `${url}/-/ping`, dataDir: dir });
  const user = 'upstream';
  const password = 'upstream-pass-1';
  const token = await createNpmUser(url, user, password);
  return {
    url,
    token,
    user,
    password,
    async stop() {
      await s.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
