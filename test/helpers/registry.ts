// Starts real nora-ts registries for tests: in this process (fast) or as a
// child process (for CLI, signal and crash tests). Real HTTP on 127.0.0.1.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { buildConfig, type Config } from '../../src/main/config.js';
import { createRegistry, type Registry } from '../../src/main/app.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'main', 'cli.js');

export interface Running {
  url: string;
  port: number;
  dir: string;
  registry: Registry;
  config: Config;
  close(): Promise<void>;
}

export async function tempDir(prefix = 'nora-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

/** An in-process registry on a random port with its own temp data dir. */
export async function startRegistry(overrides: DeepPartial<Config> = {}, dir?: string): Promise<Running> {
  const d = dir ?? (await tempDir());
  const config = buildConfig(null, {});
  config.server.port = 0;
  config.storage.path = join(d, 'storage');
  config.auth.token_storage = join(d, 'tokens');
  config.log.level = 'warn';
  for (const [section, values] of Object.entries(overrides)) {
    Object.assign((config as unknown as Record<string, object>)[section]!, values);
  }
  const registry = await createRegistry(config);
  const url = `http://127.0.0.1:${registry.port}`;
  return {
    url,
    port: registry.port,
    dir: d,
    registry,
    config,
    async close() {
      await registry.close(2000);
      if (!dir) await rm(d, { recursive: true, force: true });
    },
  };
}

export interface Child {
  proc: ChildProcess;
  url: string;
  port: number;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** Runs `node dist/src/main/cli.js serve` with the given env; resolves once /ready answers 200 (the port opens earlier; a loaded CI machine may take many seconds). */
export async function spawnRegistry(env: Record<string, string>, cwd: string, readyWithinMs = 30_000): Promise<Child> {
  const port = Number(env.NORA_PORT ?? (await freePort()));
  const proc = spawn(process.execPath, [CLI, 'serve'], {
    cwd,
    env: { ...process.env, NORA_PORT: String(port), NORA_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (b) => (out += b));
  proc.stderr!.on('data', (b) => (out += b));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyWithinMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`registry exited ${proc.exitCode}: ${out}`);
    try {
      const r = await fetch(`${url}/ready`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`registry did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    proc,
    url,
    port,
    output: () => out,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      return new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill(signal);
      });
    },
  };
}

export interface CliRun {
  status: number | null;
  stderr: string;
  stdout: string;
  ms: number;
}

/** Runs `nora serve` (or another command) to its exit; a process still running after 15 s counts as a hang (status null). */
export function runCli(env: Record<string, string>, cwd: string, args = ['serve']): Promise<CliRun> {
  const started = Date.now();
  const proc = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, NORA_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (b) => (stdout += b));
  proc.stderr.on('data', (b) => (stderr += b));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  return new Promise((resolve) =>
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ status: code, stdout, stderr, ms: Date.now() - started });
    }),
  );
}
