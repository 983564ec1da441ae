// Scenarios 2 (10 MiB layer pulls, 64 connections) and 3 (100 concurrent pulls):
// wrk downloads the same blob repeatedly while VmRSS is sampled; VmHWM is the
// kernel's peak for the whole life of the (fresh) server process.
import { runWrk, assertClean } from '../wrk.js';
import { readCpuMicros, sampleRss } from '../procfs.js';
import { withServer, authHeader, type BenchContext, type Scenario } from '../scenario.js';
import { MB } from '../stats.js';
import type { ServerName } from '../servers/index.js';

async function pull(ctx: BenchContext, name: ServerName, connections: number, durationS: number, allowNoneCompleted = false) {
  return withServer(ctx, name, { auth: true, seed: true }, async ({ server, seeded }) => {
    const sampler = sampleRss(server.pid, 50);
    const cpuBefore = await readCpuMicros(server.pid);
    const r = await runWrk({
      url: server.url + seeded!.blobPath,
      connections,
      threads: ctx.settings.threads,
      durationS,
      headers: authHeader(server.auth),
      timeoutS: 30,
    });
    const cpu = (await readCpuMicros(server.pid)) - cpuBefore;
    const mem = await sampler.stop();
    assertClean(r, 'blob GET', { allowNoneCompleted });
    // the server's CPU seconds per GB sent: steadier than MB/s on a shared machine
    return { r, mem, cpuPerGB: r.bytes > 0 ? cpu / 1e6 / (r.bytes / 1e9) : 0 };
  });
}

export const parallelPulls: Scenario = {
  id: '2',
  title: '10 MiB layer pulls, 64 conns',
  metrics: [
    { key: 'mbps', label: 'throughput', unit: 'MB/s', better: 'higher', digits: 0 },
    { key: 'p99', label: 'p99 latency', unit: 'ms', better: 'lower', digits: 1 },
    { key: 'hwm', label: 'peak RSS (VmHWM)', unit: 'MB', better: 'lower', digits: 1 },
    { key: 'cpu', label: 'server CPU per GB sent', unit: 's', better: 'lower', digits: 2 },
  ],
  async run(ctx, name) {
    const { r, mem, cpuPerGB } = await pull(ctx, name, 64, ctx.settings.blobS);
    return { mbps: r.bytesPerS / MB, p99: r.p99Ms, hwm: mem.hwmBytes / MB, cpu: cpuPerGB };
  },
};

export const hundredPulls: Scenario = {
  id: '3',
  title: '100 concurrent 10 MiB pulls',
  metrics: [
    { key: 'hwm', label: 'peak RSS (VmHWM)', unit: 'MB', better: 'lower', digits: 1 },
    { key: 'rss', label: 'peak VmRSS sampled /50 ms', unit: 'MB', better: 'lower', digits: 1 },
    { key: 'mbps', label: 'throughput', unit: 'MB/s', better: 'higher', digits: 0 },
  ],
  async run(ctx, name) {
    // only memory and bytes matter here; in --quick the first round may still be in flight
    const { r, mem } = await pull(ctx, name, 100, ctx.settings.rssS, true);
    return { hwm: mem.hwmBytes / MB, rss: mem.peakRssBytes / MB, mbps: r.bytesPerS / MB };
  },
};
