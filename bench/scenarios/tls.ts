// Scenario 9: what TLS costs. Manifest GETs (256 connections) and 10 MiB blob
// pulls (64 connections) over https beside the same over plain http, auth off
// so the figures are the transport's; nora-ts serves TLS itself (uWS SSLApp),
// distribution through its http.tls settings. Each variant gets a fresh server.
import { runWrk, assertClean } from '../wrk.js';
import { withServer, type BenchContext, type MetricDef, type Scenario } from '../scenario.js';
import { measureManifestGets } from './manifest-get.js';
import { MB } from '../stats.js';
import type { ServerName } from '../servers/index.js';

const BLOB_CONNECTIONS = 64;

const METRICS: MetricDef[] = [
  { key: 'rps_http', label: 'manifest GET, http', unit: 'req/s', better: 'higher', digits: 0 },
  { key: 'rps_https', label: 'manifest GET, https', unit: 'req/s', better: 'higher', digits: 0 },
  { key: 'rps_kept', label: 'manifest GET, https as a share of http', unit: '%', better: 'higher', digits: 0 },
  { key: 'mbps_http', label: '10 MiB pull, http', unit: 'MB/s', better: 'higher', digits: 0 },
  { key: 'mbps_https', label: '10 MiB pull, https', unit: 'MB/s', better: 'higher', digits: 0 },
  { key: 'mbps_kept', label: '10 MiB pull, https as a share of http', unit: '%', better: 'higher', digits: 0 },
];

function measure(ctx: BenchContext, name: ServerName, tls: boolean) {
  return withServer(ctx, name, { auth: false, seed: true, tls }, async ({ server, seeded }) => {
    const manifests = await measureManifestGets(ctx, server.pid, server.url + seeded!.manifestPath, undefined);
    const blobs = await runWrk({
      url: server.url + seeded!.blobPath,
      connections: BLOB_CONNECTIONS,
      threads: ctx.settings.threads,
      durationS: ctx.settings.blobS,
      headers: {},
      timeoutS: 30,
    });
    // 64 TLS downloads of 10 MiB share two cores with wrk's own TLS: in a --quick run none may
    // finish yet, while the bytes wrk counted still give the throughput.
    assertClean(blobs, `blob GET over ${tls ? 'https' : 'http'}`, { allowNoneCompleted: true });
    return { rps: manifests.rps, mbps: blobs.bytesPerS / MB };
  });
}

export const tlsReads: Scenario = {
  id: '9',
  title: `https beside http: manifest GET (256 conns), 10 MiB pulls (${BLOB_CONNECTIONS} conns), auth off`,
  metrics: METRICS,
  async run(ctx, name) {
    const http = await measure(ctx, name, false);
    const https = await measure(ctx, name, true);
    return {
      rps_http: http.rps,
      rps_https: https.rps,
      rps_kept: (100 * https.rps) / http.rps,
      mbps_http: http.mbps,
      mbps_https: https.mbps,
      mbps_kept: (100 * https.mbps) / http.mbps,
    };
  },
};
