// No secret survives its request in the registry's heap: after logins with
// distinctive passwords and tokens (docker login, a skopeo push, curl with
// every token spelling and manifest pulls answered from memory, the token API,
// a wrong password), a heap snapshot of the registry
// child process (taken on SIGUSR2, after a full GC) holds none of them, nor
// their base64 forms. The secrets live in this test process; the snapshot is
// of the other one, so finding nothing means something.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnRegistry, tempDir } from './helpers/registry.js';
import { buildOciImage } from './helpers/oci-image.js';
import { basic, bearer, dockerLogin, makeHtpasswd, metric, mint } from './helpers/auth.js';

const exec = promisify(execFile);

/** curl's status code for GET url with this Authorization header. */
async function curl(url: string, authorization: string, accept = '*/*'): Promise<string> {
  const { stdout } = await exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: ${authorization}`, '-H', `Accept: ${accept}`, url]);
  return stdout;
}

/** Asks the child for a heap snapshot and returns its text once written whole. */
async function heapSnapshot(pid: number, dir: string): Promise<string> {
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 60_000;
  for (;;) {
    const file = (await readdir(dir)).find((f) => f.endsWith('.heapsnapshot'));
    if (file !== undefined) {
      const path = join(dir, file);
      const size = (await stat(path)).size;
      await new Promise((r) => setTimeout(r, 300));
      if ((await stat(path)).size === size && size > 0) {
        const text = await readFile(path, 'utf8');
        if (text.trimEnd().endsWith('}')) return text;
      }
    }
    if (Date.now() > deadline) throw new Error('no heap snapshot written');
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('a heap snapshot after logins holds no password or token', async (t) => {
  const dir = await tempDir('nora-heap-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tag = randomBytes(6).toString('hex');
  const user = `heapuser${tag}`;
  const password = `Quokka-Password-${tag}`;
  const wrong = `Wrong-Password-${tag}`;
  const htpasswd = await makeHtpasswd(dir, { [user]: password });
  const child = await spawnRegistry(
    {
      NORA_AUTH_ENABLED: 'true',
      NORA_AUTH_HTPASSWD_FILE: htpasswd,
      NORA_AUTH_TOKEN_STORAGE: join(dir, 'tokens'),
      NORA_STORAGE_PATH: join(dir, 'storage'),
      NORA_AUTH_HASH_WORKERS: '1',
      NORA_LOG_LEVEL: 'warn',
      NORA_AUTH_PUBLIC_METRICS: 'true',
      NODE_OPTIONS: '--heapsnapshot-signal=SIGUSR2',
    },
    dir,
  );
  t.teardown(() => child.stop());
  const host = `127.0.0.1:${child.port}`;
  const v2 = `${child.url}/v2/`;

  // Two tokens minted through the token API (the password travels in a JSON body).
  const token = await mint(child.url, user, password, 'write');
  const other = await mint(child.url, user, password, 'read');
  const img = await buildOciImage(join(dir, 'img'), 'v1', 4);
  // Each client first tries https, which the plain listener leaves hanging: run them side by side.
  const [pw, tk] = await Promise.all([
    dockerLogin(join(dir, 'docker-pw'), host, user, password),
    dockerLogin(join(dir, 'docker-token'), host, 'token', token),
    exec('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', `${user}:${password}`, `oci:${img.dir}:v1`, `docker://${host}/heap/img:v1`]),
  ]);
  t.equal(pw.code, 0, `docker login with the password: ${pw.out.trim()}`);
  t.equal(tk.code, 0, `docker login -u token: ${tk.out.trim()}`);
  // Pulls of the pushed manifest: after the first, answered from memory (authenticator.quick).
  const manifest = `${child.url}/v2/heap/img/manifests/v1`;
  for (let i = 0; i < 3; i++) {
    t.equal(await curl(manifest, bearer(other), 'application/vnd.oci.image.manifest.v1+json'), '200', 'manifest pull, Bearer');
    t.equal(await curl(manifest, basic(user, password), 'application/vnd.oci.image.manifest.v1+json'), '200', 'manifest pull, Basic password');
  }
  t.ok((await metric(child.url, 'nora_http_memory_answers_total')) >= 4, 'pulls were answered from memory');
  // Every spelling of a token, a cache hit for each, and a refused password.
  for (let i = 0; i < 3; i++) {
    t.equal(await curl(v2, bearer(token)), '200', 'Bearer');
    t.equal(await curl(v2, token), '200', 'raw token');
    t.equal(await curl(v2, basic('someone', token)), '200', 'Basic with the token as password');
    t.equal(await curl(v2, bearer(other)), '200', 'Bearer, second token');
    t.equal(await curl(v2, basic(user, password)), '200', 'Basic password');
  }
  t.equal(await curl(v2, basic(user, wrong)), '401', 'wrong password refused');

  const snapshot = await heapSnapshot(child.proc.pid!, dir);
  t.ok(snapshot.includes(user), 'the snapshot holds the cached identity (so it does show the cache)');
  const secrets: Record<string, string> = {
    password,
    'wrong password': wrong,
    token,
    'second token': other,
    'token hex': token.slice(4),
    'base64 user:password': Buffer.from(`${user}:${password}`).toString('base64'),
    'base64 user:wrong': Buffer.from(`${user}:${wrong}`).toString('base64'),
    'base64 token:<token>': Buffer.from(`token:${token}`).toString('base64'),
    'base64 someone:<token>': Buffer.from(`someone:${token}`).toString('base64'),
  };
  for (const [label, secret] of Object.entries(secrets)) t.notOk(snapshot.includes(secret), `no ${label} in the heap`);
});
