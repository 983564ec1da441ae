// Two registries in one process own their state: closing one leaves the other
// keeping connections alive, each counts only its own requests, each logs at
// its own level, and the process's loop-lag timer runs while any is open.
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { startRegistry } from './helpers/registry.js';
import { complete, parseResponse } from './helpers/raw-http.js';
import { pushImage } from './helpers/oci-push.js';
import { metric } from './helpers/auth.js';
import { setLogSink } from '../src/main/log.js';
import { loopLagWatched } from '../src/main/loop-lag.js';

/** Sends GETs one after another on one connection; each answer must arrive before the next is sent. */
async function keepAliveGets(port: number, paths: string[]): Promise<{ status: number; headers: Record<string, string>; closedEarly: boolean }[]> {
  const s: Socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
  let closed = false;
  s.on('close', () => (closed = true));
  const out = [];
  try {
    for (const path of paths) {
      let raw = Buffer.alloc(0);
      const got = new Promise<void>((resolve) => {
        const onData = (c: Buffer) => {
          raw = Buffer.concat([raw, c]);
          if (complete(raw, 'GET')) {
            s.off('data', onData);
            resolve();
          }
        };
        s.on('data', onData);
        s.once('close', () => resolve());
      });
      const wasClosed = closed;
      s.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n`);
      await got;
      const r = parseResponse(raw, 'GET');
      out.push({ status: r.status, headers: r.headers, closedEarly: wasClosed });
    }
  } finally {
    s.destroy();
  }
  return out;
}

const DOCKER_GET_200 = 'format="docker",method="GET",status="200"';

t.test('closing one registry leaves another keeping connections alive and counting only its own requests', async (t) => {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  t.teardown(() => setLogSink(() => {}));
  const a = await startRegistry({ log: { level: 'info' } });
  const b = await startRegistry({ log: { level: 'warn' } });
  let aOpen = true;
  t.teardown(async () => {
    if (aOpen) await a.close();
    await b.close();
  });
  t.ok(loopLagWatched(), 'the loop-lag timer runs');

  const m = await pushImage(b, 'two/app', 'v1');
  const aBefore = await metric(a.url, 'nora_http_requests_total', DOCKER_GET_200);
  const bBefore = await metric(b.url, 'nora_http_requests_total', DOCKER_GET_200);
  for (let i = 0; i < 7; i++) await (await fetch(`${a.url}/v2/`)).arrayBuffer();
  for (let i = 0; i < 3; i++) await (await fetch(`${b.url}/v2/`)).arrayBuffer();
  t.equal((await metric(a.url, 'nora_http_requests_total', DOCKER_GET_200)) - aBefore, 7, 'A counted its 7 GETs');

  await a.close();
  aOpen = false;
  t.ok(loopLagWatched(), 'the loop-lag timer still runs for B');
  const lagBefore = await metric(b.url, 'nora_event_loop_lag_seconds_count');
  await new Promise((r) => setTimeout(r, 100));
  t.ok((await metric(b.url, 'nora_event_loop_lag_seconds_count')) > lagBefore, "B's loop-lag histogram still grows");

  // A manifest twice (the second from memory) and the base route, on one connection.
  const answers = await keepAliveGets(b.port, ['/v2/two/app/manifests/v1', '/v2/two/app/manifests/v1', '/v2/']);
  for (const [i, r] of answers.entries()) {
    t.equal(r.status, 200, `request ${i + 1} answered`);
    t.not(r.headers.connection?.toLowerCase(), 'close', `request ${i + 1}: no Connection: close`);
    t.notOk(r.closedEarly, `request ${i + 1} went over the same open connection`);
  }
  t.equal(answers[0]!.headers['docker-content-digest'], m.digest);
  t.equal((await metric(b.url, 'nora_http_requests_total', DOCKER_GET_200)) - bBefore, 6, "B counted its own 6 GETs, none of A's");
  t.ok((await metric(b.url, 'nora_http_memory_answers_total')) >= 1, 'one of them from memory');

  const access = lines.filter((l) => l.includes('"msg":"request"'));
  t.equal(access.filter((l) => l.includes('"path":"/v2/"')).length, 7, "A (level info) logged its 7 GETs of /v2/; B (level warn) none of its 4");
  t.equal(access.filter((l) => l.includes(`"path":"/v2/two/app`)).length, 0, 'B (level warn) wrote none: A did not change its level');

  await b.close();
  t.notOk(loopLagWatched(), 'the timer stops with the last registry');
  // close() twice is harmless and does not restart anything
  await b.close();
  t.notOk(loopLagWatched());
});
