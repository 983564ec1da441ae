// Runs the CNCF distribution registry (Debian's docker-registry) as a peer on loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './registry.js';

export interface Peer {
  url: string;
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts docker-registry with filesystem storage in `dir`; htpasswd auth when a
 * file is given; `extra` is appended to the YAML (an auth.token section, a
 * proxy section).
 */
export async function startDistribution(dir: string, htpasswd?: string, extra = ''): Promise<Peer> {
  const port = await freePort();
  await mkdir(join(dir, 'data'), { recursive: true });
  const auth = (htpasswd ? `auth:\n  htpasswd:\n    realm: basic-realm\n    path: ${htpasswd}\n` : '') + extra;
  const config = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:${port}
  secret: local-test-secret
${auth}`;
  const file = join(dir, 'config.yml');
  await writeFile(file, config);
  const proc = spawn('docker-registry', ['serve', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (b) => (err += b));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited: ${err}`);
    try {
      const r = await fetch(`${url}/v2/`);
      if (r.status === 200 || r.status === 401) break;
    } catch {
      /* starting */
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url,
    port,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
