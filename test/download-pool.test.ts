// File downloads share a fixed pool of read buffers and hold one only while a
// chunk moves from disk to uWS: many slow clients at once each get every byte
// in order, and the pool never grows with the number of clients.
import t from 'tap';
import { connect } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { startRegistry } from './helpers/registry.js';
import { pushBlob } from './helpers/oci-push.js';

/** GET over a raw socket that stops reading for `pauseMs` after the first data (the server hits backpressure). */
function slowGet(port: number, path: string, pauseMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    let paused = false;
    s.on('data', (d: Buffer) => {
      parts.push(d);
      if (!paused) {
        paused = true;
        s.pause();
        setTimeout(() => s.resume(), pauseMs);
      }
    });
    s.on('end', () => {
      const raw = Buffer.concat(parts);
      const head = raw.indexOf('\r\n\r\n');
      if (!raw.subarray(0, head).toString().startsWith('HTTP/1.1 200')) reject(new Error(raw.subarray(0, head).toString()));
      else resolve(raw.subarray(head + 4));
    });
    s.on('error', reject);
    s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  });
}

t.test('40 slow clients at once: every byte, in order, through at most the fixed buffers', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const blob = randomBytes(3 * 1024 * 1024 + 12345);
  const d = await pushBlob(r, 'pool/app', blob);
  const want = createHash('sha256').update(blob).digest('hex');
  const before = r.registry.shared.buffers.stats();
  const bodies = await Promise.all(Array.from({ length: 40 }, (_, i) => slowGet(r.port, `/v2/pool/app/blobs/${d.digest}`, 20 + (i % 5) * 30)));
  let intact = 0;
  for (const b of bodies) if (b.length === blob.length && createHash('sha256').update(b).digest('hex') === want) intact++;
  t.equal(intact, 40, 'all 40 bodies are the blob exactly');
  const after = r.registry.shared.buffers.stats();
  t.ok(after.created <= 16, `buffers allocated: ${after.created} (fixed pool, not one per client)`);
  t.ok(after.created >= before.created);
  t.equal(after.waiting, 0, 'nobody left waiting for a buffer');
});
