// The README's recipes run as pasted: the quick start's umoci + skopeo lines
// the auth-off npm publish line and the raw-file curl block, taken from README.md itself (only the port
// is changed), so a README edit that breaks them fails here.
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, startRegistry, tempDir } from './helpers/registry.js';
import { makePackage, NpmWorkspace } from './helpers/npm-cli.js';

const readme = await readFile(join(ROOT, 'README.md'), 'utf8');

/** The first ```sh block of the README that contains `marker`. */
function shBlock(marker: string): string {
  for (const m of readme.matchAll(/```sh\n([\s\S]*?)```/g)) if (m[1].includes(marker)) return m[1];
  throw new Error(`README has no sh block with ${marker}`);
}

function bash(script: string, cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-euo', 'pipefail', '-c', script], { cwd, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, out: String(stdout) + String(stderr) });
    });
  });
}

t.test('quick start: umoci makes the image, skopeo pushes and inspects it', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const work = await tempDir('nora-readme-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const script = shBlock('umoci init').replaceAll('127.0.0.1:4000', `127.0.0.1:${r.port}`);
  t.match(script, /skopeo copy/, 'the block pushes with skopeo');
  const run = await bash(script, work);
  t.equal(run.code, 0, run.out);
  const inspected = JSON.parse(run.out.slice(run.out.indexOf('{'))) as { RepoTags: string[]; Layers: string[] };
  t.same(inspected.RepoTags, ['v1']);
  t.equal(inspected.Layers.length, 1, 'the image has the layer with hello.txt');
  const tags = (await (await fetch(`${r.url}/v2/team/app/tags/list`)).json()) as { tags: string[] };
  t.same(tags.tags, ['v1'], 'the registry holds team/app:v1');
});

t.test('auth off: npm publish with the README line', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const work = await tempDir('nora-readme-npm-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const line = shBlock('_authToken=unused').trim().replaceAll('127.0.0.1:4000', `127.0.0.1:${r.port}`);
  t.match(line, /^npm publish /);
  const ws = new NpmWorkspace(work, `${r.url}/npm/`);
  const pkg = await makePackage(join(work, 'pkg'), { name: 'readme-hello', version: '1.0.0' }, 'hi');
  const bare = await ws.run(['publish', '--registry', `${r.url}/npm/`], pkg);
  t.not(bare.code, 0, 'without a token npm refuses, as the README says');
  t.match(bare.stderr, /ENEEDAUTH/);
  const published = await ws.run(line.split(/\s+/).slice(1), pkg);
  t.equal(published.code, 0, published.stderr);
  const doc = (await (await fetch(`${r.url}/npm/readme-hello`)).json()) as { versions: Record<string, unknown> };
  t.ok(doc.versions['1.0.0'], 'the version is stored');
});

t.test('raw files: the curl block uploads, replaces, downloads, lists and deletes', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const work = await tempDir('nora-readme-raw-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  await writeFile(join(work, 'build.tar.gz'), 'release bytes\n');
  const script = shBlock('raw/releases').replaceAll('127.0.0.1:4000', `127.0.0.1:${r.port}`);
  const run = await bash(script, work);
  t.equal(run.code, 0, run.out);
  t.match(run.out, /"name":"build\.tar\.gz","type":"file"/, 'the listing names the file');
  t.equal((await fetch(`${r.url}/raw/releases/1.0/build.tar.gz`)).status, 404, 'and the block ends by deleting it');
});
