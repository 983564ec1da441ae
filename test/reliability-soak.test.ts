// Soak: mixed pushes and pulls with random client aborts against a real server
// process, then a check that it ends where it started: same file descriptors,
// no upload session or temp file left, RSS bounded, every acknowledged push
// still pulls byte-exact. CI runs 25 s; NORA_SOAK=1 runs the 5 minutes
// (NORA_SOAK_SECS sets any other length).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { digestOf } from '../src/main/digest.js';
import { spawnRegistry, tempDir, type Child } from './helpers/registry.js';
import { rawHttp } from './helpers/raw-http.js';
import { abortedRequest, fdCount, metricValue, rssBytes } from './helpers/process-stats.js';

const SECS = Number(process.env.NORA_SOAK_SECS ?? (process.env.NORA_SOAK ? 300 : 25));
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const mib = (b: number) => (b / 2 ** 20).toFixed(1);

t.test(`soak: ${SECS} s of mixed push/pull with random aborts`, { timeout: (SECS + 120) * 1000 }, async (t) => {
  const dir = await tempDir('nora-soak-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  let child: Child | null = await spawnRegistry(
    { NORA_STORAGE_PATH: join(dir, 'storage'), NORA_UPLOAD_SESSION_TTL_SECS: '2', NORA_MAX_UPLOAD_SESSIONS: '2000', NORA_MAX_UPLOAD_SESSIONS_PER_CLIENT: '2000', NORA_LOG_LEVEL: 'warn' },
    dir,
  );
  t.teardown(() => child?.stop('SIGKILL'));
  const pid = child.proc.pid!;
  const port = child.port;
  // A bounded pool of contents keeps the store small however long the soak runs.
  const pool = Array.from({ length: 64 }, (_, i) => randomBytes(32 * 1024 + ((i * 7919) % (480 * 1024))));
  const pick = () => pool[Math.floor(Math.random() * pool.length)]!;
  const pushed: { repo: string; digest: string; layers: string[] }[] = [];
  const counts = { push: 0, pull: 0, abortUpload: 0, abortDownload: 0, errors: 0 };

  const upload = async (repo: string, b: Buffer) => {
    const d = digestOf(b);
    if (Math.random() < 0.5) {
      const r = await rawHttp(port, { method: 'POST', target: `/v2/${repo}/blobs/uploads/?digest=${d}`, body: b });
      if (r.status !== 201) throw new Error(`blob POST ${r.status}`);
    } else {
      const post = await rawHttp(port, { method: 'POST', target: `/v2/${repo}/blobs/uploads/` });
      const half = Math.floor(b.length / 2);
      const p = await rawHttp(port, { method: 'PATCH', target: post.headers['location']!, body: b.subarray(0, half) });
      const put = await rawHttp(port, { method: 'PUT', target: `${p.headers['location']}?digest=${d}`, body: b.subarray(half) });
      if (put.status !== 201) throw new Error(`blob PUT ${put.status}`);
    }
    return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d, size: b.length };
  };
  const push = async () => {
    const repo = `soak/r${Math.floor(Math.random() * 20)}`;
    const layers = [await upload(repo, pick()), await upload(repo, pick())];
    const config = await upload(repo, Buffer.from(JSON.stringify({ os: 'linux', n: Math.floor(Math.random() * 50) })));
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { ...config, mediaType: 'application/vnd.oci.image.config.v1+json' }, layers }));
    const r = await rawHttp(port, { method: 'PUT', target: `/v2/${repo}/manifests/t${Math.floor(Math.random() * 5)}`, body: m, headers: { 'content-type': OCI_MANIFEST } });
    if (r.status !== 201) throw new Error(`manifest ${r.status}`);
    pushed.push({ repo, digest: digestOf(m), layers: layers.map((l) => l.digest) });
    counts.push++;
  };
  const pull = async () => {
    const p = pushed[Math.floor(Math.random() * pushed.length)];
    if (!p) return;
    const m = await rawHttp(port, { method: 'GET', target: `/v2/${p.repo}/manifests/${p.digest}`, headers: { accept: OCI_MANIFEST } });
    if (digestOf(m.body) !== p.digest) throw new Error(`manifest pull ${m.status}`);
    const l = p.layers[Math.floor(Math.random() * p.layers.length)]!;
    const b = await rawHttp(port, { method: 'GET', target: `/v2/${p.repo}/blobs/${l}` });
    if (digestOf(b.body) !== l) throw new Error(`blob pull ${b.status}`);
    counts.pull++;
  };
  const abortUpload = async () => {
    const b = pick();
    const repo = `soak/a${Math.floor(Math.random() * 5)}`;
    if (Math.random() < 0.5) {
      await abortedRequest(port, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digestOf(b)}`, b.length, Math.floor(Math.random() * b.length));
    } else {
      const post = await rawHttp(port, { method: 'POST', target: `/v2/${repo}/blobs/uploads/` });
      await abortedRequest(port, 'PATCH', post.headers['location']!, b.length, Math.floor(Math.random() * b.length));
    }
    counts.abortUpload++;
  };
  const abortDownload = async () => {
    const p = pushed[Math.floor(Math.random() * pushed.length)];
    if (!p) return;
    await abortedRequest(port, 'GET', `/v2/${p.repo}/blobs/${p.layers[0]}`, 0, 1 + Math.floor(Math.random() * 16 * 1024));
    counts.abortDownload++;
  };

  // Warm-up, then the baseline.
  for (let i = 0; i < 10; i++) await push();
  for (let i = 0; i < 10; i++) {
    await pull();
    await abortUpload();
    await abortDownload();
  }
  await new Promise((r) => setTimeout(r, 3000));
  const fdsBefore = await fdCount(pid);
  const rssBefore = await rssBytes(pid);
  const samples: string[] = [];

  const deadline = Date.now() + SECS * 1000;
  const worker = async () => {
    while (Date.now() < deadline) {
      const x = Math.random();
      try {
        if (x < 0.3) await push();
        else if (x < 0.7) await pull();
        else if (x < 0.85) await abortUpload();
        else await abortDownload();
      } catch (e) {
        counts.errors++;
        if (counts.errors <= 5) t.comment(`error: ${(e as Error).message}`);
      }
    }
  };
  const sampler = (async () => {
    let rssPeak = rssBefore;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.max(1000, (SECS * 1000) / 10)));
      const rss = await rssBytes(pid);
      rssPeak = Math.max(rssPeak, rss);
      samples.push(`${mib(rss)}`);
    }
    return rssPeak;
  })();
  await Promise.all(Array.from({ length: 12 }, worker));
  const rssPeak = await sampler;

  // Quiesce: aborted sessions expire after their 2 s TTL.
  let fds = 0;
  let sessions = -1;
  let tmp: string[] = [];
  const until = Date.now() + 15_000;
  for (;;) {
    fds = await fdCount(pid);
    sessions = await metricValue(port, 'nora_upload_sessions');
    tmp = (await readdir(join(dir, 'storage', 'tmp'))).filter((n) => !n.startsWith('probe'));
    if ((fds <= fdsBefore && sessions === 0 && tmp.length === 0) || Date.now() > until) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const rssAfter = await rssBytes(pid);
  t.equal(counts.errors, 0, 'no completed request failed');
  t.ok(fds <= fdsBefore, `fds back to baseline (${fdsBefore} -> ${fds})`);
  t.equal(sessions, 0, 'no upload session left');
  t.same(tmp, [], 'no temp file left');
  t.ok(rssPeak < 400 * 2 ** 20, `RSS bounded: peak ${mib(rssPeak)} MiB`);
  let intact = 0;
  for (const p of pushed.slice(-200)) {
    const m = await rawHttp(port, { method: 'GET', target: `/v2/${p.repo}/manifests/${p.digest}`, headers: { accept: OCI_MANIFEST } });
    if (digestOf(m.body) === p.digest) intact++;
  }
  t.equal(intact, Math.min(200, pushed.length), 'acknowledged pushes pull byte-exact');
  t.comment(
    `soak ${SECS} s: ${JSON.stringify(counts)}; fds ${fdsBefore} -> ${fds}; RSS ${mib(rssBefore)} MiB before, samples [${samples.join(', ')}], peak ${mib(rssPeak)}, after ${mib(rssAfter)} MiB`,
  );
  await child.stop('SIGTERM');
  child = null;
});
