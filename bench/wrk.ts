// Runs wrk with bench/lua/get.lua and parses the JSON line its done() prints.
import { join } from 'node:path';
import { exec } from './exec.js';

export const LUA_DIR = join(import.meta.dirname, '..', '..', 'bench', 'lua');

export interface WrkOptions {
  url: string;
  connections: number;
  threads: number;
  durationS: number;
  headers: Record<string, string>;
  timeoutS?: number;
}

export interface WrkResult {
  requests: number;
  durationS: number;
  bytes: number;
  rps: number;
  bytesPerS: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
}

export function wrkArgs(o: WrkOptions): string[] {
  return [
    `-t${o.threads}`,
    `-c${o.connections}`,
    `-d${o.durationS}s`,
    `--timeout`,
    `${o.timeoutS ?? 10}s`,
    '-s',
    join(LUA_DIR, 'get.lua'),
    o.url,
  ];
}

export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const headers = Object.entries(o.headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
  const r = await exec('wrk', wrkArgs(o), {
    env: { ...process.env, BENCH_HEADERS: headers },
    timeoutMs: (o.durationS + 60) * 1000,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (r.code !== 0 || !line) throw new Error(`wrk failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-300)}`);
  const j = JSON.parse(line.slice('BENCH_RESULT '.length)) as Record<string, number>;
  const durationS = j.duration_us! / 1e6;
  return {
    requests: j.requests!,
    durationS,
    bytes: j.bytes!,
    rps: j.requests! / durationS,
    bytesPerS: j.bytes! / durationS,
    p50Ms: j.p50_us! / 1000,
    p90Ms: j.p90_us! / 1000,
    p99Ms: j.p99_us! / 1000,
    maxMs: j.max_us! / 1000,
    errors: { connect: j.err_connect!, read: j.err_read!, write: j.err_write!, status: j.err_status!, timeout: j.err_timeout! },
  };
}

/** A measurement that includes failed requests would flatter a server that fails fast. */
export function assertClean(r: WrkResult, what: string, opts: { allowNoneCompleted?: boolean } = {}): void {
  const e = r.errors;
  const bad = e.connect + e.read + e.write + e.status + e.timeout;
  // wrk counts bytes as they arrive, so throughput is right even if no download finished yet
  if (r.requests === 0 && !(opts.allowNoneCompleted && r.bytes > 0)) throw new Error(`${what}: no request completed`);
  // a few socket errors at the very end of a run are wrk closing connections mid-response
  if (e.status > 0 || bad > Math.max(5, r.requests * 0.001)) {
    throw new Error(
      `${what}: ${bad} failed of ${r.requests} (status ${e.status}, connect ${e.connect}, read ${e.read}, write ${e.write}, timeout ${e.timeout})`,
    );
  }
}
