// Scenario 4: 500 concurrent first requests (hey, 500 connections, one request
// each) carrying one credential the server has never seen. Meanwhile a probe
// GETs a credential-free path every 5 ms on its own connection (its p99 round
// trip also pays for the CPU the 500 client connections take), and nora-ts's
// own event-loop lag histogram is read before and after.
import { runBurst } from '../hey.js';
import { startProbe } from '../probe.js';
import { OCI_MANIFEST, histogramBuckets, metricsText, quantileBetween, sample } from '../registry-client.js';
import { withServer, type Scenario, type Value } from '../scenario.js';
import { basicAuth } from '../servers/index.js';
import { percentile } from '../stats.js';

export const BCRYPT_SERIES = 'nora_auth_verifications_total{kind="bcrypt"}';
export const LAG_HISTOGRAM = 'nora_event_loop_lag_seconds';

export const coldAuthStorm: Scenario = {
  id: '4',
  title: 'cold-auth storm, 500 concurrent, one new credential',
  metrics: [
    { key: 'all', label: 'time to all answered', unit: 'ms', better: 'lower', digits: 0 },
    { key: 'bcrypt', label: 'bcrypt verifications', unit: 'count', better: 'exact', digits: 0 },
    { key: 'lag', label: 'probe GET p99 during storm', unit: 'ms', better: 'lower', digits: 2 },
    { key: 'looplag', label: 'event-loop lag p99 (in-process, ≤ bucket bound)', unit: 'ms', better: 'lower', digits: 1 },
  ],
  run: (ctx, name) =>
    withServer(ctx, name, { auth: true, seed: true }, async ({ server, seeded }) => {
      const cred = ctx.freshCredential();
      const counted = name === 'nora-ts';
      const before = counted ? await metricsText(server.url, server.auth) : null;
      const probe = startProbe(server.url + server.probePath, 5);
      const burst = await runBurst(server.url + seeded!.manifestPath, ctx.settings.stormSize, {
        Authorization: basicAuth(cred.user, cred.password),
        Accept: OCI_MANIFEST,
      });
      const p = await probe.stop();
      const ok = burst.statuses.get(200) ?? 0;
      if (ok !== ctx.settings.stormSize) {
        const seen = [...burst.statuses].map(([s, n]) => `${s === 0 ? 'socket error' : s}×${n}`).join(', ');
        throw new Error(`storm: ${ok} of ${ctx.settings.stormSize} answered 200 (${seen})`);
      }
      let bcrypt: Value = { na: 'not exposed; verifies on every request' };
      let looplag: Value = { na: 'Go runtime, no single event loop' };
      if (before !== null) {
        const after = await metricsText(server.url, server.auth);
        const [b0, b1] = [sample(before, BCRYPT_SERIES), sample(after, BCRYPT_SERIES)];
        bcrypt = b0 === null || b1 === null ? { na: `no ${BCRYPT_SERIES} in /metrics` } : b1 - b0;
        const q = quantileBetween(histogramBuckets(before, LAG_HISTOGRAM), histogramBuckets(after, LAG_HISTOGRAM), 0.99);
        looplag = q === null ? { na: `no ${LAG_HISTOGRAM} in /metrics` } : q * 1000;
      }
      return {
        all: burst.allAnsweredS * 1000,
        bcrypt,
        lag: p.samplesMs.length ? percentile(p.samplesMs, 99) : { na: 'probe got no answer' },
        looplag,
      };
    }),
};
