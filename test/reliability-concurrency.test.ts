// Concurrency: parallel pushes of one blob, of one tag with different
// manifests, parallel npm publishes of different versions and PyPI uploads of
// one project — no lost update, no torn file, the result equals some serial
// order. Then hundreds of clients that abort mid-upload and mid-download
// against a real server process: no file descriptor, upload session or
// temp file outlives them, and RSS stays bounded.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { digestOf } from '../src/main/digest.js';
import { startRegistry, spawnRegistry, tempDir, type Child } from './helpers/registry.js';
import { OCI_MANIFEST, encode, pushBlob, putManifest } from './helpers/oci-push.js';
import { rawHttp } from './helpers/raw-http.js';
import { fdCount, rssBytes, metricValue, abortedRequest } from './helpers/process-stats.js';

t.test('parallel pushes of the same blob store it once, intact', async (t) => {
  const r = await startRegistry({ docker: { max_upload_sessions_per_client: 200, max_upload_sessions: 200 } });
  t.teardown(() => r.close());
  const bytes = randomBytes(512 * 1024);
  const d = digestOf(bytes);
  const single = Array.from({ length: 20 }, (_, i) => fetch(`${r.url}/v2/same/r${i % 4}/blobs/uploads/?digest=${d}`, { method: 'POST', body: bytes }));
  const chunked = Array.from({ length: 10 }, async (_, i) => {
    const post = await fetch(`${r.url}/v2/same/c${i % 3}/blobs/uploads/`, { method: 'POST' });
    const loc = post.headers.get('location')!;
    await fetch(`${r.url}${loc}`, { method: 'PATCH', body: bytes.subarray(0, 100_000), headers: { 'content-range': '0-99999' } });
    return fetch(`${r.url}${loc}?digest=${d}`, { method: 'PUT', body: bytes.subarray(100_000) });
  });
  const statuses = (await Promise.all([...single, ...chunked])).map((x) => x.status);
  t.same([...new Set(statuses)], [201], 'every push acknowledged');
  const hex = d.slice(7);
  const file = join(r.config.storage.path, 'blobs', 'sha256', hex.slice(0, 2), hex);
  t.equal(digestOf(await readFile(file)), d, 'one stored copy, intact');
  for (const repo of ['same/r0', 'same/r3', 'same/c2']) {
    const g = await fetch(`${r.url}/v2/${repo}/blobs/${d}`);
    t.equal(digestOf(Buffer.from(await g.arrayBuffer())), d, `${repo} serves it`);
  }
  t.same((await readdir(join(r.config.storage.path, 'tmp'))).filter((n) => !n.startsWith('probe')), [], 'no temp file left');
});

t.test('parallel pushes of one tag with different manifests: the tag ends on one of them, never torn', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const config = await pushBlob(r, 'race/tag', '{"os":"linux"}', 'application/vnd.oci.image.config.v1+json');
  const layers = await Promise.all(Array.from({ length: 16 }, (_, i) => pushBlob(r, 'race/tag', `layer ${i}`)));
  const manifests = layers.map((l, i) => encode({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [l], annotations: { n: String(i) } }, OCI_MANIFEST));
  for (let round = 0; round < 5; round++) {
    const res = await Promise.all(manifests.map((m) => putManifest(r, 'race/tag', 'latest', m.bytes, OCI_MANIFEST)));
    t.same([...new Set(res.map((x) => x.status))], [201], `round ${round}: all acknowledged`);
    const raw = (await readFile(join(r.config.storage.path, 'docker/race/tag/_manifests/tags/latest'), 'utf8')).trim();
    t.ok(manifests.some((m) => m.digest === raw), `round ${round}: the tag file holds exactly one pushed digest`);
    // Wait out the tag cache (1 s TTL is for other processes; our own writes invalidate it).
    const g = await fetch(`${r.url}/v2/race/tag/manifests/latest`, { headers: { accept: OCI_MANIFEST } });
    const body = Buffer.from(await g.arrayBuffer());
    t.equal(digestOf(body), g.headers.get('docker-content-digest'), 'served bytes match the served digest');
    t.equal(g.headers.get('docker-content-digest'), raw, 'and the tag file');
    for (const m of manifests) {
      const byDigest = await fetch(`${r.url}/v2/race/tag/manifests/${m.digest}`, { method: 'HEAD' });
      if (byDigest.status !== 200) t.fail(`manifest ${m.digest} lost`);
    }
  }
});

t.test('parallel npm publishes of different versions: every version lands', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const N = 24;
  const tarballs = Array.from({ length: N }, (_, i) => gzipSync(Buffer.from(`version ${i} `.repeat(50))));
  const res = await Promise.all(
    tarballs.map((tgz, i) => {
      const v = `1.0.${i}`;
      const doc = {
        name: 'racepkg',
        'dist-tags': { [`t${i}`]: v },
        versions: { [v]: { name: 'racepkg', version: v, dist: { integrity: 'sha512-' + createHash('sha512').update(tgz).digest('base64') } } },
        _attachments: { [`racepkg-${v}.tgz`]: { data: tgz.toString('base64'), length: tgz.length } },
      };
      return fetch(`${r.url}/npm/racepkg`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) });
    }),
  );
  t.same([...new Set(res.map((x) => x.status))], [201], 'every publish acknowledged');
  const doc = (await (await fetch(`${r.url}/npm/racepkg`)).json()) as { versions: Record<string, unknown>; 'dist-tags': Record<string, string>; _rev: string };
  t.equal(Object.keys(doc.versions).length, N, 'no lost version');
  for (let i = 0; i < N; i++) t.equal(doc['dist-tags'][`t${i}`], `1.0.${i}`, `tag t${i} kept`);
  t.ok(doc.versions[doc['dist-tags'].latest!], 'latest names a published version');
  t.match(doc._rev, new RegExp(`^${N}-`), 'one revision per publish: serialised');
  for (let i = 0; i < N; i += 5) {
    const tb = await fetch(`${r.url}/npm/racepkg/-/racepkg-1.0.${i}.tgz`);
    t.ok(Buffer.from(await tb.arrayBuffer()).equals(tarballs[i]!), `tarball 1.0.${i} intact`);
  }
});

t.test('parallel PyPI uploads of one project: every file lands', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const B = 'race-boundary';
  const form = (v: string, data: Buffer) =>
    Buffer.concat([
      Buffer.from(['file_upload', '1', 'race-proj', v].map((x, i) => `--${B}\r\nContent-Disposition: form-data; name="${[':action', 'protocol_version', 'name', 'version'][i]}"\r\n\r\n${x}\r\n`).join('')),
      Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="content"; filename="race-proj-${v}.tar.gz"\r\n\r\n`),
      data,
      Buffer.from(`\r\n--${B}--\r\n`),
    ]);
  const res = await Promise.all(Array.from({ length: 16 }, (_, i) => fetch(`${r.url}/pypi/`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${B}` }, body: form(`1.${i}`, Buffer.from(`sdist ${i}`)) })));
  t.same([...new Set(res.map((x) => x.status))], [200]);
  const page = (await (await fetch(`${r.url}/simple/race-proj/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as { files: { filename: string }[] };
  t.equal(page.files.length, 16, 'no lost file');
});

t.test('hundreds of clients aborting mid-upload and mid-download leak nothing', async (t) => {
  const dir = await tempDir('nora-abort-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  let child: Child | null = await spawnRegistry({ NORA_STORAGE_PATH: join(dir, 'storage'), NORA_UPLOAD_SESSION_TTL_SECS: '2', NORA_MAX_UPLOAD_SESSIONS: '1000', NORA_MAX_UPLOAD_SESSIONS_PER_CLIENT: '1000', NORA_LOG_LEVEL: 'warn' }, dir);
  t.teardown(() => child?.stop('SIGKILL'));
  const pid = child.proc.pid!;
  const port = child.port;
  const big = randomBytes(4 * 1024 * 1024);
  const d = digestOf(big);
  t.equal((await rawHttp(port, { method: 'POST', target: `/v2/ab/blob/blobs/uploads/?digest=${d}`, body: big })).status, 201);
  // Warm up every path once so lazily opened resources are counted in the baseline.
  await rawHttp(port, { method: 'GET', target: `/v2/ab/blob/blobs/${d}` });
  await abortedRequest(port, 'GET', `/v2/ab/blob/blobs/${d}`, 0, 64 * 1024);
  await new Promise((res) => setTimeout(res, 300));
  t.teardown(() => {
    if (child && child.proc.exitCode !== null) console.error(child.output().slice(-3000));
  });
  const fdsBefore = await fdCount(pid);
  const rssBefore = await rssBytes(pid);

  // Two rounds: RSS after the first shows the working set of 40 concurrent clients;
  // the second must not add to it (a leak grows with every client).
  const N = 200;
  const ROUNDS = Number(process.env.NORA_ABORT_ROUNDS ?? 2);
  const rssRounds: number[] = [];
  let next = 0;
  const kinds = { patch: 0, single: 0, download: 0, put: 0 };
  const worker = async () => {
    while (next < N) {
      const i = next++;
      const kind = (['patch', 'single', 'download', 'put'] as const)[i % 4];
      kinds[kind]++;
      if (kind === 'download') {
        await abortedRequest(port, 'GET', `/v2/ab/blob/blobs/${d}`, 0, 1024 + Math.floor(Math.random() * 2 * 1024 * 1024));
      } else if (kind === 'single') {
        await abortedRequest(port, 'POST', `/v2/ab/up${i % 10}/blobs/uploads/?digest=${d}`, big.length, Math.floor(Math.random() * big.length));
      } else {
        const post = await rawHttp(port, { method: 'POST', target: `/v2/ab/up${i % 10}/blobs/uploads/` });
        const loc = post.headers['location']!;
        const target = kind === 'put' ? `${loc}?digest=${d}` : loc;
        await abortedRequest(port, kind === 'put' ? 'PUT' : 'PATCH', target, big.length, Math.floor(Math.random() * big.length));
      }
    }
  };
  for (let round = 0; round < ROUNDS; round++) {
    next = 0;
    await Promise.all(Array.from({ length: 40 }, worker));
    rssRounds.push(await rssBytes(pid));
  }

  // Sessions the aborted clients opened expire after their 2 s TTL; then everything is back to baseline.
  let fds = 0;
  let sessions = -1;
  let tmp: string[] = [];
  const deadline = Date.now() + 15_000;
  for (;;) {
    fds = await fdCount(pid);
    sessions = await metricValue(port, 'nora_upload_sessions');
    tmp = (await readdir(join(dir, 'storage', 'tmp'))).filter((n) => !n.startsWith('probe'));
    if ((fds <= fdsBefore && sessions === 0 && tmp.length === 0) || Date.now() > deadline) break;
    await new Promise((res) => setTimeout(res, 250));
  }
  const rssAfter = await rssBytes(pid);
  t.ok(fds <= fdsBefore, `file descriptors back to baseline: ${fdsBefore} before, ${fds} after ${N} aborted clients`);
  t.equal(sessions, 0, 'no upload session left');
  t.same(tmp, [], 'no temp file left');
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  t.ok(rssAfter < 320 * 2 ** 20, `RSS bounded: ${mib(rssBefore)} MiB before, ${mib(rssAfter)} MiB after`);
  t.ok(rssRounds.at(-1)! < rssRounds[0]! + 48 * 2 ** 20, `no growth per client: RSS after each round ${rssRounds.map(mib).join(', ')} MiB`);
  const still = await rawHttp(port, { method: 'GET', target: `/v2/ab/blob/blobs/${d}` });
  t.equal(digestOf(still.body), d, 'the server still serves whole blobs');
  t.comment(`aborted: ${JSON.stringify(kinds)}; fds ${fdsBefore} -> ${fds}; RSS ${mib(rssBefore)} -> ${rssRounds.map(mib).join(' -> ')} -> ${mib(rssAfter)} MiB`);
  await child.stop('SIGTERM');
  child = null;
});
