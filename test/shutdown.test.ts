// SIGTERM: stop accepting, let an in-flight download finish, then exit 0.
import t from 'tap';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { spawnRegistry, tempDir } from './helpers/registry.js';

t.test('a download in flight at SIGTERM completes before the process exits', async (t) => {
  const d = await tempDir();
  const child = await spawnRegistry({ NORA_STORAGE_PATH: join(d, 'storage') }, d);
  t.teardown(() => child.stop('SIGKILL'));
  const blob = randomBytes(24 << 20);
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  const put = await fetch(`${child.url}/v2/shut/down/blobs/uploads/?digest=${digest}`, { method: 'POST', body: blob });
  t.equal(put.status, 201);

  // Start a download and read only its first chunk, so the transfer is still in flight.
  const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
    http.get(`${child.url}/v2/shut/down/blobs/${digest}`, resolve).on('error', reject),
  );
  t.equal(res.statusCode, 200);
  const hash = createHash('sha256');
  let received = 0;
  const first = await new Promise<Buffer>((resolve) => res.once('data', resolve));
  hash.update(first);
  received += first.length;
  res.pause();

  const exited = new Promise<number | null>((resolve) => child.proc.once('exit', resolve));
  child.proc.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(child.proc.exitCode, null, 'still running while a transfer is in flight');
  await t.rejects(
    new Promise((resolve, reject) => http.get(`${child.url}/health`, { agent: false }, resolve).on('error', reject)),
    'no longer accepting new connections',
  );

  res.on('data', (c: Buffer) => {
    hash.update(c);
    received += c.length;
  });
  res.resume();
  await new Promise((resolve) => res.on('end', resolve));
  t.equal(received, blob.length, 'the whole blob arrived');
  t.equal(`sha256:${hash.digest('hex')}`, digest);
  t.equal(await exited, 0, 'exit code 0 after the transfer');
});
