// Scenarios 1a/1b (manifest GETs, Basic auth on / auth off) and 6 (API tokens):
// wrk, 256 connections, a short warm-up then the measured run.
import { runWrk, assertClean } from '../wrk.js';
import { readCpuMicros } from '../procfs.js';
import { OCI_MANIFEST, mintToken } from '../registry-client.js';
import { withServer, type BenchContext, type MetricDef, type Scenario } from '../scenario.js';
import type { ServerName } from '../servers/index.js';

const CONNECTIONS = 256;

export const MANIFEST_METRICS: MetricDef[] = [
  { key: 'rps', label: 'req/s', unit: 'req/s', better: 'higher', digits: 0 },
  { key: 'p50', label: 'p50 latency', unit: 'ms', better: 'lower', digits: 2 },
  { key: 'p99', label: 'p99 latency', unit: 'ms', better: 'lower', digits: 2 },
  // the server's own CPU per request: steadier than req/s on a busy machine
  { key: 'cpu', label: 'server CPU per request', unit: 'µs', better: 'lower', digits: 1 },
];

/** wrk at 256 connections on one manifest URL: warm-up, then the measured run. */
export async function measureManifestGets(ctx: BenchContext, pid: number, url: string, authorization: string | undefined) {
  const headers: Record<string, string> = { Accept: OCI_MANIFEST };
  if (authorization) headers.Authorization = authorization;
  const base = { url, connections: CONNECTIONS, threads: ctx.settings.threads, headers };
  await runWrk({ ...base, durationS: ctx.settings.warmupS });
  const cpuBefore = await readCpuMicros(pid);
  const r = await runWrk({ ...base, durationS: ctx.settings.manifestS });
  const cpu = (await readCpuMicros(pid)) - cpuBefore;
  assertClean(r, 'manifest GET');
  return { rps: r.rps, p50: r.p50Ms, p99: r.p99Ms, cpu: cpu / r.requests };
}

function manifestScenario(id: string, auth: boolean): Scenario {
  return {
    id,
    title: `manifest GET, ${CONNECTIONS} conns, ${auth ? 'Basic auth (bcrypt)' : 'auth off'}`,
    metrics: MANIFEST_METRICS,
    run: (ctx: BenchContext, name: ServerName) =>
      withServer(ctx, name, { auth, seed: true }, ({ server, seeded }) =>
        measureManifestGets(ctx, server.pid, server.url + seeded!.manifestPath, server.auth),
      ),
  };
}

export const manifestAuth = manifestScenario('1a', true);
export const manifestNoAuth = manifestScenario('1b', false);

export const manifestToken: Scenario = {
  id: '6',
  title: `manifest GET, ${CONNECTIONS} conns, Bearer nra_ API token`,
  metrics: MANIFEST_METRICS,
  skip: { distribution: 'distribution has no API tokens' },
  compareWith: '1a',
  run: (ctx, name) =>
    withServer(ctx, name, { auth: true, seed: true }, async ({ server, seeded }) => {
      const token = await mintToken(server.url, ctx.creds.user, ctx.creds.password);
      return measureManifestGets(ctx, server.pid, server.url + seeded!.manifestPath, `Bearer ${token}`);
    }),
};
