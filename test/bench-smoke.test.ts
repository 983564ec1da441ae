// The bench harness end to end: `node dist/bench/run.js --quick` against real
// nora-ts and real peers (distribution; Verdaccio for npm). Figures are not asserted (timing is
// the machine's business); that every scenario ran, the table printed and the
// JSON result was written are.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers/registry.js';
import { which } from '../bench/prereq.js';


const RUN = join(ROOT, 'dist', 'bench', 'run.js');

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function tempDir(t: { teardown(fn: () => unknown): void }, prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

t.test('names the exact apt-get line for missing programs and exits non-zero', async (t) => {
  // A PATH holding only wrk and hey: docker-registry, htpasswd and openssl are missing.
  const bin = await tempDir(t, 'bench-path-');
  for (const program of ['wrk', 'hey']) {
    const found = await which(program);
    t.ok(found, `${program} is installed`);
    await symlink(found!, join(bin, program));
  }
  const out = await tempDir(t, 'bench-out-');
  const r = await run(['--quick', '--out-dir', out], { ...process.env, PATH: bin });
  t.not(r.code, 0);
  t.match(r.stderr, /missing on PATH: docker-registry, htpasswd, openssl/);
  t.match(r.stderr, /^\s*apt-get install -y docker-registry apache2-utils openssl$/m);
  t.same(await readdir(out), [], 'nothing written');
});

t.test('--quick runs every scenario on nora-ts and its peer, prints the table, writes the JSON', async (t) => {
  const out = await tempDir(t, 'bench-out-');
  const r = await run(['--quick', '--out-dir', out]);
  t.equal(r.code, 0, r.stderr.slice(-3000));
  t.match(r.stdout, /^\| scenario \| metric \| nora-ts \| peer \| ratio \|$/m);
  t.match(r.stdout, /^\| DESIGN\.md target \| wanted \| measured \| met \|$/m);

  const files = await readdir(out);
  t.equal(files.length, 1, 'one result file');
  t.match(files[0], /^\d{4}-\d\d-\d\dT.*\.json$/);
  const doc = JSON.parse(await readFile(join(out, files[0]!), 'utf8'));
  t.equal(doc.mode, 'quick');
  t.equal(doc.machine.node, process.version);
  t.ok(doc.machine.cores >= 1);
  t.type(doc.machine.cpu_model, 'string');
  t.ok(doc.machine.memory_bytes > 0);
  t.ok('commit' in doc.git);

  const ids = new Set(doc.results.map((x: { scenario: string }) => x.scenario));
  t.same([...ids], ['1a', '1b', '2', '3', '4', '5a', '5b', '6', '7', '8a', '8b', '9', '10', '11', 's3-2', 's3-2r', 's3-5a', 's3-5b']);
  for (const id of ids) t.match(r.stdout, new RegExp(`^\\| ${id} `, 'm'), `scenario ${id} printed`);

  // Every figure was measured on nora-ts and the scenario's peer, except what a server cannot have.
  for (const row of doc.results) {
    const where = `${row.scenario} ${row.metric}`;
    t.equal(row.peer, row.scenario.startsWith('8') ? 'verdaccio' : 'distribution', `${where}: its peer`);
    const peer = row[row.peer];
    if (row.scenario === '6') t.match(peer.na, /no API tokens/, `${where}: distribution n/a`);
    else if (row.scenario === '10') t.match(peer.na, /no web UI/, `${where}: distribution n/a`);
    else if (row.scenario.startsWith('s3-') && row['nora-ts'].na !== undefined) {
      // without the shared radosgw (bash .ci/services/ceph.sh start) both sides say so; CI has it
      t.match(row['nora-ts'].na, /no radosgw/, `${where}: nora-ts n/a without radosgw`);
      t.match(peer.na, /no radosgw/, `${where}: distribution n/a without radosgw`);
      continue;
    }
    else if (row.key === 'bcrypt') t.match(peer.na, /not exposed/, `${where}: distribution n/a`);
    else if (row.key === 'looplag') t.match(peer.na, /no single event loop/, `${where}: distribution n/a`);
    else t.type(peer.median, 'number', `${where}: ${row.peer} measured (${peer.na ?? ''})`);
    t.type(row['nora-ts'].median, 'number', `${where}: nora-ts measured (${row['nora-ts'].na ?? ''})`);
  }
});
