// twine and pip with authentication on: tokens as the seed shows
// (`twine upload --repository-url .../pypi/ -u token -p nra_...`), htpasswd
// users, wrong passwords and read-only tokens refused, pip with credentials in
// the index URL, and anonymous pip installs under anonymous_read.
import t from 'tap';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { mint, startAuthRegistry } from './helpers/auth.js';
import { tempDir } from './helpers/registry.js';
import { buildProject, twine, venv } from './helpers/pypi-tools.js';

t.test('twine and pip with auth', async (t) => {
  const dir = await tempDir('nora-pypi-auth-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { wheel, sdist } = await buildProject(join(dir, 'proj'), 'secret-lib', '1.0.0', 'secret');

  t.test('anonymous_read off', async (t) => {
    const r = await startAuthRegistry();
    t.teardown(() => r.close());
    const write = await mint(r.url, 'alice', 'alice-pw', 'write');
    const read = await mint(r.url, 'bob', 'bob-pw', 'read');

    const wrong = await twine(['--repository-url', `${r.url}/pypi/`, '-u', 'alice', '-p', 'not-her-password', wheel]);
    t.not(wrong.code, 0);
    t.match(wrong.stdout + wrong.stderr, /401 Unauthorized/);
    const ro = await twine(['--repository-url', `${r.url}/pypi/`, '-u', 'token', '-p', read, wheel]);
    t.not(ro.code, 0);
    t.match(ro.stdout + ro.stderr, /403 Forbidden/);
    t.equal((await fetch(`${r.url}/simple/secret-lib/`, { headers: { authorization: `Bearer ${read}` } })).status, 404, 'refused uploads stored nothing');

    const tok = await twine(['--repository-url', `${r.url}/pypi/`, '-u', 'token', '-p', write, wheel]);
    t.equal(tok.code, 0, tok.stdout + tok.stderr);
    const user = await twine(['--repository-url', `${r.url}/simple/`, '-u', 'alice', '-p', 'alice-pw', sdist]);
    t.equal(user.code, 0, user.stdout + user.stderr);

    const env = await venv(join(dir, 'venv-closed'));
    const anon = await env.pip(['install', '--no-input', '--no-deps', '--index-url', `${r.url}/simple/`, 'secret-lib']);
    t.not(anon.code, 0, 'no anonymous reads');
    t.match(anon.stdout + anon.stderr, /No matching distribution/, 'pip sees nothing without credentials');
    const host = r.url.replace('http://', '');
    const withToken = await env.pip(['install', '--no-input', '--no-deps', '--index-url', `http://token:${read}@${host}/simple/`, 'secret-lib']);
    t.equal(withToken.code, 0, withToken.stdout + withToken.stderr);
    t.equal((await env.python('import secret_lib; print(secret_lib.VALUE)')).stdout.trim(), 'secret');
    // The README's other form: the index URL with the token in PIP_INDEX_URL.
    const fromEnv = await env.pip(['install', '--no-input', '--no-deps', '--force-reinstall', 'secret-lib'], {
      PIP_INDEX_URL: `http://token:${read}@${host}/simple/`,
    });
    t.equal(fromEnv.code, 0, fromEnv.stdout + fromEnv.stderr);
    t.match(fromEnv.stdout, /Successfully installed secret-lib/);

    const plain = await fetch(`${r.url}/simple/secret-lib/`);
    t.equal(plain.status, 401);
    t.match(plain.headers.get('www-authenticate'), /^Basic realm=/);
    t.match(plain.headers.get('content-type'), /^text\/plain/);
  });

  t.test('anonymous_read on', async (t) => {
    const r = await startAuthRegistry({ anonymous_read: true });
    t.teardown(() => r.close());
    const write = await mint(r.url, 'alice', 'alice-pw', 'write');
    const up = await twine(['--repository-url', `${r.url}/pypi/`, '-u', 'token', '-p', write, wheel, sdist]);
    t.equal(up.code, 0, up.stdout + up.stderr);
    const env = await venv(join(dir, 'venv-open'));
    const pip = await env.pip(['install', '--no-input', '--no-deps', '--index-url', `${r.url}/simple/`, 'secret-lib']);
    t.equal(pip.code, 0, pip.stdout + pip.stderr);
    const anonUpload = await fetch(`${r.url}/pypi/`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: '--x--\r\n' });
    t.equal(anonUpload.status, 401, 'uploads still need credentials');
    t.equal((await fetch(`${r.url}/pypi/secret-lib/1.0.0/yank`, { method: 'POST' })).status, 401);
  });
});
