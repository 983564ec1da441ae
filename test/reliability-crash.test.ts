// Crash safety: a real server process is SIGKILLed at random instants while
// blob uploads (chunked PATCH/PUT and single POST), manifest pushes, tag
// overwrites, npm publishes, cargo publishes, raw file uploads, Maven deploys
// and token create/revoke are in flight — at least 50
// times. After each restart: every write the server acknowledged is present
// and intact (digests re-verified), nothing half-written is visible (every
// stored blob hashes to its name, every tag and revision points at stored
// bytes, every metadata file parses), temp files are gone, the server is clean.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { digestOf, parseDigest } from '../src/main/digest.js';
import { LocalDriver } from '../src/main/storage/drivers/local.js';
import { BlobStore } from '../src/main/storage/blobs.js';
import { verifyBlobs } from '../src/main/maintenance/verify.js';
import { spawnRegistry, tempDir, type Child } from './helpers/registry.js';
import { basic, makeHtpasswd } from './helpers/auth.js';
import { publishBody, publishMeta } from './helpers/cargo-wire.js';

const KILLS = Number(process.env.NORA_CRASH_KILLS ?? 50);
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const AUTH = basic('admin', 'admin-pw');

interface Ledger {
  blobs: Map<string, { repo: string; bytes: Buffer }>;
  manifests: Map<string, { repo: string; bytes: Buffer }>;
  /** tag → digests it may point at: the last acknowledged plus any unacknowledged attempt after it */
  tags: Map<string, { repo: string; tag: string; possible: Set<string>; acked: string | null }>;
  npm: Map<string, Buffer>;
  /** cargo version → its .crate; raw path → its bytes */
  cargo: Map<string, Buffer>;
  raw: Map<string, Buffer>;
  /** Maven file path below /maven2/ → bytes acknowledged */
  maven: Map<string, Buffer>;
  tokens: Map<string, 'live' | 'revoked' | 'unknown'>;
}

function req(url: string, method: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method, body, headers: { authorization: AUTH, ...headers } });
}

/** Runs `op`, swallowing the connection errors a kill causes; true when it completed. */
async function survive(op: () => Promise<void>): Promise<boolean> {
  try {
    await op();
    return true;
  } catch {
    return false;
  }
}

t.test(`${KILLS} SIGKILLs during writes lose nothing acknowledged and leave nothing half-written`, async (t) => {
  const dir = await tempDir('nora-crash-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const htpasswd = await makeHtpasswd(dir, { admin: 'admin-pw' });
  const storagePath = join(dir, 'storage');
  const tokensDir = join(dir, 'tokens');
  const env = {
    NORA_STORAGE_PATH: storagePath,
    NORA_AUTH_ENABLED: 'true',
    NORA_AUTH_HTPASSWD_FILE: htpasswd,
    NORA_AUTH_TOKEN_STORAGE: tokensDir,
    NORA_AUTH_ADMIN_USERS: 'admin',
    NORA_AUTH_HASH_WORKERS: '1',
    NORA_LOG_LEVEL: 'warn',
  };
  const ledger: Ledger = { blobs: new Map(), manifests: new Map(), tags: new Map(), npm: new Map(), cargo: new Map(), raw: new Map(), maven: new Map(), tokens: new Map() };
  let child: Child | null = null;
  t.teardown(() => child?.stop('SIGKILL'));
  const inFlightAtKill = new Map<string, number>();
  let seq = 0;

  // ---- write operations; each records only what the server acknowledged ----
  const chunkedUpload = async (url: string) => {
    const repo = `crash/c${seq++ % 7}`;
    const bytes = randomBytes(32 * 1024 + Math.floor(Math.random() * 64 * 1024));
    const d = digestOf(bytes);
    const post = await req(`${url}/v2/${repo}/blobs/uploads/`, 'POST');
    let loc = `${url}${post.headers.get('location')}`;
    const step = 16 * 1024;
    let off = 0;
    for (; off + step < bytes.length; off += step) {
      const p = await req(loc, 'PATCH', bytes.subarray(off, off + step), { 'content-range': `${off}-${off + step - 1}`, 'content-type': 'application/octet-stream' });
      if (p.status !== 202) throw new Error(`PATCH ${p.status}`);
      loc = `${url}${p.headers.get('location')}`;
    }
    const put = await req(`${loc}?digest=${d}`, 'PUT', bytes.subarray(off), { 'content-type': 'application/octet-stream' });
    if (put.status === 201) ledger.blobs.set(d, { repo, bytes });
  };
  const singleUpload = async (url: string) => {
    const repo = `crash/s${seq++ % 5}`;
    const bytes = randomBytes(32 * 1024 + Math.floor(Math.random() * 128 * 1024));
    const d = digestOf(bytes);
    const res = await req(`${url}/v2/${repo}/blobs/uploads/?digest=${d}`, 'POST', bytes, { 'content-type': 'application/octet-stream' });
    if (res.status === 201) ledger.blobs.set(d, { repo, bytes });
  };
  const pushImage = async (url: string, repo: string, tag: string) => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', n: seq++ }));
    const layer = randomBytes(16 * 1024);
    for (const b of [config, layer]) {
      const r = await req(`${url}/v2/${repo}/blobs/uploads/?digest=${digestOf(b)}`, 'POST', b);
      if (r.status !== 201) throw new Error(`blob ${r.status}`);
      ledger.blobs.set(digestOf(b), { repo, bytes: b });
    }
    const m = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
      layers: [{ mediaType: LAYER, digest: digestOf(layer), size: layer.length }],
    }));
    const key = `${repo}:${tag}`;
    const entry = ledger.tags.get(key) ?? { repo, tag, possible: new Set<string>(), acked: null };
    ledger.tags.set(key, entry);
    entry.possible.add(digestOf(m)); // may land even if the answer never arrives
    const res = await req(`${url}/v2/${repo}/manifests/${tag}`, 'PUT', m, { 'content-type': OCI_MANIFEST });
    if (res.status !== 201) throw new Error(`manifest ${res.status}`);
    ledger.manifests.set(digestOf(m), { repo, bytes: m });
    // Acknowledged: from now on the tag is this or something pushed later.
    entry.possible = new Set([digestOf(m)]);
    entry.acked = digestOf(m);
  };
  const manifestPush = (url: string) => pushImage(url, `crash/img${seq % 4}`, `t${seq++ % 3}`);
  const tagOverwrite = async (url: string) => {
    for (let i = 0; i < 3; i++) await pushImage(url, 'crash/hot', 'latest');
  };
  const npmPublish = async (url: string) => {
    const version = `1.0.${seq++}`;
    const tgz = gzipSync(randomBytes(8 * 1024));
    const doc = {
      name: 'crashpkg',
      'dist-tags': { latest: version },
      versions: { [version]: { name: 'crashpkg', version, dist: { integrity: 'sha512-' + createHash('sha512').update(tgz).digest('base64') } } },
      _attachments: { [`crashpkg-${version}.tgz`]: { data: tgz.toString('base64'), length: tgz.length } },
    };
    const res = await req(`${url}/npm/crashpkg`, 'PUT', JSON.stringify(doc), { 'content-type': 'application/json' });
    if (res.status === 201) ledger.npm.set(version, tgz);
  };
  const cargoPublish = async (url: string) => {
    const version = `0.1.${seq++}`;
    const crate = randomBytes(24 * 1024 + Math.floor(Math.random() * 64 * 1024));
    const res = await req(`${url}/cargo/api/v1/crates/new`, 'PUT', publishBody(publishMeta('crash-crate', version), crate));
    if (res.status === 200) ledger.cargo.set(version, crate);
  };
  const rawUpload = async (url: string) => {
    const path = `crash/f${seq++}.bin`;
    const bytes = randomBytes(32 * 1024 + Math.floor(Math.random() * 128 * 1024));
    const res = await req(`${url}/raw/${path}`, 'PUT', bytes, { 'if-none-match': '*' });
    if (res.status === 201) ledger.raw.set(path, bytes);
  };
  const mavenDeploy = async (url: string) => {
    // A release (jar + POM + checksum) and a SNAPSHOT build, as mvn deploy sends them.
    const n = seq++;
    const snapshot = `2.${n}-SNAPSHOT`;
    const files = [
      [`crash/lib/1.${n}/lib-1.${n}.jar`, randomBytes(8 * 1024 + Math.floor(Math.random() * 32 * 1024))],
      [`crash/lib/1.${n}/lib-1.${n}.pom`, Buffer.from(`<project><version>1.${n}</version></project>`)],
      [`crash/lib/${snapshot}/lib-2.${n}-20260101.120000-1.jar`, randomBytes(16 * 1024)],
    ] as const;
    for (const [path, bytes] of files) {
      const res = await req(`${url}/maven2/${path}`, 'PUT', bytes);
      if (res.status !== 201) throw new Error(`maven ${res.status}`);
      ledger.maven.set(path, bytes);
      const sha1 = await req(`${url}/maven2/${path}.sha1`, 'PUT', createHash('sha1').update(bytes).digest('hex'));
      if (sha1.status !== 201) throw new Error(`maven sidecar ${sha1.status}`);
    }
  };
  const tokenOps = async (url: string) => {
    const res = await fetch(`${url}/api/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'admin-pw', role: 'write' }) });
    if (res.status !== 200) return;
    const token = ((await res.json()) as { token: string }).token;
    ledger.tokens.set(token, 'live');
    await req(`${url}/v2/`, 'GET', undefined, { authorization: `Bearer ${token}` }); // a pending last_used
    const live = [...ledger.tokens].filter(([, s]) => s === 'live');
    if (live.length > 3) {
      const victim = live[Math.floor(Math.random() * live.length)]![0];
      const id = createHash('sha256').update(victim).digest('hex').slice(0, 16);
      // Until the revoke is acknowledged, a kill may leave the token either way.
      ledger.tokens.set(victim, 'unknown');
      const rv = await fetch(`${url}/api/tokens/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'admin-pw', hash_prefix: id }) });
      if (rv.status === 200) ledger.tokens.set(victim, 'revoked');
    }
  };
  const kinds: [string, (url: string) => Promise<void>][] = [
    ['chunked upload', chunkedUpload],
    ['single upload', singleUpload],
    ['manifest push', manifestPush],
    ['tag overwrite', tagOverwrite],
    ['npm publish', npmPublish],
    ['token create/revoke', tokenOps],
  ];
  // Run as a fourth writer, alternating, so the rotation of the others is unchanged.
  const extras: [string, (url: string) => Promise<void>][] = [
    ['cargo publish', cargoPublish],
    ['raw upload', rawUpload],
    ['maven deploy', mavenDeploy],
  ];

  // ---- checks after each restart ----
  const sample = <T>(xs: T[], n: number) => (xs.length <= n ? xs : Array.from({ length: n }, () => xs[Math.floor(Math.random() * xs.length)]!));
  async function checkState(url: string, full: boolean): Promise<string[]> {
    const problems: string[] = [];
    // Nothing left in tmp/ from the killed process.
    const tmp = (await readdir(join(storagePath, 'tmp')).catch(() => [] as string[])).filter((n) => !n.startsWith('probe-'));
    if (tmp.length) problems.push(`temp files survived the restart: ${tmp.join(', ')}`);
    const tokTmp = (await readdir(tokensDir)).filter((n) => !n.endsWith('.json'));
    if (tokTmp.length) problems.push(`token temp files: ${tokTmp.join(', ')}`);
    // Every stored blob hashes to its name (a torn blob would not).
    const v = await verifyBlobs(new BlobStore(new LocalDriver(storagePath)));
    if (v.bad.length) problems.push(`blobs not matching their digest: ${v.bad.map((b) => b.digest).join(', ')}`);
    // Every tag names a revision of its repo, whose bytes are stored; every metadata file parses.
    const walk = async (d: string): Promise<string[]> => {
      const out: string[] = [];
      for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
        const p = join(d, e.name);
        if (e.isDirectory()) out.push(...(await walk(p)));
        else out.push(p);
      }
      return out;
    };
    for (const f of await walk(join(storagePath, 'docker'))) {
      const rel = f.slice(storagePath.length + 1);
      const m = /^docker\/(.+)\/_manifests\/tags\/([^/]+)$/.exec(rel);
      if (m) {
        const d = parseDigest((await readFile(f, 'utf8')).trim());
        if (!d) problems.push(`tag file ${rel} does not hold a digest`);
        else if (!(await fileExists(join(storagePath, 'docker', m[1]!, '_manifests', 'revisions', d.algorithm, d.hex)))) problems.push(`tag ${rel} points at a missing revision`);
      }
      const rv = /_manifests\/revisions\/(sha256|sha512)\/([0-9a-f]+)$/.exec(rel);
      if (rv) {
        JSON.parse(await readFile(f, 'utf8'));
        if (!(await fileExists(join(storagePath, 'blobs', rv[1]!, rv[2]!.slice(0, 2), rv[2]!)))) problems.push(`revision ${rel} without its manifest bytes`);
      }
    }
    for (const f of await walk(join(storagePath, 'npm'))) JSON.parse(await readFile(f, 'utf8'));
    // Cargo and raw metadata parse and name only stored .crate / file bytes.
    const blobStored = (hex: string) => fileExists(join(storagePath, 'blobs', 'sha256', hex.slice(0, 2), hex));
    for (const f of await walk(join(storagePath, 'cargo'))) {
      for (const v of (JSON.parse(await readFile(f, 'utf8')) as { versions: { entry: { vers: string; cksum: string } }[] }).versions)
        if (!(await blobStored(v.entry.cksum))) problems.push(`cargo ${v.entry.vers} names a missing .crate`);
    }
    for (const f of await walk(join(storagePath, 'raw'))) {
      const p = JSON.parse(await readFile(f, 'utf8')) as { sha256: string };
      if (!(await blobStored(p.sha256))) problems.push(`raw ${f.slice(storagePath.length)} names missing bytes`);
    }
    for (const f of await walk(join(storagePath, 'maven'))) JSON.parse(await readFile(f, 'utf8'));
    for (const f of (await readdir(tokensDir)).filter((n) => n.endsWith('.json'))) JSON.parse(await readFile(join(tokensDir, f), 'utf8'));

    // Acknowledged writes, re-read over HTTP and re-hashed.
    for (const [d, b] of full ? [...ledger.blobs] : sample([...ledger.blobs], 12)) {
      const res = await req(`${url}/v2/${b.repo}/blobs/${d}`, 'GET');
      const got = Buffer.from(await res.arrayBuffer());
      if (res.status !== 200 || digestOf(got) !== d) problems.push(`acknowledged blob ${d} (${b.repo}) answered ${res.status}`);
    }
    for (const [d, m] of full ? [...ledger.manifests] : sample([...ledger.manifests], 8)) {
      const res = await req(`${url}/v2/${m.repo}/manifests/${d}`, 'GET', undefined, { accept: OCI_MANIFEST });
      if (res.status !== 200 || digestOf(Buffer.from(await res.arrayBuffer())) !== d) problems.push(`acknowledged manifest ${d} answered ${res.status}`);
    }
    for (const e of ledger.tags.values()) {
      const res = await req(`${url}/v2/${e.repo}/manifests/${e.tag}`, 'HEAD', undefined, { accept: OCI_MANIFEST });
      const got = res.headers.get('docker-content-digest');
      if (e.acked === null && res.status === 404) continue;
      if (res.status !== 200 || !got || !e.possible.has(got)) problems.push(`tag ${e.repo}:${e.tag} is ${res.status} ${got}, expected one of ${[...e.possible].join(', ')}`);
      else e.possible = new Set([got]); // what survived is the new baseline
      if (got) e.acked = got;
    }
    if (ledger.npm.size) {
      const doc = (await (await req(`${url}/npm/crashpkg`, 'GET')).json()) as { versions: Record<string, unknown> };
      for (const [v, tgz] of full ? [...ledger.npm] : sample([...ledger.npm], 4)) {
        if (!doc.versions[v]) problems.push(`acknowledged npm version ${v} missing`);
        const tb = await req(`${url}/npm/crashpkg/-/crashpkg-${v}.tgz`, 'GET');
        if (!Buffer.from(await tb.arrayBuffer()).equals(tgz)) problems.push(`npm tarball ${v} not intact`);
      }
    }
    if (ledger.cargo.size) {
      const lines = (await (await req(`${url}/cargo/index/cr/as/crash-crate`, 'GET')).text()).trim().split('\n');
      const listed = new Set(lines.map((l) => (JSON.parse(l) as { vers: string }).vers));
      for (const [v, crate] of full ? [...ledger.cargo] : sample([...ledger.cargo], 4)) {
        if (!listed.has(v)) problems.push(`acknowledged cargo version ${v} missing from the index`);
        const dl = await req(`${url}/cargo/api/v1/crates/crash-crate/${v}/download`, 'GET');
        if (!Buffer.from(await dl.arrayBuffer()).equals(crate)) problems.push(`.crate ${v} not intact`);
      }
    }
    for (const [path, bytes] of full ? [...ledger.raw] : sample([...ledger.raw], 4)) {
      const res = await req(`${url}/raw/${path}`, 'GET');
      if (!Buffer.from(await res.arrayBuffer()).equals(bytes)) problems.push(`raw file ${path} not intact (${res.status})`);
    }
    if (ledger.maven.size) {
      // Every acknowledged file is served intact, with its checksum, and its version is listed.
      const listed = await (await req(`${url}/maven2/crash/lib/maven-metadata.xml`, 'GET')).text();
      for (const [path, bytes] of full ? [...ledger.maven] : sample([...ledger.maven], 6)) {
        const res = await req(`${url}/maven2/${path}`, 'GET');
        if (res.status !== 200 || !Buffer.from(await res.arrayBuffer()).equals(bytes)) problems.push(`acknowledged maven file ${path} answered ${res.status}`);
        const sha1 = await (await req(`${url}/maven2/${path}.sha1`, 'GET')).text();
        if (sha1 !== createHash('sha1').update(bytes).digest('hex')) problems.push(`maven ${path}.sha1 is ${sha1}`);
        const version = path.split('/')[2]!;
        if (!listed.includes(`<version>${version}</version>`)) problems.push(`acknowledged maven version ${version} not in maven-metadata.xml`);
      }
    }
    // Each check after a restart is a cold argon2 verification: sample, except at the end.
    // Live tokens first: each revoked one is a failed login, and five lock the client out (429).
    const tokens = (full ? [...ledger.tokens] : sample([...ledger.tokens], 3)).sort((a, b) => (a[1] === b[1] ? 0 : a[1] === 'live' ? -1 : 1));
    for (const [tok, state] of tokens) {
      const res = await fetch(`${url}/v2/`, { headers: { authorization: `Bearer ${tok}` } });
      await res.arrayBuffer();
      if (state === 'live' && res.status !== 200) problems.push(`acknowledged token refused (${res.status})`);
      if (state === 'revoked' && res.status !== 401 && res.status !== 429) problems.push(`revoked token accepted (${res.status})`);
    }
    return problems;
  }

  let kills = 0;
  let maxStart = 0;
  const spent = { start: 0, check: 0, work: 0, stop: 0 };
  for (let i = 0; i < KILLS; i++) {
    const t0 = Date.now();
    child = await spawnRegistry(env, dir);
    maxStart = Math.max(maxStart, Date.now() - t0);
    spent.start += Date.now() - t0;
    const t1 = Date.now();
    if (i > 0) {
      const problems = await checkState(child.url, false);
      if (problems.length) t.fail(`after kill ${i}`, { problems });
    }
    spent.check += Date.now() - t1;
    const t2 = Date.now();
    // Four kinds at once, then a kill at a random instant while they run.
    const chosen = [kinds[i % kinds.length]!, kinds[(i + 2) % kinds.length]!, kinds[(i + 4) % kinds.length]!, extras[i % extras.length]!];
    const url = child.url;
    const running = new Set(chosen.map(([name]) => name));
    const firsts: Promise<void>[] = [];
    const ops = chosen.map(([name, op]) => {
      let first!: () => void;
      firsts.push(new Promise<void>((r) => (first = r)));
      return survive(async () => {
        for (let k = 0; k < 5; k++) {
          await op(url);
          first();
        }
      }).finally(() => {
        first();
        running.delete(name);
      });
    });
    // Every fourth round lets each kind finish one write before the kill, so
    // a slow machine (a token costs a bcrypt and an Argon2 hash) still gets
    // acknowledged writes of every kind to check after restarts.
    if (i % 4 === 3) await Promise.race([Promise.all(firsts), new Promise((r) => setTimeout(r, 10_000))]);
    await new Promise((r) => setTimeout(r, 10 + Math.random() * 120));
    for (const name of running) inFlightAtKill.set(name, (inFlightAtKill.get(name) ?? 0) + 1);
    spent.work += Date.now() - t2;
    const t3 = Date.now();
    await child.stop('SIGKILL');
    kills++;
    await Promise.all(ops);
    child = null;
    spent.stop += Date.now() - t3;
  }
  child = await spawnRegistry(env, dir);
  const problems = await checkState(child.url, true);
  t.same(problems, [], 'final full check: every acknowledged write intact, nothing half-written');
  const health = await fetch(`${child.url}/health`);
  t.equal(health.status, 200, 'the server starts clean');
  await child.stop('SIGTERM');
  child = null;
  t.equal(kills, KILLS);
  t.ok(ledger.blobs.size > 5 && ledger.manifests.size > 0 && ledger.tokens.size > 0, `acknowledged: ${ledger.blobs.size} blobs, ${ledger.manifests.size} manifests, ${ledger.tags.size} tags, ${ledger.npm.size} npm versions, ${ledger.cargo.size} crate versions, ${ledger.raw.size} raw files, ${ledger.maven.size} maven files, ${ledger.tokens.size} tokens`);
  t.comment(`kill points survived: ${kills}; operations in flight at the kill: ${[...inFlightAtKill].map(([k, v]) => `${k} ${v}`).join(', ')}; slowest restart ${maxStart} ms; ms spent: ${JSON.stringify(spent)}`);
});

async function fileExists(p: string): Promise<boolean> {
  try {
    await readFile(p);
    return true;
  } catch {
    return false;
  }
}
