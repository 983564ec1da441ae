// A whole registry on the memory driver (storage.mode = "memory"): real clients
// push and pull through the same format code as on disk, and nothing lands in
// the storage directory. This is the driver seam working end to end.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry, tempDir } from './helpers/registry.js';
import { buildOciImage } from './helpers/oci-image.js';
import { makePackage, NpmWorkspace } from './helpers/npm-cli.js';
import { buildProject, twine, venv } from './helpers/pypi-tools.js';

const exec = promisify(execFile);
const skopeo = async (...args: string[]) => (await exec('skopeo', args, { maxBuffer: 16 << 20 })).stdout;

t.test('skopeo, npm, twine and pip against a registry on the memory driver', async (t) => {
  const r = await startRegistry({ storage: { mode: 'memory', path: 'unused' } });
  const dir = await tempDir('nora-memory-');
  t.teardown(async () => {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });
  t.equal(r.registry.ctx.storage.name, 'memory');
  const health = (await (await fetch(`${r.url}/health`)).json()) as { storage: { backend: string; reachable: boolean } };
  t.same(health.storage, { backend: 'memory', reachable: true });

  const host = `127.0.0.1:${r.port}`;
  const img = await buildOciImage(dir, 'v1');
  const ws = new NpmWorkspace(dir, `${r.url}/npm/`);
  await ws.configure('nra_unused_when_auth_is_off');
  const pkg = await makePackage(join(dir, 'pkg'), { name: 'mem-pkg', version: '1.0.0' }, 'from-memory');
  const proj = await buildProject(join(dir, 'proj'), 'mem_proj', '0.1.0', 'mem-0.1.0');

  // skopeo first probes https (uWS leaves it unanswered for ~10 s): the other clients run meanwhile.
  const [, published, uploaded] = await Promise.all([
    skopeo('copy', '--dest-tls-verify=false', `oci:${img.dir}:v1`, `docker://${host}/mem/img:v1`),
    ws.run(['publish'], pkg),
    twine(['--repository-url', `${r.url}/pypi/`, '-u', 'token', '-p', 'unused', proj.wheel]),
  ]);
  t.equal(published.code, 0, `npm publish: ${published.stderr}`);
  t.equal(uploaded.code, 0, `twine upload of a wheel (its METADATA read back through the driver): ${uploaded.stdout}${uploaded.stderr}`);

  const back = join(dir, 'back');
  const app = join(dir, 'app');
  await makePackage(app, { name: 'app', version: '0.0.0', private: true }, null);
  const env = await venv(join(dir, 'venv'));
  const [inspect, , installed, pip] = await Promise.all([
    skopeo('inspect', '--tls-verify=false', `docker://${host}/mem/img:v1`),
    skopeo('copy', '--src-tls-verify=false', `docker://${host}/mem/img:v1`, `oci:${back}:v1`),
    ws.run(['install', 'mem-pkg', '--no-audit', '--no-fund'], app, join(dir, 'cache-install')),
    env.pip(['install', '--no-deps', '--index-url', `${r.url}/simple/`, 'mem-proj']),
  ]);
  t.equal((JSON.parse(inspect) as { Digest: string }).Digest, img.manifestDigest, 'the manifest comes back by digest');
  t.same((await readdir(join(back, 'blobs', 'sha256'))).sort(), (await readdir(join(img.dir, 'blobs', 'sha256'))).sort(), 'every blob pulled back');
  t.equal(installed.code, 0, `npm install: ${installed.stderr}`);
  t.match(await readFile(join(app, 'node_modules', 'mem-pkg', 'index.js'), 'utf8'), 'from-memory');
  t.equal(pip.code, 0, pip.stdout + pip.stderr);
  t.equal((await env.python('import mem_proj; print(mem_proj.VALUE)')).stdout.trim(), 'mem-0.1.0');
  t.notOk(existsSync(join(process.cwd(), 'unused')), 'nothing was written to the storage path');
});
