// nora-ts under test, started with the command of `npm start` (the Dockerfile's
// CMD too: same node flags), configured only through NORA_* environment
// variables, data in a fresh temp dir, access logs off.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnUntilReady } from './process.js';
import { basicAuth, type RunningServer, type StartOptions } from './types.js';

export const ROOT = join(import.meta.dirname, '..', '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'main', 'cli.js');

/** `npm start`'s node arguments, with the CLI path made absolute (the server runs in a temp dir). */
async function startArgs(): Promise<string[]> {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [node, ...args] = pkg.scripts.start.split(' ');
  if (node !== 'node') throw new Error(`package.json start script does not run node: ${pkg.scripts.start}`);
  return args.map((a) => (a.endsWith('cli.js') ? join(ROOT, a) : a));
}

export async function startNora(opts: StartOptions): Promise<RunningServer> {
  const dir = await mkdtemp(join(tmpdir(), 'nora-bench-'));
  const port = await freePort();
  // Only our settings: no NORA_* from the caller's shell, no config.toml (cwd is the temp dir).
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NORA_') && k !== 'NODE_OPTIONS') env[k] = v;
  Object.assign(env, {
    NORA_HOST: '127.0.0.1',
    NORA_PORT: String(port),
    NORA_STORAGE_PATH: join(dir, 'storage'),
    NORA_LOG_LEVEL: 'warn',
    NORA_AUTH_ENABLED: String(opts.auth),
    NORA_AUTH_HTPASSWD_FILE: opts.creds.htpasswd,
    NORA_AUTH_TOKEN_STORAGE: join(dir, 'tokens'),
    // distribution has no request-rate limiter; measure capacity, not a throttle
    NORA_RATE_LIMIT_ENABLED: 'false',
  });
  // BENCH_RATE_LIMIT=on: the limiter runs (every request takes a token) with limits far above the load, to measure its cost.
  if (process.env.BENCH_RATE_LIMIT === 'on') {
    Object.assign(env, { NORA_RATE_LIMIT_ENABLED: 'true', NORA_RATE_LIMIT_GENERAL_RPS: '1000000', NORA_RATE_LIMIT_GENERAL_BURST: '1000000', NORA_RATE_LIMIT_UPLOAD_RPS: '1000000', NORA_RATE_LIMIT_UPLOAD_BURST: '1000000' });
  }
  if (opts.proxyUpstream) env.NORA_DOCKER_PROXIES = opts.proxyUpstream;
  if (opts.s3) {
    Object.assign(env, {
      NORA_STORAGE_MODE: 's3',
      NORA_STORAGE_S3_URL: opts.s3.url,
      NORA_STORAGE_BUCKET: opts.s3.bucket,
      NORA_STORAGE_S3_ACCESS_KEY: opts.s3.accessKey,
      NORA_STORAGE_S3_SECRET_KEY: opts.s3.secretKey,
      NORA_STORAGE_S3_REGION: opts.s3.region,
      NORA_STORAGE_S3_REDIRECT: String(opts.s3.redirect === true),
    });
  }
  if (opts.tls) Object.assign(env, { NORA_TLS_CERT: opts.tls.cert, NORA_TLS_KEY: opts.tls.key });
  const args = [...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : []), ...(await startArgs())];
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const s = await spawnUntilReady({ cmd: process.execPath, args, env, cwd: dir, readyUrl: `${url}/health`, dataDir: dir, ca: opts.tls?.ca });
  return {
    name: 'nora-ts',
    url,
    pid: s.child.pid!,
    startupMs: s.startupMs,
    auth: opts.auth ? basicAuth(opts.creds.user, opts.creds.password) : undefined,
    readyPath: '/health',
    probePath: '/health',
    npmPath: '/npm',
    stop: s.stop,
    output: s.output,
  };
}
