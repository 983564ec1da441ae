// Scenario 10: pull-through. One upstream (a plain distribution, not
// measured) holds a layer behind the counting pass-through, which limits each
// response stream to proxyRateBps (a remote registry's pace). The server under
// test proxies it (nora-ts: NORA_DOCKER_PROXIES; distribution:
// proxy.remoteurl) and gets `proxyClients` concurrent cold GETs of the layer.
// Figures: upstream GETs of that blob and bytes sent, client TTFB, wall time,
// peak RSS; every client must get the exact bytes.
import { startServer } from '../servers/index.js';
import { layer, REPO, TAG, type Scenario } from '../scenario.js';
import { seedImage } from '../registry-client.js';
import { startPassThrough } from '../pass-through.js';
import { pullBlob } from '../blob-pull.js';
import { sampleRss } from '../procfs.js';
import { MB, percentile } from '../stats.js';

export const proxyColdPulls: Scenario = {
  id: '11',
  title: 'pull-through: concurrent cold pulls of one layer (100 MiB × 64 in a full run)',
  metrics: [
    { key: 'gets', label: 'upstream GETs of the blob', unit: '', better: 'lower', digits: 0 },
    { key: 'upMB', label: 'upstream bytes', unit: 'MB', better: 'lower', digits: 0 },
    { key: 'upTtfb', label: "upstream's own TTFB", unit: 'ms', better: 'lower', digits: 0 },
    { key: 'p50', label: 'client TTFB p50', unit: 'ms', better: 'lower', digits: 0 },
    { key: 'p95', label: 'client TTFB p95', unit: 'ms', better: 'lower', digits: 0 },
    { key: 'max', label: 'client TTFB max', unit: 'ms', better: 'lower', digits: 0 },
    { key: 'wall', label: 'wall time', unit: 's', better: 'lower', digits: 1 },
    { key: 'hwm', label: 'peak RSS (VmHWM)', unit: 'MB', better: 'lower', digits: 1 },
  ],
  async run(ctx, name) {
    const s = ctx.settings;
    const upstream = await startServer('distribution', { auth: false, creds: ctx.creds });
    const pt = await startPassThrough(upstream.url, { rate: s.proxyRateBps });
    try {
      const seeded = await seedImage(upstream.url, REPO, TAG, layer(s.proxyLayerBytes));
      const digest = seeded.blobPath.slice(seeded.blobPath.lastIndexOf('/') + 1);
      // the upstream's own time to first byte, through the same pass-through (not counted below)
      const own = await pullBlob(pt.url + seeded.blobPath, { abortAfter: 1 });
      const baseline = { gets: pt.count('GET', seeded.blobPath), bytes: pt.bytes };
      const server = await startServer(name, { auth: false, creds: ctx.creds, proxyUpstream: pt.url });
      try {
        const sampler = sampleRss(server.pid, 50);
        const t0 = performance.now();
        const pulls = await Promise.all(Array.from({ length: s.proxyClients }, () => pullBlob(server.url + seeded.blobPath)));
        const wall = (performance.now() - t0) / 1000;
        const mem = await sampler.stop();
        const bad = pulls.filter((p) => p.status !== 200 || !p.complete || p.sha256 !== digest);
        if (bad.length) throw new Error(`${bad.length} of ${pulls.length} pulls failed (${bad[0]!.status} ${bad[0]!.error ?? 'wrong bytes'})`);
        const ttfb = pulls.map((p) => p.ttfbMs);
        return {
          gets: pt.count('GET', seeded.blobPath) - baseline.gets,
          upMB: (pt.bytes - baseline.bytes) / MB,
          upTtfb: own.ttfbMs,
          p50: percentile(ttfb, 50),
          p95: percentile(ttfb, 95),
          max: Math.max(...ttfb),
          wall,
          hwm: mem.hwmBytes / MB,
        };
      } finally {
        await server.stop();
      }
    } finally {
      await pt.close();
      await upstream.stop();
    }
  },
};
