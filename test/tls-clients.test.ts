// Real clients against nora-ts serving TLS itself, certificate verification on,
// trusting a CA made for the test: skopeo (--cert-dir), docker login, npm
// (cafile), twine and pip (--cert), curl (--cacert). A CA the server's
// certificate does not chain to is refused, and no client stalls on the https
// probe that costs ~10 s on a plain port.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry, tempDir } from './helpers/registry.js';
import { dockerLogin, makeHtpasswd } from './helpers/auth.js';
import { buildOciImage } from './helpers/oci-image.js';
import { NpmWorkspace, makePackage } from './helpers/npm-cli.js';
import { buildProject, twine, venv } from './helpers/pypi-tools.js';
import { issue, makeCa, tlsFetch } from './helpers/tls.js';

const exec = promisify(execFile);

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

/** Far below the ~10 s a client waits for its https probe on a plain uWS port. */
const NO_STALL_MS = 4000;

t.test('TLS front door with real clients', async (t) => {
  const work = await tempDir('nora-tls-clients-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const ca = await makeCa(join(work, 'ca'), 'nora-test-ca');
  const other = await makeCa(join(work, 'other'), 'other-ca');
  const server = await issue(ca, 'registry');
  const htpasswd = await makeHtpasswd(work, { alice: 'alice-pw' });
  const r = await startRegistry({
    server: { tls_cert: server.cert, tls_key: server.key },
    auth: { enabled: true, htpasswd_file: htpasswd, hash_workers: 1 },
  });
  t.teardown(() => r.close());
  const host = `127.0.0.1:${r.port}`;
  const base = `https://${host}`;
  const caPem = await readFile(ca.cert);
  t.equal(r.registry.ctx.baseUrl, base, 'links default to https when TLS is on');

  // containers/image reads every *.crt of the directory as a CA.
  const certDir = join(work, 'certs-ok');
  const badCertDir = join(work, 'certs-bad');
  await mkdir(certDir);
  await mkdir(badCertDir);
  await copyFile(ca.cert, join(certDir, 'ca.crt'));
  await copyFile(other.cert, join(badCertDir, 'ca.crt'));

  t.test('skopeo: push, inspect and pull with verification on; a wrong CA is refused', async (t) => {
    const skopeo = async (...args: string[]) => (await exec('skopeo', args, { maxBuffer: 16 << 20 })).stdout;
    const img = await buildOciImage(join(work, 'img'), 'v1');
    const ref = `docker://${host}/team/tls:v1`;
    const push = await timed(() =>
      skopeo('copy', '--dest-tls-verify=true', '--dest-cert-dir', certDir, '--dest-creds', 'alice:alice-pw', `oci:${img.dir}:v1`, ref),
    );
    t.ok(push.ms < NO_STALL_MS, `push took ${Math.round(push.ms)} ms (no https-probe stall)`);
    const inspect = await timed(() => skopeo('inspect', '--tls-verify=true', '--cert-dir', certDir, '--creds', 'alice:alice-pw', ref));
    t.equal((JSON.parse(inspect.value) as { Digest: string }).Digest, img.manifestDigest, 'digest preserved');
    t.ok(inspect.ms < NO_STALL_MS, `inspect took ${Math.round(inspect.ms)} ms`);
    const back = join(work, 'back');
    await skopeo('copy', '--src-tls-verify=true', '--src-cert-dir', certDir, '--src-creds', 'alice:alice-pw', ref, `oci:${back}:v1`);
    t.same((await readdir(join(back, 'blobs', 'sha256'))).sort(), (await readdir(join(img.dir, 'blobs', 'sha256'))).sort(), 'same blobs back');

    for (const [what, args] of [
      ['a CA that did not sign the certificate', ['--cert-dir', badCertDir]],
      ['the system roots only', []],
    ] as const) {
      const refused = await exec('skopeo', ['inspect', '--tls-verify=true', ...args, '--creds', 'alice:alice-pw', ref]).then(
        () => null,
        (e: { stderr: string }) => e.stderr,
      );
      t.match(refused, /x509: certificate signed by unknown authority/, `refused with ${what}`);
    }
  });

  t.test('docker login over TLS', async (t) => {
    // docker counts loopback registries (127.0.0.0/8, ::1) as insecure: it would
    // accept any certificate here, so this shows the login works over TLS at once
    // and checks the password; skopeo above shows verification.
    const login = (user: string, password: string) => dockerLogin(join(work, `docker-${user}-${password.length}`), host, user, password);
    const ok = await timed(() => login('alice', 'alice-pw'));
    t.equal(ok.value.code, 0, ok.value.out);
    t.match(ok.value.out, /Login Succeeded/);
    t.notMatch(ok.value.out, /HTTP response to HTTPS client/, 'no fallback to http');
    t.ok(ok.ms < NO_STALL_MS, `login took ${Math.round(ok.ms)} ms`);
    const bad = await login('alice', 'wrong');
    t.not(bad.code, 0);
    t.match(bad.out, /401 Unauthorized/);
  });

  t.test('npm with cafile: publish and install; a wrong CA is refused', async (t) => {
    const tokenRes = await tlsFetch(`${base}/api/tokens`, caPem, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'alice-pw', role: 'write', ttl_days: 1, description: 'npm over tls' }),
    });
    t.equal(tokenRes.status, 200);
    const token = (JSON.parse(tokenRes.body.toString()) as { token: string }).token;
    const dir = join(work, 'npm');
    await mkdir(dir, { recursive: true });
    const ws = new NpmWorkspace(dir, `${base}/npm/`);
    await ws.configure(token, [`cafile=${ca.cert}`]);
    const pkg = await makePackage(join(dir, 'pkg'), { name: 'tls-pkg', version: '1.0.0' }, 'over tls');
    const published = await ws.run(['publish'], pkg);
    t.equal(published.code, 0, published.stderr);
    const app = join(dir, 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    const installed = await ws.run(['install', 'tls-pkg', '--no-audit', '--no-fund'], app, join(dir, 'cache-install'));
    t.equal(installed.code, 0, installed.stderr);
    const lock = JSON.parse(await readFile(join(app, 'package-lock.json'), 'utf8'));
    t.match(lock.packages['node_modules/tls-pkg'].resolved, new RegExp(`^${base}/npm/tls-pkg/-/tls-pkg-1.0.0.tgz$`), 'tarball fetched over https');

    await ws.configure(token, [`cafile=${other.cert}`, 'fetch-retries=0']);
    const refused = await ws.run(['view', 'tls-pkg', 'version'], dir, join(dir, 'cache-refused'));
    t.not(refused.code, 0, 'wrong CA refused');
    t.match(refused.stderr, /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to get local issuer|self.signed/i);
  });

  t.test('twine and pip with --cert; a wrong CA is refused', async (t) => {
    const proj = join(work, 'py');
    const { wheel } = await buildProject(proj, 'tls-demo', '0.1.0', 'over tls');
    const up = await twine(['--cert', ca.cert, '--repository-url', `${base}/pypi/`, '-u', 'alice', '-p', 'alice-pw', wheel]);
    t.equal(up.code, 0, up.stdout + up.stderr);
    const badUp = await twine(['--cert', other.cert, '--repository-url', `${base}/pypi/`, '-u', 'alice', '-p', 'alice-pw', wheel]);
    t.not(badUp.code, 0, 'twine refuses a certificate its CA did not sign');
    t.match(badUp.stdout + badUp.stderr, /CERTIFICATE_VERIFY_FAILED|SSLError/);

    const env = await venv(join(work, 'venv'));
    const index = `https://alice:alice-pw@${host}/simple/`;
    const pip = await env.pip(['install', '--no-deps', '--cert', ca.cert, '--index-url', index, 'tls-demo']);
    t.equal(pip.code, 0, pip.stdout + pip.stderr);
    t.equal((await env.python('import tls_demo; print(tls_demo.VALUE)')).stdout.trim(), 'over tls');
    const badPip = await env.pip(['download', '--no-deps', '--dest', join(work, 'dl'), '--retries', '0', '--cert', other.cert, '--index-url', index, 'tls-demo']);
    t.not(badPip.code, 0, 'pip refuses it too');
    t.match(badPip.stdout + badPip.stderr, /CERTIFICATE_VERIFY_FAILED/);
  });

  t.test('curl with --cacert, by IP and by name; a wrong CA is refused', async (t) => {
    for (const url of [`${base}/v2/`, `https://localhost:${r.port}/v2/`]) {
      const { stdout } = await exec('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{ssl_verify_result}', '--cacert', ca.cert, '-u', 'alice:alice-pw', url]);
      t.equal(stdout, '200 0', `${url} verified`);
    }
    const refused = await exec('curl', ['-sS', '--cacert', other.cert, `${base}/health`]).then(
      () => 0,
      (e: { code: number }) => e.code,
    );
    t.equal(refused, 60, 'curl exit 60: peer certificate cannot be authenticated');
  });
});
