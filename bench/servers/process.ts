// Starts a server as a child process on a free 127.0.0.1 port, times it from
// spawn() to its first 200, and stops it (SIGTERM, then SIGKILL) when asked.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFile, rm } from 'node:fs/promises';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no free port'))));
    });
  });
}

/** One GET on a fresh connection (https trusting `ca`); resolves with the status, rejects on connection errors. */
export function getStatus(url: string, headers: Record<string, string> = {}, timeoutMs = 2000, ca?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : request;
    const req = send(url, { method: 'GET', headers, agent: false, timeout: timeoutMs, ...(ca ? { ca } : {}) }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export interface Spawned {
  child: ChildProcess;
  startupMs: number;
  output(): string;
  stop(): Promise<void>;
}

const OUTPUT_KEEP = 8192;

/** stop functions of every server still running, for Ctrl-C */
export const live = new Set<() => Promise<void>>();

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((stop) => stop()));
}

// A server that cannot start says so quickly (it exits); a busy machine may take a long time to start one.
const START_TIMEOUT_MS = 60_000;

export async function spawnUntilReady(opts: {
  cmd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  readyUrl: string;
  readyHeaders?: Record<string, string>;
  dataDir: string;
  timeoutMs?: number;
  /** CA (PEM file) to trust when readyUrl is https */
  ca?: string;
}): Promise<Spawned> {
  const t0 = performance.now();
  const child = spawn(opts.cmd, opts.args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer) => {
    out += b.toString();
    if (out.length > OUTPUT_KEEP) out = out.slice(-OUTPUT_KEEP);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let spawnError: Error | null = null;
  child.on('error', (e) => (spawnError = e));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  const stop = async () => {
    live.delete(stop);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killed = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))]);
      if (!killed) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    await rm(opts.dataDir, { recursive: true, force: true });
  };

  live.add(stop);
  const ca = opts.ca ? await readFile(opts.ca) : undefined;
  const deadline = t0 + (opts.timeoutMs ?? START_TIMEOUT_MS);
  for (;;) {
    if (spawnError) {
      await stop();
      throw spawnError;
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`exited with ${child.exitCode ?? child.signalCode} before serving: ${lastLines(out)}`);
    }
    try {
      const status = await getStatus(opts.readyUrl, opts.readyHeaders, 1000, ca);
      if (status === 200) break;
      if (status !== 0 && performance.now() > deadline) {
        await stop();
        throw new Error(`readiness GET answered ${status}: ${lastLines(out)}`);
      }
    } catch {
      /* not listening yet */
    }
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`not ready after ${opts.timeoutMs ?? START_TIMEOUT_MS} ms: ${lastLines(out)}`);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  const startupMs = performance.now() - t0;
  return { child, startupMs, output: () => out, stop };
}

/** The last meaningful lines of a server's output (stack frames dropped). */
export function lastLines(text: string, n = 3): string {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.trim() && !/^\s+at /.test(l));
  return lines.slice(-n).join(' | ').slice(0, 600) || '(no output)';
}
