// Upload bodies are copied out of uWS into reusable slots that the docker
// upload writer gives back once a chunk is on disk. Concurrent streamed
// uploads with chunks of every size must still store every byte exactly, and
// the slots must really be reused (that is what keeps a 1 GiB push's memory flat).
import t from 'tap';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { startRegistry, type Running } from './helpers/registry.js';

/** POST a session, PATCH `data` chunked in pieces of random sizes, PUT ?digest=. */
async function streamedPush(r: Running, name: string, data: Buffer): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const post = await fetch(`${r.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
  await post.arrayBuffer();
  const loc = new URL(post.headers.get('location')!, r.url);
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; ) {
    const n = Math.min(data.length - i, [1, 100, 4096, 65536, 200_000, 700_000][Math.floor(Math.random() * 6)]!);
    pieces.push(data.subarray(i, i + n));
    i += n;
  }
  const next = await new Promise<URL>((resolve, reject) => {
    const req = request(loc, { method: 'PATCH', headers: { 'transfer-encoding': 'chunked', 'content-type': 'application/octet-stream' } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 202 ? resolve(new URL(res.headers.location!, r.url)) : reject(new Error(`PATCH ${res.statusCode}`))));
    });
    req.on('error', reject);
    Readable.from(pieces).pipe(req);
  });
  next.searchParams.set('digest', digest);
  const put = await fetch(next, { method: 'PUT' });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`PUT ${put.status}`);
  return digest;
}

t.test('8 concurrent streamed pushes with mixed chunk sizes store every byte; slots are reused', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const before = r.registry.shared.chunks.stats();
  const blobs = Array.from({ length: 8 }, () => randomBytes(3 * 1024 * 1024 + Math.floor(Math.random() * 100_000)));
  const digests = await Promise.all(blobs.map((b, i) => streamedPush(r, `chunks/app${i}`, b)));
  for (let i = 0; i < blobs.length; i++) {
    const got = Buffer.from(await (await fetch(`${r.url}/v2/chunks/app${i}/blobs/${digests[i]}`)).arrayBuffer());
    t.ok(got.equals(blobs[i]!), `blob ${i}: stored and served byte for byte`);
  }
  const after = r.registry.shared.chunks.stats();
  t.ok(after.copies > before.copies, `chunks copied into slots: ${after.copies - before.copies}`);
  const copies = after.copies - before.copies;
  const reused = after.reused - before.reused;
  // How many depends on timing (how many pushes stream at once); a writer that kept its slots would show none.
  t.ok(reused * 10 > copies, `slots given back by the writer carried later chunks (${reused} of ${copies})`);
});
