// Runs hey, for a burst of N requests over N connections or for a duration,
// and reads its CSV output (one line per request: latency, status and start offset).
import { exec } from './exec.js';

export interface Burst {
  /** seconds from hey's start until the last response arrived */
  allAnsweredS: number;
  latenciesS: number[];
  statuses: Map<number, number>;
}

export async function runBurst(url: string, n: number, headers: Record<string, string>): Promise<Burst> {
  const b = await runHey(['-n', String(n), '-c', String(n), '-t', '60'], url, headers, 120_000);
  // hey drops requests that failed at the socket level from the CSV
  const failed = n - b.latenciesS.length;
  if (failed > 0) b.statuses.set(0, failed);
  return b;
}

/**
 * hey for durationS over `connections` connections. Go's client follows
 * redirects, so a 307 to an object store is timed to the store's last byte and
 * statuses are the final ones (it does not carry Authorization to the store's
 * port: radosgw would refuse the request with 400).
 */
export function runFor(url: string, connections: number, durationS: number, headers: Record<string, string>): Promise<Burst> {
  return runHey(['-z', `${durationS}s`, '-c', String(connections), '-t', '60'], url, headers, (durationS + 120) * 1000);
}

async function runHey(opts: string[], url: string, headers: Record<string, string>, timeoutMs: number): Promise<Burst> {
  const args = [...opts, '-o', 'csv'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push(url);
  const r = await exec('hey', args, { timeoutMs });
  if (r.code !== 0) throw new Error(`hey exited ${r.code}: ${r.stderr.trim().slice(-300)}`);
  const lines = r.stdout.trim().split('\n');
  const header = lines.shift()?.split(',') ?? [];
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`hey CSV has no ${name} column (got ${header.join(',')})`);
    return i;
  };
  const iTime = col('response-time');
  const iStatus = col('status-code');
  const iOffset = col('offset');
  const latenciesS: number[] = [];
  const statuses = new Map<number, number>();
  let allAnsweredS = 0;
  for (const line of lines) {
    const f = line.split(',');
    const t = Number(f[iTime]);
    const status = Number(f[iStatus]);
    latenciesS.push(t);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    allAnsweredS = Math.max(allAnsweredS, Number(f[iOffset]) + t);
  }
  return { allAnsweredS, latenciesS, statuses };
}
