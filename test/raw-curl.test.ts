// curl against raw files in a registry child process: a 200 MiB upload
// (Content-Length), the same as a chunked upload, and the download, with the
// server's RSS sampled throughout (it must stay flat: the body streams both
// ways). Then the front end's limit: uWebSockets.js 20.30 drops a request whose
// Content-Length has 10 or more digits (≥ 1 GB) without answering, which curl
// reports as "Empty reply from server" (exit 52); a 9-digit length gets our
// answer, and chunked uploads carry larger files (1.1 GB here; README "Raw files").
import t from 'tap';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { spawnRegistry, tempDir } from './helpers/registry.js';
import { rssBytes } from './helpers/process-stats.js';

const MiB = 1024 * 1024;
const SIZE = 200 * MiB;

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', ...args], { timeout: 120_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

async function fileSha(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

t.test('curl moves 200 MiB through /raw/ with flat server memory', async (t) => {
  const dir = await tempDir('nora-raw-curl-');
  const reg = await spawnRegistry({ NORA_STORAGE_PATH: join(dir, 'storage'), NORA_RAW_MAX_FILE_SIZE: String(1200 * MiB), NORA_LOG_LEVEL: 'warn' }, dir);
  t.teardown(async () => {
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const src = join(dir, 'big.bin');
  const block = randomBytes(MiB);
  const out = createWriteStream(src);
  for (let i = 0; i < SIZE / MiB; i++) {
    block[0] = i; // every MiB differs
    if (!out.write(Buffer.from(block))) await new Promise((r) => out.once('drain', r));
  }
  out.end();
  await finished(out);
  const want = await fileSha(src);

  const pid = reg.proc.pid!;
  await fetch(`${reg.url}/raw/warm-up`, { method: 'PUT', body: 'x' });
  const baseline = await rssBytes(pid);
  let peak = baseline;
  const sampler = setInterval(() => void rssBytes(pid).then((v) => (peak = Math.max(peak, v)), () => {}), 20);
  t.teardown(() => clearInterval(sampler));

  const up = await curl(['-f', '-T', src, `${reg.url}/raw/files/big.bin`]);
  t.equal(up.code, 0, `curl -T (Content-Length): ${up.stderr}`);
  t.equal(JSON.parse(up.stdout).sha256, want, 'stored under the digest of what was sent');
  const chunked = await curl(['-f', '-H', 'Transfer-Encoding: chunked', '-T', src, `${reg.url}/raw/files/big-chunked.bin`]);
  t.equal(chunked.code, 0, `chunked curl -T: ${chunked.stderr}`);
  t.equal(JSON.parse(chunked.stdout).size, SIZE);
  const dst = join(dir, 'down.bin');
  const down = await curl(['-f', '-o', dst, `${reg.url}/raw/files/big.bin`]);
  t.equal(down.code, 0, `curl download: ${down.stderr}`);
  clearInterval(sampler);
  t.equal(await fileSha(dst), want, 'downloaded bytes are the uploaded bytes');
  const growth = (peak - baseline) / MiB;
  t.comment(`server RSS: baseline ${(baseline / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB (+${growth.toFixed(1)} MiB) over 3 × 200 MiB`);
  t.ok(growth < 64, `RSS stays flat (grew ${growth.toFixed(1)} MiB)`);

  // The front end's Content-Length limit, as curl sees it.
  const tenDigits = await curl(['-X', 'PUT', '-H', 'Content-Length: 1000000000', '--data-binary', 'abc', '--max-time', '10', `${reg.url}/raw/files/huge.bin`]);
  t.equal(tenDigits.code, 52, 'a 10-digit Content-Length: uWebSockets.js drops the request');
  t.match(tenDigits.stderr, /Empty reply from server/);
  // A 9-digit one reaches nora-ts, which answers before the body (here: create-only, and the file exists).
  const nineDigits = await curl(['-X', 'PUT', '-H', 'Content-Length: 999999999', '-H', 'If-None-Match: *', '--data-binary', 'abc', '--max-time', '10', '-w', '%{http_code}', '-o', '/dev/null', `${reg.url}/raw/files/big.bin`]);
  t.equal(nineDigits.stdout, '412', 'a 9-digit Content-Length reaches nora-ts');
  t.equal((await fetch(`${reg.url}/raw/files/huge.bin`)).status, 404);

  // Past that limit, chunked: 1.1 GB from a pipe (curl -T - sends chunked), memory still flat.
  const GB = 1_100_000_000;
  const before = await rssBytes(pid);
  let top = before;
  const watch = setInterval(() => void rssBytes(pid).then((v) => (top = Math.max(top, v)), () => {}), 20);
  const piped = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile('bash', ['-o', 'pipefail', '-c', `head -c ${GB} /dev/zero | curl -sS -f -T - ${reg.url}/raw/files/huge.bin`], { timeout: 180_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, out: String(stdout) + String(stderr) }),
    );
  });
  clearInterval(watch);
  t.equal(piped.code, 0, `1.1 GB chunked upload: ${piped.out}`);
  t.equal(JSON.parse(piped.out).size, GB);
  const head = await fetch(`${reg.url}/raw/files/huge.bin`, { method: 'HEAD' });
  t.equal(head.headers.get('content-length'), String(GB), 'served at its full size');
  t.comment(`1.1 GB chunked upload: server RSS +${((top - before) / MiB).toFixed(1)} MiB`);
  t.ok(top - before < 64 * MiB, 'RSS stays flat for a file past the Content-Length limit');
});
