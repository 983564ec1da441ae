// Helpers for the auth tests: htpasswd files made by the real `htpasswd -B`,
// registries with auth on, credential headers and token API calls.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { startRegistry, tempDir, type Running } from './registry.js';
import type { Config } from '../../src/main/config.js';
import { setLogSink } from '../../src/main/log.js';

const exec = promisify(execFile);

/** Writes `users` into an htpasswd file with `htpasswd -B -b` (first user with -c). */
export async function makeHtpasswd(dir: string, users: Record<string, string>, cost = 5): Promise<string> {
  const file = join(dir, 'users.htpasswd');
  let first = true;
  for (const [user, pw] of Object.entries(users)) {
    await exec('htpasswd', [first ? '-Bbc' : '-Bb', '-C', String(cost), file, user, pw]);
    first = false;
  }
  return file;
}

export async function setUser(file: string, user: string, pw: string, cost = 5): Promise<void> {
  await exec('htpasswd', ['-Bb', '-C', String(cost), file, user, pw]);
}

export async function deleteUser(file: string, user: string): Promise<void> {
  await exec('htpasswd', ['-D', file, user]);
}

export const USERS = { admin: 'admin-pw', alice: 'alice-pw', bob: 'bob-pw' } as const;

export interface AuthRegistry extends Running {
  htpasswd: string;
  logs: string[];
}

/** A registry with auth on, users admin/alice/bob (admin in admin_users) unless overridden; `packages` sets npm/pypi (their upstreams) or storage. */
export async function startAuthRegistry(
  auth: Partial<Config['auth']> = {},
  users: Record<string, string> = USERS,
  docker: Partial<Config['docker']> = {},
  packages: Partial<Pick<Config, 'npm' | 'pypi'>> & { storage?: Partial<Config['storage']> } = {},
): Promise<AuthRegistry> {
  const dir = await tempDir('nora-auth-');
  const htpasswd = await makeHtpasswd(dir, users);
  const logs: string[] = [];
  setLogSink((l) => logs.push(l));
  const r = await startRegistry(
    {
      ...packages,
      auth: { enabled: true, htpasswd_file: htpasswd, admin_users: ['admin'], hash_workers: 2, ...auth },
      log: { level: 'info' },
      docker,
    },
    dir,
  );
  const close = r.close.bind(r);
  return Object.assign(r, {
    htpasswd,
    logs,
    async close() {
      await close();
      await rm(dir, { recursive: true, force: true });
    },
  });
}

export function basic(user: string, pw: string): string {
  return 'Basic ' + Buffer.from(`${user}:${pw}`).toString('base64');
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}

export async function api(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Mints a token through the public API; throws unless it succeeds. */
export async function mint(url: string, user: string, pw: string, role: 'read' | 'write' | 'admin', ttl_days = 30): Promise<string> {
  const r = await api(url, '/api/tokens', { username: user, password: pw, role, ttl_days, description: `${role} token` });
  if (r.status !== 200) throw new Error(`mint ${role} failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token as string;
}

export async function get(url: string, auth?: string, method = 'GET', headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(url, { method, headers: { ...(auth ? { authorization: auth } : {}), ...headers } });
  await res.arrayBuffer();
  return res;
}

/** Sum of a metric's samples (optionally those whose labels contain `labels`) from /metrics. */
export async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels && !rest.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** `docker login` (the CLI, no engine) with the password on stdin, credentials kept in configDir. */
export async function dockerLogin(configDir: string, host: string, user: string, password: string): Promise<{ code: number | null; out: string }> {
  const child = spawn('docker', ['login', host, '-u', user, '--password-stdin'], {
    env: { ...process.env, DOCKER_CONFIG: configDir },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (out += b));
  child.stdin.end(password + '\n');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, out };
}

export { tempDir };
