// Scenario 5: pushes streamed by a Node client (POST, PATCH with the body, PUT
// ?digest=). Content is generated on the fly; digests are computed before the
// clock starts so the client's hashing does not count.
import { pushStreamed } from '../registry-client.js';
import { generatedDigest } from '../content.js';
import { readMem, sampleRss } from '../procfs.js';
import { withServer, REPO, type Scenario } from '../scenario.js';
import { MB, MiB } from '../stats.js';

const digests = new Map<string, string>();
function digestOf(seed: number, size: number): string {
  const k = `${seed}/${size}`;
  let d = digests.get(k);
  if (!d) digests.set(k, (d = generatedDigest(seed, size)));
  return d;
}

export const bigPush: Scenario = {
  id: '5a',
  title: 'push one big blob (streamed PATCH + PUT)',
  metrics: [
    { key: 'mbps', label: 'throughput', unit: 'MB/s', better: 'higher', digits: 0 },
    { key: 'growth', label: 'RSS growth', unit: 'MB', better: 'lower', digits: 1 },
  ],
  async run(ctx, name) {
    const size = ctx.settings.bigPushBytes;
    const digest = digestOf(1, size);
    return withServer(ctx, name, { auth: true, seed: false }, async ({ server }) => {
      const before = await readMem(server.pid);
      const sampler = sampleRss(server.pid, 50);
      const t0 = performance.now();
      await pushStreamed(server.url, REPO, 1, size, digest, server.auth);
      const seconds = (performance.now() - t0) / 1000;
      const mem = await sampler.stop();
      // VmHWM counts only if the push raised it above the start-up peak
      const peak = Math.max(mem.peakRssBytes, mem.hwmBytes > before.hwmBytes ? mem.hwmBytes : 0);
      return { mbps: size / MB / seconds, growth: (peak - before.rssBytes) / MB };
    });
  },
};

export const parallelPush: Scenario = {
  id: '5b',
  title: '32 parallel pushes of distinct 8 MiB blobs',
  metrics: [{ key: 'mbps', label: 'total throughput', unit: 'MB/s', better: 'higher', digits: 0 }],
  async run(ctx, name) {
    const { smallPushes: n, smallPushBytes: size } = ctx.settings;
    const blobs = Array.from({ length: n }, (_, i) => ({ seed: 1000 + i, digest: digestOf(1000 + i, size) }));
    return withServer(ctx, name, { auth: true, seed: false }, async ({ server }) => {
      const t0 = performance.now();
      await Promise.all(blobs.map((b) => pushStreamed(server.url, REPO, b.seed, size, b.digest, server.auth)));
      const seconds = (performance.now() - t0) / 1000;
      return { mbps: (n * size) / MB / seconds };
    });
  },
};

export function describeBigPush(bytes: number): string {
  return bytes >= 1024 * MiB ? `${bytes / (1024 * MiB)} GiB` : `${bytes / MiB} MiB`;
}
