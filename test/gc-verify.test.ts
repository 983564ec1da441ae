// `nora verify` and verification on read: blobs whose bytes rotted on disk are
// reported, quarantined on request, and never served whole; a re-push heals.
import t from 'tap';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { open, readdir, rm, truncate } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { digestOf, parseDigest } from '../src/main/digest.js';
import { blobKey } from '../src/main/storage/blobs.js';
import { verifyBlobs } from '../src/main/maintenance/verify.js';
import { CLI, startRegistry, tempDir, type Running } from './helpers/registry.js';
import { OCI_MANIFEST, pushBlob, pushImage } from './helpers/oci-push.js';
import { rawHttp } from './helpers/raw-http.js';

const exec = promisify(execFile);
const blobFile = (r: Running, digest: string) => join(r.config.storage.path, blobKey(parseDigest(digest)!));

/** Flips one byte in place (same size, same inode): silent corruption. */
async function flipByte(path: string, at = 0): Promise<void> {
  const fh = await open(path, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, at);
  b[0] = b[0]! ^ 0xff;
  await fh.write(b, 0, 1, at);
  await fh.close();
}

async function quarantined(r: Running): Promise<string[]> {
  const root = join(r.config.storage.path, 'quarantine');
  const out: string[] = [];
  for (const alg of await readdir(root).catch(() => [] as string[])) for (const f of await readdir(join(root, alg))) out.push(`${alg}:${f.split('.')[0]}`);
  return out.sort();
}

t.test('nora verify reports rotted blobs, quarantines them on request, and a re-push heals', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const good = await pushBlob(r, 'v/app', 'this blob stays intact');
  const flipped = await pushBlob(r, 'v/app', Buffer.alloc(300_000, 7));
  const cut = await pushBlob(r, 'v/app', 'this one loses its tail');
  await flipByte(blobFile(r, flipped.digest), 123_456);
  await truncate(blobFile(r, cut.digest), 5);

  const report = await verifyBlobs(r.registry.ctx.blobs);
  t.equal(report.blobsChecked, 3);
  t.same(report.bad.map((b) => b.digest).sort(), [flipped.digest, cut.digest].sort(), 'both mismatches reported');
  t.ok(existsSync(blobFile(r, flipped.digest)), 'without --quarantine nothing moves');

  const q = await verifyBlobs(r.registry.ctx.blobs, { quarantine: true });
  t.same(q.bad.map((b) => b.movedTo !== undefined), [true, true], 'both quarantined');
  t.same(await quarantined(r), [flipped.digest, cut.digest].sort());
  t.notOk(existsSync(blobFile(r, flipped.digest)));
  t.ok(existsSync(blobFile(r, good.digest)), 'the good blob is untouched');
  t.equal((await fetch(`${r.url}/v2/v/app/blobs/${flipped.digest}`)).status, 404, 'a quarantined blob is not served');
  // docker push re-uploads what HEAD says is missing: the good copy takes its place.
  await pushBlob(r, 'v/app', Buffer.alloc(300_000, 7));
  const healed = await fetch(`${r.url}/v2/v/app/blobs/${flipped.digest}`);
  t.equal(digestOf(Buffer.from(await healed.arrayBuffer())), flipped.digest, 're-push heals');
  t.equal((await verifyBlobs(r.registry.ctx.blobs)).bad.length, 0, 'clean afterwards');
});

t.test('a blob that fails verification on read is never served whole', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const size = 3 * 1024 * 1024 + 17;
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7919) & 0xff;
  const full = await pushBlob(r, 'rot/app', data);
  const ranged = await pushBlob(r, 'rot/app', Buffer.from(data.subarray(0, 100_000)));
  const served = await pushBlob(r, 'rot/app', 'read once while intact, then rots');
  const img = await pushImage(r, 'rot/app', 'v1');

  // Read once while intact: the process remembers this file as verified...
  const first = await fetch(`${r.url}/v2/rot/app/blobs/${served.digest}`);
  t.equal(digestOf(Buffer.from(await first.arrayBuffer())), served.digest);

  // ...then corrupt: a flip near the end of a big blob, a flip in a ranged one, a manifest, a tarball.
  await flipByte(blobFile(r, full.digest), size - 10);
  await flipByte(blobFile(r, ranged.digest), 50_000);
  await flipByte(blobFile(r, img.digest), 5);
  const tgz = gzipSync(Buffer.from('npm tarball that will rot'));
  const doc = {
    name: 'rotpkg',
    versions: { '1.0.0': { name: 'rotpkg', version: '1.0.0', dist: { integrity: 'sha512-' + createHash('sha512').update(tgz).digest('base64') } } },
    _attachments: { 'rotpkg-1.0.0.tgz': { data: tgz.toString('base64'), length: tgz.length } },
  };
  t.equal((await fetch(`${r.url}/npm/rotpkg`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) })).status, 201);
  await flipByte(blobFile(r, digestOf(tgz, 'sha512')), 3);

  // Full GET: headers and most bytes go out, then the connection is cut before the end.
  const res = await rawHttp(r.port, { method: 'GET', target: `/v2/rot/app/blobs/${full.digest}` }, 20_000);
  t.equal(res.status, 200);
  t.equal(res.headers['content-length'], String(size));
  t.ok(res.body.length < size, `the body stops short (${res.body.length} of ${size} bytes): the client sees a failed download`);
  t.notOk(res.timedOut);
  t.same(await quarantined(r), [full.digest], 'and the blob is quarantined');
  t.equal((await fetch(`${r.url}/v2/rot/app/blobs/${full.digest}`)).status, 404, 'later requests find no blob');

  // Range GET of an unverified blob: checked before any byte, refused cleanly.
  const rg = await fetch(`${r.url}/v2/rot/app/blobs/${ranged.digest}`, { headers: { range: 'bytes=10-20' } });
  t.equal(rg.status, 500);
  t.match(await rg.text(), /failed verification/);
  t.equal((await fetch(`${r.url}/v2/rot/app/blobs/${ranged.digest}`, { headers: { range: 'bytes=10-20' } })).status, 404);

  // npm tarball: same guard through the shared serveObject.
  const tb = await rawHttp(r.port, { method: 'GET', target: '/npm/rotpkg/-/rotpkg-1.0.0.tgz' });
  t.ok(tb.status !== 200 || tb.body.length < tgz.length, 'the rotted tarball is not served whole');

  // Manifest: checked when loaded, answered as missing.
  const m = await fetch(`${r.url}/v2/rot/app/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
  t.equal(m.status, 404, 'a rotted manifest is not served');
  t.equal(((await m.json()) as { errors: { code: string }[] }).errors[0]!.code, 'MANIFEST_UNKNOWN');

  // A file verified earlier and changed in place since: the verified mark is tied to the file's identity.
  await flipByte(blobFile(r, served.digest), 0);
  const again = await rawHttp(r.port, { method: 'GET', target: `/v2/rot/app/blobs/${served.digest}` });
  const whole = 'read once while intact, then rots'.length;
  t.ok(again.status !== 200 || again.body.length < whole, `changed since verified: checked again, not served whole (${again.status}, ${again.body.length} bytes)`);
});

t.test('nora verify on the command line', async (t) => {
  const dir = await tempDir('nora-verify-cli-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const r = await startRegistry({}, dir);
  const a = await pushBlob(r, 'c/app', 'fine');
  const b = await pushBlob(r, 'c/app', 'about to rot');
  await r.close();
  const env = { ...process.env, NORA_STORAGE_PATH: r.config.storage.path, NORA_LOG_LEVEL: 'warn' };
  const clean = await exec(process.execPath, [CLI, 'verify'], { env, cwd: dir });
  t.match(clean.stdout, /verify: 2 blobs \(\d+ bytes\) checked, 0 mismatched/);
  await flipByte(blobFile(r, b.digest), 2);
  const bad = await exec(process.execPath, [CLI, 'verify'], { env, cwd: dir }).catch((e: { code: number; stdout: string }) => e);
  t.equal((bad as { code: number }).code, 1, 'exit 1 on a mismatch');
  t.match((bad as { stdout: string }).stdout, `MISMATCH ${b.digest} computed sha256:`);
  const q = await exec(process.execPath, [CLI, 'verify', '--quarantine'], { env, cwd: dir }).catch((e: { code: number; stdout: string }) => e);
  t.match((q as { stdout: string }).stdout, /quarantined to quarantine\/sha256\//);
  t.notOk(existsSync(blobFile(r, b.digest)));
  t.ok(existsSync(blobFile(r, a.digest)));
  const after = await exec(process.execPath, [CLI, 'verify'], { env, cwd: dir });
  t.match(after.stdout, /1 blobs .* 0 mismatched/);
});
