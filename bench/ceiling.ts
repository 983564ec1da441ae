// Measures the bare-uWS ceiling with exactly scenario 1's wrk settings, so the
// "≥ 50% of the ceiling" target is checked against this machine, this run.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnUntilReady } from './servers/process.js';
import { runWrk, assertClean } from './wrk.js';
import type { BenchContext } from './scenario.js';

export async function measureCeiling(ctx: BenchContext): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'ceiling-bench-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/v2/bench/app/manifests/latest`;
  const s = await spawnUntilReady({
    cmd: process.execPath,
    args: [join(import.meta.dirname, 'ceiling-server.js'), String(port)],
    env: process.env,
    cwd: dir,
    readyUrl: url,
    dataDir: dir,
  });
  try {
    const base = { url, connections: 256, threads: ctx.settings.threads, headers: {} };
    await runWrk({ ...base, durationS: ctx.settings.warmupS });
    const r = await runWrk({ ...base, durationS: ctx.settings.manifestS });
    assertClean(r, 'ceiling GET');
    return r.rps;
  } finally {
    await s.stop();
  }
}
