// The TLS listener itself: start-up errors naming the setting, protocol
// versions and cipher suites (openssl s_client), a chain in the certificate
// file, the plain-HTTP redirect port, certificate rotation while a download is
// in flight, SIGHUP and the healthcheck through the CLI.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { connect, type TLSSocket } from 'node:tls';
import { connect as connectTcp } from 'node:net';
import { request, Agent } from 'node:https';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { CLI, freePort, startRegistry, tempDir } from './helpers/registry.js';
import { issue, makeCa, tlsFetch, type Ca, type ServerCert } from './helpers/tls.js';
import { ConfigError } from '../src/main/config.js';
import { setLogSink } from '../src/main/log.js';

const exec = promisify(execFile);

let work: string;
let ca: Ca;
let other: Ca;
let cert: ServerCert;
t.before(async () => {
  work = await tempDir('nora-tls-server-');
  ca = await makeCa(join(work, 'ca'), 'ca-one');
  other = await makeCa(join(work, 'other'), 'ca-two');
  cert = await issue(ca, 'one');
});
t.teardown(() => rm(work, { recursive: true, force: true }));

/** Resolves with the fingerprint a fresh connection trusting `caFile` sees, or rejects with the TLS error. */
function handshake(port: number, caFile: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s: TLSSocket = connect({ host: '127.0.0.1', port, ca: caFile }, () => {
      resolve(s.getPeerX509Certificate()!.fingerprint256);
      s.end();
    });
    s.on('error', reject);
  });
}

t.test('start-up refuses a missing, unreadable, mismatched or locked pair, naming the setting', async (t) => {
  const locked = await issue(ca, 'locked', { passphrase: 'open-sesame' });
  const cases: [string, Record<string, string>, RegExp][] = [
    ['missing certificate', { tls_cert: join(work, 'nope.crt'), tls_key: cert.key }, /^config: server\.tls_cert: cannot read .*nope\.crt: ENOENT/],
    ['unreadable key (a directory)', { tls_cert: cert.cert, tls_key: work }, /^config: server\.tls_key: cannot read .*: EISDIR/],
    ['a key where the certificate belongs', { tls_cert: cert.key, tls_key: cert.key }, /^config: server\.tls_cert: .* holds no PEM certificate/],
    ['a certificate where the key belongs', { tls_cert: cert.cert, tls_key: cert.cert }, /^config: server\.tls_key: .* holds no PEM private key/],
    ['the key of another certificate', { tls_cert: cert.cert, tls_key: locked.key, tls_key_passphrase: 'open-sesame' }, /^config: server\.tls_key: .* is not the key of the certificate/],
    ['an encrypted key without passphrase', { tls_cert: locked.cert, tls_key: locked.key }, /^config: server\.tls_key_passphrase: .* is encrypted/],
    ['a wrong passphrase', { tls_cert: locked.cert, tls_key: locked.key, tls_key_passphrase: 'guess' }, /^config: server\.tls_key_passphrase: does not decrypt/],
  ];
  for (const [what, server, message] of cases) {
    const e = await startRegistry({ server }).then(
      (r) => r.close().then(() => null),
      (err: Error) => err,
    );
    t.ok(e instanceof ConfigError, `${what}: a configuration error`);
    t.match(e?.message, message, what);
    t.notMatch(e?.message ?? '', /open-sesame|guess|PRIVATE KEY/, 'no secret in the message');
  }
  const r = await startRegistry({ server: { tls_cert: locked.cert, tls_key: locked.key, tls_key_passphrase: 'open-sesame' } });
  t.teardown(() => r.close());
  t.equal(await handshake(r.port, await readFile(ca.cert)), locked.fingerprint, 'an encrypted key opens with its passphrase');
});

t.test('TLS 1.2 and 1.3 only; TLS 1.2 with ECDHE and AEAD suites only', async (t) => {
  const r = await startRegistry({ server: { tls_cert: cert.cert, tls_key: cert.key } });
  t.teardown(() => r.close());
  // s_client reads stdin until EOF: give it none, so it ends after the handshake.
  const sClient = (...args: string[]) =>
    new Promise<{ ok: boolean; out: string }>((resolve) => {
      const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${r.port}`, '-CAfile', ca.cert, '-verify_return_error', ...args], { timeout: 10_000 }, (e, stdout, stderr) =>
        resolve({ ok: !e, out: stdout + stderr }),
      );
      child.stdin!.end();
    });
  // SECLEVEL=0 makes the client offer the old versions and suites: a refusal is the server's.
  for (const v of ['-tls1', '-tls1_1']) {
    const res = await sClient(v, '-cipher', 'DEFAULT@SECLEVEL=0');
    t.notOk(res.ok, `${v} refused`);
    t.match(res.out, /alert protocol version/, `${v}: the server answers protocol_version`);
  }
  for (const [v, proto] of [['-tls1_2', 'TLSv1.2'], ['-tls1_3', 'TLSv1.3']]) {
    const res = await sClient(v!);
    t.ok(res.ok, `${v} accepted`);
    t.match(res.out, new RegExp(`New, ${proto!.replace('.', '\\.')}, Cipher is`), `negotiated ${proto}`);
    t.match(res.out, /Verify return code: 0 \(ok\)/);
  }
  for (const suite of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384', 'AES128-GCM-SHA256']) {
    const res = await sClient('-tls1_2', '-cipher', `${suite}@SECLEVEL=0`);
    t.notOk(res.ok, `${suite} refused`);
  }
  for (const suite of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
    const res = await sClient('-tls1_2', '-cipher', suite);
    t.ok(res.ok, `${suite} accepted`);
  }
});

t.test('the certificate file may hold the chain', async (t) => {
  const chained = await issue(ca, 'chained', { intermediate: true });
  const r = await startRegistry({ server: { tls_cert: chained.cert, tls_key: chained.key } });
  t.teardown(() => r.close());
  const { stdout } = await exec('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', ca.cert, `https://127.0.0.1:${r.port}/health`]);
  t.equal(stdout, '200', 'a client trusting only the root verifies leaf + intermediate');
});

t.test('plain-HTTP redirect port: 308 to https, a ClientHello answered at once', async (t) => {
  const redirectPort = await freePort();
  const r = await startRegistry({ server: { tls_cert: cert.cert, tls_key: cert.key, http_redirect_port: redirectPort } });
  t.teardown(() => r.close());
  t.equal(r.registry.redirectPort, redirectPort);
  const res = await fetch(`http://127.0.0.1:${redirectPort}/v2/team/app/manifests/v1?x=1`, { method: 'HEAD', redirect: 'manual' });
  t.equal(res.status, 308);
  t.equal(res.headers.get('location'), `https://127.0.0.1:${r.port}/v2/team/app/manifests/v1?x=1`, 'same path and query under https');
  const named = await new Promise<string | undefined>((resolve, reject) =>
    httpGet({ host: '127.0.0.1', port: redirectPort, path: '/simple/', headers: { host: `registry.example.com:${redirectPort}` } }, (res) => {
      res.resume();
      resolve(res.headers.location);
    }).on('error', reject),
  );
  t.equal(named, `https://registry.example.com:${r.port}/simple/`, 'the host the client asked for, at the TLS port');
  // An absolute-form target must not steer the redirect elsewhere.
  const raw = await new Promise<string>((resolve) => {
    const s = connectTcp(redirectPort, '127.0.0.1', () => s.end('GET @evil.example/x HTTP/1.1\r\nHost: a\r\n\r\n'));
    let out = '';
    s.on('data', (b: Buffer) => (out += b));
    s.on('close', () => resolve(out));
  });
  t.match(raw, new RegExp(`^HTTP/1\\.1 (308 Permanent Redirect[\\s\\S]*Location: https://127\\.0\\.0\\.1:${r.port}/\\r\\n|400 Bad Request)`));
  t.notMatch(raw, /evil/);
  // What docker and skopeo do first on a registry they do not know is http: try TLS.
  const t0 = performance.now();
  const err = await handshake(redirectPort, await readFile(ca.cert)).then(
    () => null,
    (e: Error) => e,
  );
  const ms = performance.now() - t0;
  t.ok(err, `the TLS attempt fails (${err?.message})`);
  t.ok(ms < 1000, `and fails fast: ${Math.round(ms)} ms`);
});

t.test('finding: the plain uWS port leaves a ClientHello unanswered until its 10 s idle timeout', async (t) => {
  // The reason a registry without TLS costs docker/skopeo ~10 s per run, and the
  // redirect port runs on Node's http. If this starts failing, uWS answers bad
  // request lines now (uWS v20.44+ does): update the README's TLS section.
  const r = await startRegistry();
  t.teardown(() => r.close());
  const t0 = performance.now();
  await handshake(r.port, await readFile(ca.cert)).catch(() => {});
  const ms = performance.now() - t0;
  t.ok(ms > 8000, `a ClientHello on the plain port waited ${Math.round(ms)} ms`);
});

/** Replaces a file the way cert-manager and certbot do: write aside, rename over. */
async function replace(target: string, source: string): Promise<void> {
  await copyFile(source, `${target}.new`);
  await rename(`${target}.new`, target);
}

t.test('rotation: new connections get the new certificate, a download in flight finishes on the old one', async (t) => {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  const next = await issue(other, 'next');
  const live = join(work, 'live');
  await mkdir(live, { recursive: true });
  const liveCert = join(live, 'tls.crt');
  const liveKey = join(live, 'tls.key');
  await copyFile(cert.cert, liveCert);
  await copyFile(cert.key, liveKey);
  const port = await freePort();
  const r = await startRegistry({ server: { port, tls_cert: liveCert, tls_key: liveKey, tls_reload_secs: 1 }, log: { level: 'info' } });
  t.teardown(() => r.close());
  const caOne = await readFile(ca.cert);
  const caTwo = await readFile(other.cert);
  const base = `https://127.0.0.1:${port}`;

  // A 32 MiB blob, pushed over TLS.
  const blob = randomBytes(32 << 20);
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  const started = await tlsFetch(`${base}/v2/rot/img/blobs/uploads/`, caOne, { method: 'POST' });
  t.equal(started.status, 202);
  const location = String(started.headers.location);
  const put = await tlsFetch(`${new URL(location, base)}${location.includes('?') ? '&' : '?'}digest=${digest}`, caOne, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: blob,
  });
  t.equal(put.status, 201);

  // Start the download, read a little, then hold it: the server waits on backpressure.
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: caOne });
  t.teardown(() => agent.destroy());
  const download = await new Promise<{ res: import('node:http').IncomingMessage; first: Buffer }>((resolve, reject) => {
    const req = request(`${base}/v2/rot/img/blobs/${digest}`, { agent }, (res) => {
      res.once('data', (first: Buffer) => {
        res.pause();
        resolve({ res, first });
      });
    });
    req.on('error', reject);
    req.end();
  });
  const oldFingerprint = (download.res.socket as TLSSocket).getPeerX509Certificate()!.fingerprint256;
  t.equal(oldFingerprint, cert.fingerprint);

  // Rotate, key first (between the two renames the pair does not match: the reload waits for both).
  await replace(liveKey, next.key);
  await replace(liveCert, next.cert);
  let seen = '';
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    seen = await handshake(port, caTwo).catch(() => '');
    if (seen) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  t.equal(seen, next.fingerprint, 'a new connection gets the new certificate (picked up by the file poll)');
  const refused = await handshake(port, caOne).then(
    (f) => `accepted ${f}`,
    (e: Error) => e.message,
  );
  t.match(refused, /unable to get local issuer certificate|unable to verify the first certificate/, 'a client trusting only the old CA no longer connects');

  // The held download resumes on its old connection and completes intact.
  const hash = createHash('sha256').update(download.first);
  let bytes = download.first.length;
  await new Promise<void>((resolve, reject) => {
    download.res.on('data', (b: Buffer) => {
      hash.update(b);
      bytes += b.length;
    });
    download.res.on('end', resolve);
    download.res.on('error', reject);
    download.res.resume();
  });
  t.equal(bytes, blob.length, 'every byte arrived');
  t.equal(`sha256:${hash.digest('hex')}`, digest, 'intact');
  const again = await tlsFetch(`${base}/v2/`, caOne, { agent });
  t.equal(again.status, 200, 'the old keep-alive connection still serves requests');
  t.ok(again.reused, 'over the connection the download used, opened with the old certificate');
  t.ok(lines.some((l) => l.includes('"tls certificate reloaded"') && l.includes(next.fingerprint)), 'the reload is logged with the new fingerprint');

  // A broken replacement (certificate and key of different pairs) keeps the working one.
  await replace(liveKey, cert.key);
  t.equal(await r.registry.reloadTls(), false, 'not reloaded');
  t.equal(await handshake(port, caTwo), next.fingerprint, 'still serving the last good certificate');
  t.ok(lines.some((l) => l.includes('tls certificate not reloaded') && l.includes('is not the key of the certificate')), 'the reason is logged');
});

t.test('CLI: exit 2 for a bad pair, SIGHUP reloads, healthcheck probes https', async (t) => {
  const dir = join(work, 'cli');
  await mkdir(dir, { recursive: true });
  const env = (extra: Record<string, string>) => ({
    ...process.env,
    NORA_STORAGE_PATH: join(dir, 'storage'),
    NORA_AUTH_TOKEN_STORAGE: join(dir, 'tokens'),
    NORA_LOG_LEVEL: 'info',
    ...extra,
  });
  const other2 = await issue(other, 'cli-next');
  const bad = await exec(process.execPath, [CLI, 'serve'], { cwd: dir, env: env({ NORA_PORT: String(await freePort()), NORA_TLS_CERT: cert.cert, NORA_TLS_KEY: other2.key }) }).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => e,
  );
  t.equal(bad.code, 2, 'exit 2, as for other configuration errors');
  t.match(bad.stderr, /^nora: config: server\.tls_key: .* is not the key of the certificate in .* \(NORA_TLS_KEY \/ NORA_TLS_CERT\)\n$/);

  const liveCert = join(dir, 'tls.crt');
  const liveKey = join(dir, 'tls.key');
  await copyFile(cert.cert, liveCert);
  await copyFile(cert.key, liveKey);
  const port = await freePort();
  const serverEnv = env({ NORA_PORT: String(port), NORA_TLS_CERT: liveCert, NORA_TLS_KEY: liveKey, NORA_TLS_RELOAD_SECS: '0' });
  const proc = spawn(process.execPath, [CLI, 'serve'], { cwd: dir, env: serverEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (b) => (out += b));
  proc.stderr.on('data', (b) => (out += b));
  t.teardown(() => proc.exitCode === null && proc.kill());
  const caOne = await readFile(ca.cert);
  for (const deadline = Date.now() + 10_000; ; ) {
    const ready = await tlsFetch(`https://127.0.0.1:${port}/ready`, caOne).catch(() => null);
    if (ready?.status === 200) break;
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`registry did not start: ${out}`);
    await new Promise((res) => setTimeout(res, 50));
  }
  t.match(out, /"msg":"listening".*"tls":true/);
  const health = await exec(process.execPath, [CLI, 'healthcheck'], { cwd: dir, env: serverEnv }).then(
    () => 0,
    (e: { code: number }) => e.code,
  );
  t.equal(health, 0, 'nora healthcheck succeeds over https');

  await replace(liveKey, other2.key);
  await replace(liveCert, other2.cert);
  await new Promise((res) => setTimeout(res, 300));
  t.equal(await handshake(port, caOne), cert.fingerprint, 'with tls_reload_secs = 0 nothing changes by itself');
  proc.kill('SIGHUP');
  let seen = '';
  for (const deadline = Date.now() + 5000; !seen && Date.now() < deadline; ) {
    seen = await handshake(port, await readFile(other.cert)).catch(() => '');
    if (!seen) await new Promise((res) => setTimeout(res, 50));
  }
  t.equal(seen, other2.fingerprint, 'SIGHUP: new connections get the new certificate');
  t.equal(proc.exitCode, null, 'and the process lives on');
  proc.kill('SIGTERM');
  t.equal(await new Promise((res) => proc.once('exit', res)), 0);
});
