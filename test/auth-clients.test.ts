// Real clients against nora-ts with auth on: skopeo pushes and pulls a tiny
// OCI image with htpasswd and token credentials; `docker login` (the docker
// CLI, no engine) checks passwords and tokens. Each client call first tries
// https, which the plain-HTTP listener leaves hanging until its idle timeout,
// so calls are kept few.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { dockerLogin, mint, startAuthRegistry, tempDir } from './helpers/auth.js';
import { buildOciImage } from './helpers/oci-image.js';

const exec = promisify(execFile);
const skopeo = async (...args: string[]) => (await exec('skopeo', args, { maxBuffer: 16 << 20 })).stdout;

t.test('skopeo push and pull with --creds user:password and token:nra_...', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const work = await tempDir();
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const img = await buildOciImage(work, 'v1', 64);
  const host = `127.0.0.1:${r.port}`;
  const writeToken = await mint(r.url, 'alice', 'alice-pw', 'write');
  const readToken = await mint(r.url, 'alice', 'alice-pw', 'read');

  // Each skopeo or docker run first probes https, which uWS leaves unanswered for ~10 s:
  // independent runs go in parallel.
  await Promise.all([
    skopeo('copy', '--dest-tls-verify=false', '--dest-creds', 'alice:alice-pw', `oci:${img.dir}:v1`, `docker://${host}/team/auth-img:v1`),
    skopeo('copy', '--dest-tls-verify=false', '--dest-creds', `token:${writeToken}`, `oci:${img.dir}:v1`, `docker://${host}/team/auth-img:v2`),
  ]);

  const inspect = async (creds: string, tag: string) =>
    JSON.parse(await skopeo('inspect', '--tls-verify=false', '--creds', creds, `docker://${host}/team/auth-img:${tag}`)) as { Digest: string };
  const back = join(work, 'back');
  const [inspected] = await Promise.all([
    inspect(`token:${readToken}`, 'v1'),
    skopeo('copy', '--src-tls-verify=false', '--src-creds', `token:${readToken}`, `docker://${host}/team/auth-img:v2`, `oci:${back}:v1`),
    t.rejects(
      skopeo('copy', '--dest-tls-verify=false', '--dest-creds', `token:${readToken}`, `oci:${img.dir}:v1`, `docker://${host}/team/auth-img:v3`),
      'a read token cannot push',
    ),
    t.rejects(skopeo('inspect', '--tls-verify=false', '--creds', 'alice:wrong', `docker://${host}/team/auth-img:v1`), 'wrong password'),
  ]);
  t.equal(inspected.Digest, img.manifestDigest, 'pushed with htpasswd credentials, read with a read token');
  t.same((await readdir(join(back, 'blobs', 'sha256'))).sort(), (await readdir(join(img.dir, 'blobs', 'sha256'))).sort(), 'pulled every blob');
  const seen = r.logs.join('\n');
  t.notOk(seen.includes(writeToken) || seen.includes(readToken) || seen.includes('alice-pw'), 'no secret in the logs');
});

t.test('skopeo pulls anonymously with anonymous_read', async (t) => {
  const r = await startAuthRegistry({ anonymous_read: true });
  t.teardown(() => r.close());
  const work = await tempDir();
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const img = await buildOciImage(work, 'v1', 16);
  const host = `127.0.0.1:${r.port}`;
  await Promise.all([
    t.rejects(
      skopeo('copy', '--dest-tls-verify=false', '--dest-no-creds', `oci:${img.dir}:v1`, `docker://${host}/pub/anon:v1`),
      'anonymous push refused',
    ),
    skopeo('copy', '--dest-tls-verify=false', '--dest-creds', 'bob:bob-pw', `oci:${img.dir}:v1`, `docker://${host}/pub/img:v1`),
  ]);
  const info = JSON.parse(await skopeo('inspect', '--tls-verify=false', '--no-creds', `docker://${host}/pub/img:v1`)) as { Digest: string };
  t.equal(info.Digest, img.manifestDigest, 'anonymous pull');
});

t.test('docker login with htpasswd credentials and with a token', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const work = await tempDir();
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const host = `127.0.0.1:${r.port}`;
  const token = await mint(r.url, 'alice', 'alice-pw', 'write');

  const [ok, viaToken, bad] = await Promise.all([
    dockerLogin(join(work, 'htpasswd'), host, 'alice', 'alice-pw'),
    dockerLogin(join(work, 'token'), host, 'token', token),
    dockerLogin(join(work, 'bad'), host, 'alice', 'wrong'),
  ]);
  t.equal(ok.code, 0, 'htpasswd login succeeds');
  t.match(ok.out, /Login Succeeded/);
  const saved = JSON.parse(await readFile(join(work, 'htpasswd', 'config.json'), 'utf8'));
  t.equal(Buffer.from(saved.auths[host].auth, 'base64').toString(), 'alice:alice-pw');

  t.equal(viaToken.code, 0, '-u token --password-stdin succeeds');

  t.not(bad.code, 0, 'wrong password fails');
  t.match(bad.out, /401 Unauthorized/);
});
