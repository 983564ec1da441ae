// The event-loop lag histogram on /metrics: well-formed, cumulative, and a
// main thread blocked for 150 ms shows up as an observation above 100 ms.
import t from 'tap';
import { startRegistry } from './helpers/registry.js';

function buckets(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^nora_event_loop_lag_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

t.test('a blocked main thread is recorded in nora_event_loop_lag_seconds', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  await new Promise((res) => setTimeout(res, 50));
  const before = buckets(await (await fetch(`${r.url}/metrics`)).text());
  const end = performance.now() + 150;
  while (performance.now() < end) {
    /* block the event loop on purpose */
  }
  await new Promise((res) => setTimeout(res, 50));
  const text = await (await fetch(`${r.url}/metrics`)).text();
  t.match(text, /^# TYPE nora_event_loop_lag_seconds histogram$/m);
  const after = buckets(text);
  const les = [...after.keys()];
  t.equal(les[les.length - 1], '+Inf', '+Inf bucket last');
  const counts = [...after.values()];
  t.same(counts, [...counts].sort((a, b) => a - b), 'cumulative counts never decrease');
  const count = Number(/^nora_event_loop_lag_seconds_count (\d+)$/m.exec(text)?.[1]);
  t.equal(count, after.get('+Inf'), '_count equals the +Inf bucket');
  const slowBefore = before.get('+Inf')! - before.get('0.1')!;
  const slowAfter = after.get('+Inf')! - after.get('0.1')!;
  t.ok(slowAfter > slowBefore, 'the 150 ms block is an observation above 0.1 s');
});
