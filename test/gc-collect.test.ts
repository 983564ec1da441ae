// `nora gc`: what is referenced (Docker manifests, indexes, referrers, links;
// npm, PyPI, Cargo and Maven documents, raw file pointers) survives, what is not is deleted once older than the
// grace period, expired upload temp files go, a dry run changes nothing, and a
// push running at the same time never loses a blob it was told was stored.
import t from 'tap';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { digestOf, parseDigest } from '../src/main/digest.js';
import { blobKey } from '../src/main/storage/blobs.js';
import { collectGarbage, type GcReport } from '../src/main/maintenance/gc.js';
import { CLI, startRegistry, tempDir, type Running } from './helpers/registry.js';
import { OCI_MANIFEST, encode, pushBlob, pushImage, pushIndex, putManifest, type Pushed } from './helpers/oci-push.js';
import { diffSnapshots, snapshotTree } from './helpers/tree-snapshot.js';
import { publish, publishBody, publishMeta } from './helpers/cargo-wire.js';
import { publishDoc } from './helpers/npm-publish-doc.js';

const exec = promisify(execFile);
const HOUR = 3600_000;

const blobFile = (r: Running, digest: string) => join(r.config.storage.path, blobKey(parseDigest(digest)!));

/** Every stored blob, as digests. */
async function storedBlobs(r: Running): Promise<Set<string>> {
  const out = new Set<string>();
  const root = join(r.config.storage.path, 'blobs');
  for (const alg of await readdir(root).catch(() => [] as string[])) {
    for (const pre of await readdir(join(root, alg))) {
      for (const hex of await readdir(join(root, alg, pre))) out.add(`${alg}:${hex}`);
    }
  }
  return out;
}

/** Makes every stored blob look `ageMs` old, so only references keep them. */
async function age(r: Running, ageMs = 2 * HOUR): Promise<void> {
  const when = new Date(Date.now() - ageMs);
  for (const d of await storedBlobs(r)) await utimes(blobFile(r, d), when, when);
}

function gc(r: Running, o: { dryRun?: boolean; graceMs?: number } = {}): Promise<GcReport> {
  return collectGarbage(r.registry.ctx.storage, { tempMaxAgeMs: r.config.docker.upload_session_ttl_secs * 1000, graceMs: HOUR, ...o });
}

async function pullsIntact(t: Tap, r: Running, name: string, m: Pushed): Promise<void> {
  const res = await fetch(`${r.url}/v2/${name}/manifests/${m.digest}`, { headers: { accept: m.mediaType } });
  const bytes = Buffer.from(await res.arrayBuffer());
  t.equal(res.status, 200, `${name}@${m.digest.slice(0, 19)} pulls`);
  t.equal(digestOf(bytes), m.digest, 'manifest bytes intact');
  const doc = JSON.parse(bytes.toString()) as { config?: { digest: string }; layers?: { digest: string }[] };
  for (const b of [doc.config, ...(doc.layers ?? [])]) {
    if (!b) continue;
    const g = await fetch(`${r.url}/v2/${name}/blobs/${b.digest}`);
    t.equal(digestOf(Buffer.from(await g.arrayBuffer())), b.digest, `blob ${b.digest.slice(0, 19)} intact`);
  }
}
type Tap = typeof t;


const BOUNDARY = 'gc-test-boundary';
function pypiForm(name: string, version: string, data: Buffer): Buffer {
  const field = (k: string, v: string) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`;
  return Buffer.concat([
    Buffer.from(
      field(':action', 'file_upload') + field('protocol_version', '1') + field('name', name) + field('version', version) +
        field('sha256_digest', createHash('sha256').update(data).digest('hex')),
    ),
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="content"; filename="${name}-${version}.tar.gz"\r\n\r\n`),
    data,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

t.test('gc keeps everything referenced by any format and deletes only old unreferenced blobs', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());

  // Referenced: an image, an index over it, a referrer, a linked blob, an npm tarball, a PyPI file, Maven files.
  const img = await pushImage(r, 'lib/app', 'v1', { layers: 2 });
  const other = await pushImage(r, 'lib/app', 'v2');
  const idx = await pushIndex(r, 'lib/app', 'multi', [img, other]);
  const subjectDesc = { mediaType: img.mediaType, digest: img.digest, size: img.size };
  const sigConfig = await pushBlob(r, 'lib/app', '{}', 'application/vnd.example.sig');
  const sig = encode({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.sig', config: sigConfig, layers: [], subject: subjectDesc }, OCI_MANIFEST);
  t.equal((await putManifest(r, 'lib/app', sig.digest, sig.bytes, OCI_MANIFEST)).status, 201);
  const linkedOnly = await pushBlob(r, 'lib/cache', 'uploaded, linked, not yet in any manifest');
  const tgz = gzipSync(Buffer.from('npm tarball for gc'));
  t.equal((await fetch(`${r.url}/npm/gcpkg`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(publishDoc('gcpkg', '1.0.0', tgz)) })).status, 201);
  const sdist = Buffer.from('a PyPI sdist for gc');
  const up = await fetch(`${r.url}/pypi/`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, body: pypiForm('gc-proj', '1.0', sdist) });
  t.equal(up.status, 200, await up.text());
  const crate = Buffer.from('a .crate for gc');
  t.equal((await publish(r.url, publishBody(publishMeta('gc-crate', '1.0.0'), crate))).status, 200);
  const rawKept = Buffer.from('a raw file for gc');
  t.equal((await fetch(`${r.url}/raw/gc/kept.txt`, { method: 'PUT', body: rawKept })).status, 201);
  const mvnJar = Buffer.from('a Maven release jar for gc');
  const mvn = `${r.url}/maven2/org/gc/lib`;
  t.equal((await fetch(`${mvn}/1.0/lib-1.0.jar`, { method: 'PUT', body: mvnJar })).status, 201);

  // Garbage: a blob nothing ever named; a blob whose only link was deleted; a
  // deleted manifest (with its own config); an unpublished npm version's tarball.
  const orphan = Buffer.from('never referenced');
  await r.registry.ctx.blobs.putBuffer(orphan, parseDigest(digestOf(orphan))!);
  const unlinked = await pushBlob(r, 'lib/app', 'linked, then deleted');
  t.equal((await fetch(`${r.url}/v2/lib/app/blobs/${unlinked.digest}`, { method: 'DELETE' })).status, 202);
  const dropped = await pushImage(r, 'lib/drop', 'gone', { layers: 1 });
  t.equal((await fetch(`${r.url}/v2/lib/drop/manifests/${dropped.digest}`, { method: 'DELETE' })).status, 202);
  const droppedDoc = JSON.parse(dropped.bytes.toString()) as { config: { digest: string }; layers: { digest: string }[] };
  // The dropped image's blobs are still linked in lib/drop: links keep them. Unlink them to make them garbage.
  for (const b of [droppedDoc.config, ...droppedDoc.layers]) await fetch(`${r.url}/v2/lib/drop/blobs/${b.digest}`, { method: 'DELETE' });
  const tgz2 = gzipSync(Buffer.from('npm tarball 1.1.0, unpublished later'));
  t.equal((await fetch(`${r.url}/npm/gcpkg`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...publishDoc('gcpkg', '1.1.0', tgz2), 'dist-tags': { latest: '1.1.0' } }) })).status, 201);
  const rev = ((await (await fetch(`${r.url}/npm/gcpkg?write=true`)).json()) as { _rev: string })._rev;
  const unpub = await fetch(`${r.url}/npm/gcpkg/-rev/${rev}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'gcpkg', versions: { '1.0.0': {} } }) });
  t.equal(unpub.status, 200, 'npm unpublish of 1.1.0');
  // Raw: a deleted file, and the first version of a replaced one.
  const rawGone = Buffer.from('a raw file deleted later');
  t.equal((await fetch(`${r.url}/raw/gc/gone.txt`, { method: 'PUT', body: rawGone })).status, 201);
  t.equal((await fetch(`${r.url}/raw/gc/gone.txt`, { method: 'DELETE' })).status, 204);
  const rawOld = Buffer.from('raw file, first version');
  const v1 = await fetch(`${r.url}/raw/gc/replaced.txt`, { method: 'PUT', body: rawOld });
  const rawNew = Buffer.from('raw file, second version');
  t.equal((await fetch(`${r.url}/raw/gc/replaced.txt`, { method: 'PUT', body: rawNew, headers: { 'if-match': v1.headers.get('etag')! } })).status, 200);
  // A Maven SNAPSHOT file redeployed: its first content is no longer named.
  const snapOld = Buffer.from('SNAPSHOT jar, replaced');
  const snapNew = Buffer.from('SNAPSHOT jar, current');
  for (const b of [snapOld, snapNew]) t.equal((await fetch(`${mvn}/2.0-SNAPSHOT/lib-2.0-SNAPSHOT.jar`, { method: 'PUT', body: b })).status, 201);
  const garbage = [digestOf(rawGone), digestOf(rawOld), digestOf(orphan), unlinked.digest, dropped.digest, droppedDoc.config.digest, ...droppedDoc.layers.map((l) => l.digest), digestOf(tgz2, 'sha512'), digestOf(snapOld)];

  // Temp files: an abandoned upload file (older than the session TTL) and a live session's file.
  const stale = join(r.config.storage.path, 'tmp', 'upload-abandoned');
  await writeFile(stale, 'half an upload');
  const old = new Date(Date.now() - (r.config.docker.upload_session_ttl_secs + 60) * 1000);
  await utimes(stale, old, old);
  const session = await fetch(`${r.url}/v2/lib/app/blobs/uploads/`, { method: 'POST' });
  const loc = session.headers.get('location')!;
  await fetch(`${r.url}${loc}`, { method: 'PATCH', body: 'first half ' });

  await age(r);
  const all = await storedBlobs(r);
  for (const g of garbage) t.ok(all.has(g), `garbage ${g.slice(0, 19)} is stored before gc`);

  // Young garbage survives a grace period.
  const young = Buffer.from('unreferenced but just uploaded');
  await r.registry.ctx.blobs.putBuffer(young, parseDigest(digestOf(young))!);

  const snap = () => snapshotTree(r.config.storage.path);
  const before = await snap();
  const listed: string[] = [];
  const dry = await collectGarbage(r.registry.ctx.storage, { dryRun: true, graceMs: HOUR, tempMaxAgeMs: r.config.docker.upload_session_ttl_secs * 1000, onBlob: (d) => listed.push(d) });
  t.same(diffSnapshots(before, await snap()), [], 'a dry run changes nothing');
  t.same(listed.sort(), [...garbage].sort(), 'the dry run lists exactly the garbage');
  t.equal(dry.tempFilesRemoved, 1, 'the dry run counts the abandoned temp file');

  const report = await gc(r);
  t.equal(report.blobsDeleted, garbage.length, 'every old unreferenced blob deleted');
  t.equal(report.blobsKeptYoung, 1, 'the young unreferenced blob kept');
  t.equal(report.tempFilesRemoved, 1);
  const after = await storedBlobs(r);
  for (const g of garbage) t.notOk(after.has(g), `garbage ${g.slice(0, 19)} gone`);
  t.same([...after].sort(), [...all].filter((d) => !garbage.includes(d)).concat(digestOf(young)).sort(), 'everything else kept');
  t.notOk(existsSync(stale), 'abandoned temp file removed');

  // Everything referenced still serves, byte-exact.
  await pullsIntact(t, r, 'lib/app', img);
  await pullsIntact(t, r, 'lib/app', other);
  await pullsIntact(t, r, 'lib/app', sig);
  const ix = await fetch(`${r.url}/v2/lib/app/manifests/multi`, { headers: { accept: idx.mediaType } });
  t.equal(digestOf(Buffer.from(await ix.arrayBuffer())), idx.digest, 'index intact');
  const refs = (await (await fetch(`${r.url}/v2/lib/app/referrers/${img.digest}`)).json()) as { manifests: { digest: string }[] };
  t.same(refs.manifests.map((m) => m.digest), [sig.digest], 'referrer still listed');
  const lb = await fetch(`${r.url}/v2/lib/cache/blobs/${linkedOnly.digest}`);
  t.equal(digestOf(Buffer.from(await lb.arrayBuffer())), linkedOnly.digest, 'linked-only blob intact');
  const tb = await fetch(`${r.url}/npm/gcpkg/-/gcpkg-1.0.0.tgz`);
  t.ok(Buffer.from(await tb.arrayBuffer()).equals(tgz), 'npm tarball intact');
  const pf = await fetch(`${r.url}/simple/gc-proj/gc-proj-1.0.tar.gz`);
  t.ok(Buffer.from(await pf.arrayBuffer()).equals(sdist), 'PyPI file intact');
  const cf = await fetch(`${r.url}/cargo/api/v1/crates/gc-crate/1.0.0/download`);
  t.ok(Buffer.from(await cf.arrayBuffer()).equals(crate), '.crate intact');
  t.equal(await (await fetch(`${r.url}/raw/gc/kept.txt`)).text(), rawKept.toString(), 'raw file intact');
  t.equal(await (await fetch(`${r.url}/raw/gc/replaced.txt`)).text(), rawNew.toString(), 'replaced raw file intact');
  t.ok(Buffer.from(await (await fetch(`${mvn}/1.0/lib-1.0.jar`)).arrayBuffer()).equals(mvnJar), 'Maven release jar intact');
  t.ok(Buffer.from(await (await fetch(`${mvn}/2.0-SNAPSHOT/lib-2.0-SNAPSHOT.jar`)).arrayBuffer()).equals(snapNew), 'Maven SNAPSHOT jar intact');
  // The live upload session carries on and completes.
  const done = await fetch(`${r.url}${loc}?digest=${digestOf(Buffer.from('first half second half'))}`, { method: 'PUT', body: 'second half' });
  t.equal(done.status, 201, 'the upload session in progress survived gc');

  // A second run finds nothing more to do.
  const again = await gc(r);
  t.equal(again.blobsDeleted, 0, 'idempotent');
});

t.test('gc during pushes: nothing a push was told is stored goes missing', async (t) => {
  const r = await startRegistry({ docker: { max_upload_sessions: 1000, max_upload_sessions_per_client: 1000 } });
  t.teardown(() => r.close());
  await pushImage(r, 'base/img', 'v1');

  // Old, unreferenced blobs that pushes are about to re-upload: the dangerous case
  // (without refreshing them on re-upload, gc would see them as old garbage).
  const N = 120;
  const payloads = Array.from({ length: N }, (_, i) => Buffer.from(`layer ${i} pushed again while gc runs`));
  for (const p of payloads) await r.registry.ctx.blobs.putBuffer(p, parseDigest(digestOf(p))!);
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  await r.registry.ctx.blobs.putBuffer(config, parseDigest(digestOf(config))!);
  await age(r);

  // A push half done: one blob uploaded (linked, not yet in a manifest), another mid-session.
  const early = await pushBlob(r, 'mid/push', 'uploaded before gc started');
  const s = await fetch(`${r.url}/v2/mid/push/blobs/uploads/`, { method: 'POST' });
  const loc = s.headers.get('location')!;
  await fetch(`${r.url}${loc}`, { method: 'PATCH', body: 'chunk one, ' });

  // Pushes land at staggered times while gc runs back to back, so sweeps and
  // re-uploads of the same old blobs interleave.
  let pushing = true;
  const pushes = payloads.map(async (p, i) => {
    await new Promise((res) => setTimeout(res, Math.random() * 400));
    const name = `race/r${i}`;
    const cfg = await pushBlob(r, name, config, 'application/vnd.oci.image.config.v1+json');
    const layer = await pushBlob(r, name, p);
    const m = encode({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: cfg, layers: [layer] }, OCI_MANIFEST);
    const res = await putManifest(r, name, 'v1', m.bytes, OCI_MANIFEST);
    await res.arrayBuffer();
    return { name, m, status: res.status };
  });
  const reports: GcReport[] = [];
  const runs = (async () => {
    while (pushing) reports.push(await gc(r));
  })();
  let results;
  try {
    results = await Promise.all(pushes);
  } finally {
    pushing = false;
    await runs;
  }
  const finish = await fetch(`${r.url}${loc}?digest=${digestOf(Buffer.from('chunk one, chunk two'))}`, { method: 'PUT', body: 'chunk two' });
  t.equal(finish.status, 201, 'the session that was mid-way completes');
  const mid = encode({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: early, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digestOf(Buffer.from('chunk one, chunk two')), size: 20 }] }, OCI_MANIFEST);
  const midRes = await putManifest(r, 'mid/push', 'v1', mid.bytes, OCI_MANIFEST);
  t.equal(midRes.status, 201, 'the half-done push finishes: its blobs survived gc');

  for (const x of results) {
    t.equal(x.status, 201, `${x.name} pushed`);
    await pullsIntact(t, r, x.name, x.m);
  }
  await pullsIntact(t, r, 'mid/push', mid);
  const sum = (k: keyof GcReport) => reports.reduce((a, x) => a + Number(x[k]), 0);
  t.ok(reports.length >= 1, `gc ran ${reports.length} times during the pushes`);
  t.comment(`${reports.length} gc runs during the pushes: ${sum('blobsDeleted')} deleted, ${sum('blobsRestored')} restored (refreshed mid-sweep), ${sum('blobsKeptYoung')} kept young`);
  // With a zero grace and nothing running, a final gc still keeps every referenced blob.
  const final = await gc(r, { graceMs: 0 });
  t.equal(final.blobsDeleted, 0, 'nothing referenced is collectable');
});

t.test('nora gc on the command line', async (t) => {
  const dir = await tempDir('nora-gc-cli-');
  const r = await startRegistry({}, dir);
  const orphan = Buffer.from('cli orphan');
  const d = digestOf(orphan);
  await r.registry.ctx.blobs.putBuffer(orphan, parseDigest(d)!);
  const kept = await pushImage(r, 'cli/app', 'v1');
  await r.close();
  await age(r);
  const env = { ...process.env, NORA_STORAGE_PATH: r.config.storage.path, NORA_LOG_LEVEL: 'warn' };
  const dry = await exec(process.execPath, [CLI, 'gc', '--dry-run'], { env, cwd: dir });
  t.match(dry.stdout, `would delete ${d} ${orphan.length}`);
  t.match(dry.stdout, /gc \(dry run\): \d+ blobs, \d+ referenced, 0 kept .* 1 deletable/);
  t.ok(existsSync(blobFile(r, d)), 'dry run deleted nothing');
  const young = await exec(process.execPath, [CLI, 'gc', '--grace-secs', String(3 * 3600)], { env, cwd: dir });
  t.match(young.stdout, / 0 deleted/, 'a long grace keeps it');
  const real = await exec(process.execPath, [CLI, 'gc'], { env, cwd: dir });
  t.match(real.stdout, `deleted ${d}`);
  t.notOk(existsSync(blobFile(r, d)), 'deleted');
  t.ok(existsSync(blobFile(r, kept.digest)), 'referenced manifest kept');
  const bad = await exec(process.execPath, [CLI, 'gc', '--bogus'], { env, cwd: dir }).catch((e: { code: number; stderr: string }) => e);
  t.equal((bad as { code: number }).code, 2, 'unknown option: exit 2');
  t.ok((await stat(r.config.storage.path)).isDirectory());
  const { rm } = await import('node:fs/promises');
  await rm(dir, { recursive: true, force: true });
});
