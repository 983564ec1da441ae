// Disk full: the store lives on a small tmpfs (or, where tmpfs cannot be
// mounted, a loop-mounted ext4 image) that is then filled to the last block.
// Every write answers 507 in its format's error shape, nothing already stored
// changes, reads keep working, no temp file is left behind, and once space is
// freed the same writes succeed.
import t from 'tap';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, open, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestOf } from '../src/main/digest.js';
import { startRegistry, tempDir, type Running } from './helpers/registry.js';
import { OCI_MANIFEST, encode, pushBlob, pushImage, putManifest } from './helpers/oci-push.js';
import { rawHttp } from './helpers/raw-http.js';
import { diffSnapshots, snapshotTree } from './helpers/tree-snapshot.js';

const exec = promisify(execFile);

/** Mounts a small filesystem at `dir`; returns how, or why it could not. */
async function mountSmall(dir: string, image: string): Promise<{ ok: true; how: string } | { ok: false; why: string }> {
  try {
    await exec('mount', ['-t', 'tmpfs', '-o', 'size=12m,mode=0755', 'tmpfs', dir]);
    return { ok: true, how: 'tmpfs (12 MiB)' };
  } catch (e) {
    const tmpfsError = (e as { stderr?: string }).stderr?.trim() || String(e);
    try {
      await exec('truncate', ['-s', '16M', image]);
      await exec('mkfs.ext4', ['-q', '-F', image]);
      await exec('mount', ['-o', 'loop', image, dir]);
      return { ok: true, how: 'loop-mounted ext4 image (16 MiB)' };
    } catch (e2) {
      return { ok: false, why: `cannot mount a small filesystem here (tmpfs: ${tmpfsError}; loop ext4: ${(e2 as { stderr?: string }).stderr?.trim() || String(e2)})` };
    }
  }
}

/** Writes until the filesystem refuses; returns the filler's path. */
async function fill(dir: string): Promise<string> {
  const path = join(dir, 'filler');
  const fh = await open(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (let size = chunk.length; ; ) {
      try {
        await fh.write(chunk.subarray(0, size));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        if (size === 1) break;
        size = Math.max(1, size >> 1); // take the last partial block too
      }
    }
  } finally {
    await fh.close();
  }
  return path;
}

const BOUNDARY = 'diskfull-boundary';
function pypiForm(name: string, version: string, data: Buffer): Buffer {
  const field = (k: string, v: string) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`;
  return Buffer.concat([
    Buffer.from(field(':action', 'file_upload') + field('protocol_version', '1') + field('name', name) + field('version', version)),
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="content"; filename="${name}-${version}.tar.gz"\r\n\r\n`),
    data,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}
function npmDoc(version: string, data: Buffer): string {
  return JSON.stringify({
    name: 'fullpkg',
    'dist-tags': { latest: version },
    versions: { [version]: { name: 'fullpkg', version, dist: { integrity: 'sha512-' + createHash('sha512').update(data).digest('base64') } } },
    _attachments: { [`fullpkg-${version}.tgz`]: { data: data.toString('base64'), length: data.length } },
  });
}

t.test('a full disk: writes fail with 507, stored data is untouched, reads keep working', async (t) => {
  const dir = await tempDir('nora-diskfull-');
  const mnt = join(dir, 'mnt');
  await mkdir(mnt);
  const mounted = await mountSmall(mnt, join(dir, 'fs.img'));
  if (!mounted.ok) {
    await rm(dir, { recursive: true, force: true });
    t.skip(mounted.why);
    return;
  }
  t.comment(`store on ${mounted.how}`);
  let r: Running | null = null;
  t.teardown(async () => {
    await r?.close();
    await exec('umount', ['-l', mnt]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });
  r = await startRegistry({ storage: { path: join(mnt, 'storage') } }, dir);
  const url = r.url;

  // Stored before the disk fills.
  const img = await pushImage(r, 'full/app', 'v1', { layers: 2 });
  const tgz = gzipSync(Buffer.from('stored before the disk filled'));
  t.equal((await fetch(`${url}/npm/fullpkg`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: npmDoc('1.0.0', tgz) })).status, 201);
  const sdist = Buffer.from('an sdist stored before the disk filled');
  t.equal((await fetch(`${url}/pypi/`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, body: pypiForm('full-proj', '1.0', sdist) })).status, 200);
  const session = await fetch(`${url}/v2/full/app/blobs/uploads/`, { method: 'POST' });
  const loc = session.headers.get('location')!;
  t.equal((await fetch(`${url}${loc}`, { method: 'PATCH', body: Buffer.alloc(1000, 3) })).status, 202);

  const filler = await fill(mnt);
  const snap = () => snapshotTree(join(mnt, 'storage'), (rel) => rel === 'tmp' || rel.startsWith('tmp/'));
  const before = await snap();
  const tmpFiles = async () => (await readdir(join(mnt, 'storage', 'tmp'))).sort();
  const tmpBefore = await tmpFiles();

  const blob = Buffer.alloc(300 * 1024, 9);
  const small = Buffer.from('tiny');
  const doc = JSON.parse(img.bytes.toString()) as Record<string, unknown>;
  const retag = encode({ ...doc, annotations: { again: 'yes' } }, OCI_MANIFEST);
  const writes: [string, () => Promise<{ status: number; body: Buffer; type: string }>, 'oci' | 'npm' | 'pypi'][] = [
    ['docker single POST', () => raw('POST', `/v2/full/app/blobs/uploads/?digest=${digestOf(blob)}`, blob), 'oci'],
    ['docker single POST, tiny', () => raw('POST', `/v2/full/app/blobs/uploads/?digest=${digestOf(small)}`, small), 'oci'],
    ['docker PATCH', () => raw('PATCH', loc, blob), 'oci'],
    ['docker PUT completing a session', () => raw('PUT', `${loc}?digest=${digestOf(Buffer.concat([Buffer.alloc(1000, 3), blob]))}`, blob), 'oci'],
    ['docker manifest PUT (new bytes)', () => raw('PUT', '/v2/full/app/manifests/v2', retag.bytes, { 'content-type': OCI_MANIFEST }), 'oci'],
    ['docker tag of a stored manifest', () => raw('PUT', '/v2/full/app/manifests/another', img.bytes, { 'content-type': OCI_MANIFEST }), 'oci'],
    ['npm publish', () => raw('PUT', '/npm/fullpkg', Buffer.from(npmDoc('1.1.0', gzipSync(Buffer.alloc(200_000, 5)))), { 'content-type': 'application/json' }), 'npm'],
    ['npm dist-tag', () => raw('PUT', '/npm/-/package/fullpkg/dist-tags/beta', Buffer.from('"1.0.0"'), { 'content-type': 'application/json' }), 'npm'],
    ['PyPI upload', () => raw('POST', '/pypi/', pypiForm('full-proj', '1.1', Buffer.alloc(200_000, 6)), { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }), 'pypi'],
  ];
  async function raw(method: string, target: string, body: Buffer, headers: Record<string, string> = {}) {
    const res = await rawHttp(r!.port, { method, target, body, headers }, 15_000);
    return { status: res.status, body: res.body, type: res.headers['content-type'] ?? '' };
  }
  for (const [label, write, shape] of writes) {
    const res = await write();
    t.equal(res.status, 507, `${label}: 507`);
    const text = res.body.toString();
    if (shape === 'oci') t.match(JSON.parse(text), { errors: [{ code: String, message: /storage/ }] }, `${label}: OCI error body`);
    if (shape === 'npm') t.match(JSON.parse(text), { error: /storage/ }, `${label}: npm error body`);
    if (shape === 'pypi') t.match(text, /storage/, `${label}: plain-text error`);
    t.same(diffSnapshots(before, await snap()), [], `${label}: nothing stored changed`);
    t.same(await tmpFiles(), tmpBefore, `${label}: no temp file left behind`);
  }
  const status = await fetch(`${url}${loc}`);
  t.equal(status.headers.get('range'), '0-999', 'the upload session kept its accepted bytes only');

  // Reads keep working, byte-exact.
  const m = await fetch(`${url}/v2/full/app/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
  t.ok(Buffer.from(await m.arrayBuffer()).equals(img.bytes), 'manifest pulls');
  for (const l of (doc.layers as { digest: string }[])) {
    const b = await fetch(`${url}/v2/full/app/blobs/${l.digest}`);
    t.equal(digestOf(Buffer.from(await b.arrayBuffer())), l.digest, 'layer pulls');
  }
  t.ok(Buffer.from(await (await fetch(`${url}/npm/fullpkg/-/fullpkg-1.0.0.tgz`)).arrayBuffer()).equals(tgz), 'npm tarball downloads');
  t.ok(Buffer.from(await (await fetch(`${url}/simple/full-proj/full-proj-1.0.tar.gz`)).arrayBuffer()).equals(sdist), 'PyPI file downloads');
  t.equal((await fetch(`${url}/v2/_catalog`)).status, 200, 'listings work');

  // Space back: the same writes go through.
  await unlink(filler);
  t.equal((await fetch(`${url}/v2/full/app/blobs/uploads/?digest=${digestOf(blob)}`, { method: 'POST', body: blob })).status, 201, 'blob upload works again');
  t.equal((await putManifest(r, 'full/app', 'v2', retag.bytes, OCI_MANIFEST)).status, 201, 'manifest push works again');
  t.equal((await fetch(`${url}/npm/fullpkg`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: npmDoc('1.1.0', gzipSync(Buffer.alloc(200_000, 5))) })).status, 201, 'npm publish works again');
  const done = await fetch(`${url}${loc}?digest=${digestOf(Buffer.concat([Buffer.alloc(1000, 3), blob]))}`, { method: 'PUT', body: blob });
  t.equal(done.status, 201, 'the session survived the full disk and completes');
  await pushBlob(r, 'full/app', 'after');
  await writeFile(join(dir, 'done'), '');
});
