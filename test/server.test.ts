import t from 'tap';
import { startRegistry } from './helpers/registry.js';

t.test('health, ready, metrics and the /v2/ ping', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const health = await fetch(`${r.url}/health`);
  t.equal(health.status, 200);
  const h = (await health.json()) as Record<string, unknown>;
  t.equal(h.status, 'healthy');
  t.match(h, { version: String, uptime_seconds: Number, storage: { backend: 'local', reachable: true } });
  t.equal((await fetch(`${r.url}/ready`)).status, 200);
  const ping = await fetch(`${r.url}/v2/`);
  t.equal(ping.status, 200);
  t.equal(ping.headers.get('docker-distribution-api-version'), 'registry/2.0');
  t.same(await ping.json(), {});
  const m = await (await fetch(`${r.url}/metrics`)).text();
  t.match(m, /nora_http_requests_total\{format="docker",method="GET",status="200"\} 1/);
  t.equal((await fetch(`${r.url}/nope`)).status, 404);
  t.equal((await fetch(`${r.url}/health`, { method: 'POST' })).status, 405);
});

t.test('NUL bytes in a path are refused', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const res = await fetch(`${r.url}/v2/a%00b/tags/list`);
  t.equal(res.status, 400);
  const body = (await res.json()) as { errors: { code: string }[] };
  t.equal(body.errors[0]!.code, 'NAME_INVALID');
});
