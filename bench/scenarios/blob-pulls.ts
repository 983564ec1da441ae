// Scenarios 2 (10 MiB layer pulls, 64 connections) and 3 (100 concurrent pulls):
// wrk downloads the same blob repeatedly while VmRSS is sampled; VmHWM is the
// kernel's peak for the whole life of the (fresh) server process. 2r is 2 with
// blob GETs redirected to the object store (run on S3 only, as s3-2r): wrk
// follows no redirect, so hey does, as registry clients do.
import { runWrk, assertClean } from '../wrk.js';
import { runFor } from '../hey.js';
import { readCpuMicros, sampleRss } from '../procfs.js';
import { withServer, authHeader, type BenchContext, type Scenario } from '../scenario.js';
import { MB, percentile } from '../stats.js';
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

export const redirectedPulls: Scenario = {
  id: '2r',
  title: '10 MiB layer pulls, 64 conns, each a 307 to the store',
  // as 2's, CPU per GB the clients got (from the store)
  metrics: parallelPulls.metrics.map((m) => (m.key === 'cpu' ? { ...m, label: 'server CPU per GB pulled' } : m)),
  async run(ctx, name) {
    return withServer(ctx, name, { auth: true, seed: true }, async ({ server, seeded }) => {
      if (!seeded!.redirected) throw new Error('the layer GET was not a 307 to the store');
      const sampler = sampleRss(server.pid, 50);
      const cpuBefore = await readCpuMicros(server.pid);
      const b = await runFor(server.url + seeded!.blobPath, 64, ctx.settings.blobS, authHeader(server.auth));
      const cpu = (await readCpuMicros(server.pid)) - cpuBefore;
      const mem = await sampler.stop();
      const ok = b.statuses.get(200) ?? 0;
      if (ok === 0 || ok < b.latenciesS.length) throw new Error(`redirected blob GETs ended ${[...b.statuses].map(([s, n]) => `${n}× ${s}`).join(', ')}`);
      const bytes = ok * seeded!.layerSize;
      return { mbps: bytes / b.allAnsweredS / MB, p99: percentile(b.latenciesS, 99) * 1000, hwm: mem.hwmBytes / MB, cpu: cpu / 1e6 / (bytes / 1e9) };
    });
  },
};
