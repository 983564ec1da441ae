// Scenarios 8a/8b: npm reads beside Verdaccio hosting the same package (ten
// versions published with the same documents): the abbreviated packument
// (what `npm install` asks for) and a ~12 KB tarball, 64 connections, each
// server's own Bearer token (nora-ts: a read `nra_` token; Verdaccio: the token
// its user API hands out).
import { runWrk, assertClean } from '../wrk.js';
import { mintToken } from '../registry-client.js';
import { createNpmUser, NPM_ABBREVIATED, seedPackage } from '../npm-client.js';
import { withServer, type BenchContext, type Scenario } from '../scenario.js';
import { MANIFEST_METRICS } from './manifest-get.js';
import { readCpuMicros } from '../procfs.js';
import { basicAuth, type ServerName } from '../servers/index.js';

const CONNECTIONS = 64;
const PACKAGE = 'bench-pkg';
const VERSIONS = 10;
const PAYLOAD = 12 * 1024;

function npmScenario(id: string, what: 'packument' | 'tarball'): Scenario {
  return {
    id,
    title: `npm ${what === 'packument' ? 'abbreviated packument' : 'tarball'} GET, ${CONNECTIONS} conns, Bearer token`,
    metrics: MANIFEST_METRICS,
    peer: 'verdaccio',
    run: (ctx: BenchContext, name: ServerName) =>
      withServer(ctx, name, { auth: true, seed: false }, async ({ server }) => {
        let read: string;
        let publish: string;
        if (name === 'nora-ts') {
          publish = basicAuth(ctx.creds.user, ctx.creds.password);
          read = `Bearer ${await mintToken(server.url, ctx.creds.user, ctx.creds.password)}`;
        } else {
          read = publish = `Bearer ${await createNpmUser(server.url, ctx.creds.user, ctx.creds.password)}`;
        }
        const seeded = await seedPackage(`${server.url}${server.npmPath ?? ''}`, PACKAGE, VERSIONS, PAYLOAD, publish);
        const headers: Record<string, string> = { Authorization: read };
        if (what === 'packument') headers.Accept = NPM_ABBREVIATED;
        const url = server.url + (what === 'packument' ? seeded.packumentPath : seeded.tarballPath);
        const base = { url, connections: CONNECTIONS, threads: ctx.settings.threads, headers };
        await runWrk({ ...base, durationS: ctx.settings.warmupS });
        const cpuBefore = await readCpuMicros(server.pid);
        const r = await runWrk({ ...base, durationS: ctx.settings.manifestS });
        const cpu = (await readCpuMicros(server.pid)) - cpuBefore;
        assertClean(r, `npm ${what} GET`);
        return { rps: r.rps, p50: r.p50Ms, p99: r.p99Ms, cpu: cpu / r.requests };
      }),
  };
}

export const npmPackument = npmScenario('8a', 'packument');
export const npmTarball = npmScenario('8b', 'tarball');
