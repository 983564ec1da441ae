// Scenario 10: web UI pages on a registry holding one repository with 10,000
// tags (auth on, signed in through the sign-in form). Each page is fetched
// one at a time, after a warm-up: the repository's first page of tags, a page
// from the middle, the repository list and the dashboard. The target is
// < 100 ms and < 100 KB per page. Neither peer has a web UI.
import { OCI_MANIFEST, send, seedImage } from '../registry-client.js';
import { withServer, type Scenario } from '../scenario.js';
import { percentile } from '../stats.js';

const TAGS = 10_000;
const SEED_CONCURRENCY = 16;
const WARMUP = 5;
const SAMPLES = 40;
const REPO = 'bench/tags';

const PAGES: Record<string, string> = {
  first: `/ui/docker/${REPO}`,
  middle: `/ui/docker/${REPO}?last=t05000`,
  list: '/ui/docker/',
  dashboard: '/ui/',
};

/** Signs in with the form: its cookie and CSRF field, then the POST. Returns the session cookie. */
async function signIn(base: string, user: string, password: string): Promise<string> {
  const form = await send(`${base}/ui/login`, 'GET', {});
  const loginCookie = String(form.headers['set-cookie']).split(';')[0]!;
  const csrf = /name="csrf" value="([^"]+)"/.exec(form.body.toString())?.[1] ?? '';
  const body = Buffer.from(new URLSearchParams({ csrf, username: user, password, next: '/ui/' }).toString());
  const r = await send(`${base}/ui/login`, 'POST', { Cookie: loginCookie, 'Content-Type': 'application/x-www-form-urlencoded' }, body);
  if (r.status !== 303) throw new Error(`UI sign-in answered ${r.status}`);
  return String(r.headers['set-cookie']).split(';')[0]!;
}

export const uiPages: Scenario = {
  id: '10',
  title: `web UI pages, one repository with ${TAGS} tags, signed in`,
  metrics: [
    ...Object.keys(PAGES).map((k) => ({ key: `${k}_p50`, label: `${k} page p50`, unit: 'ms', better: 'lower' as const, digits: 1 })),
    { key: 'worst_p50', label: 'slowest page p50', unit: 'ms', better: 'lower', digits: 1 },
    { key: 'worst_p99', label: 'slowest page p99', unit: 'ms', better: 'lower', digits: 1 },
    { key: 'kb', label: 'largest page', unit: 'KB', better: 'lower', digits: 1 },
  ],
  skip: { distribution: 'distribution has no web UI', verdaccio: 'measured against nora-ts only' },
  run: (ctx, name) =>
    withServer(ctx, name, { auth: true, seed: false }, async ({ server }) => {
      const auth = server.auth!;
      await seedImage(server.url, REPO, 't00000', Buffer.from('layer'), auth);
      const manifest = (await send(`${server.url}/v2/${REPO}/manifests/t00000`, 'GET', { Authorization: auth, Accept: OCI_MANIFEST })).body;
      let next = 1;
      await Promise.all(
        Array.from({ length: SEED_CONCURRENCY }, async () => {
          while (next < TAGS) {
            const tag = `t${String(next++).padStart(5, '0')}`;
            const r = await send(`${server.url}/v2/${REPO}/manifests/${tag}`, 'PUT', { Authorization: auth, 'Content-Type': OCI_MANIFEST }, manifest);
            if (r.status !== 201) throw new Error(`tag ${tag}: ${r.status}`);
          }
        }),
      );
      ctx.log(`seeded ${TAGS} tags`);
      const cookie = await signIn(server.url, ctx.creds.user, ctx.creds.password);
      const out: Record<string, number> = {};
      let worst = 0;
      let worstMedian = 0;
      let kb = 0;
      for (const [key, path] of Object.entries(PAGES)) {
        const times: number[] = [];
        for (let i = 0; i < WARMUP + SAMPLES; i++) {
          const t0 = performance.now();
          const r = await send(server.url + path, 'GET', { Cookie: cookie });
          const ms = performance.now() - t0;
          if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
          kb = Math.max(kb, r.body.length / 1000);
          if (i >= WARMUP) times.push(ms);
        }
        out[`${key}_p50`] = percentile(times, 50);
        worstMedian = Math.max(worstMedian, out[`${key}_p50`]!);
        worst = Math.max(worst, percentile(times, 99));
      }
      return { ...out, worst_p50: worstMedian, worst_p99: worst, kb };
    }),
};
