// No Docker engine runs here, so check the Dockerfile statically and run its
// start command and health check directly, with the image's environment.
import t from 'tap';
import { readFile, stat } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, spawnRegistry, tempDir, freePort } from './helpers/registry.js';

interface Stage {
  name?: string;
  lines: string[];
}

async function parse(): Promise<Stage[]> {
  const text = (await readFile(join(ROOT, 'Dockerfile'), 'utf8')).replace(/\\\n/g, ' ');
  const stages: Stage[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stages.push({ name: from[1], lines: [] });
    else stages.at(-1)!.lines.push(line);
  }
  return stages;
}

const json = (line: string, instr: string) => JSON.parse(line.slice(instr.length).trim()) as string[];

t.test('the Dockerfile is multi-stage and its COPY sources exist', async (t) => {
  const stages = await parse();
  t.ok(stages.length >= 2, 'multi-stage');
  const names = new Set(stages.map((s) => s.name).filter(Boolean));
  const final = stages.at(-1)!;
  for (const s of stages) {
    for (const line of s.lines.filter((l) => /^COPY\s/i.test(l))) {
      const parts = line.split(/\s+/).slice(1);
      const fromStage = parts.find((p) => p.startsWith('--from='))?.slice(7);
      const srcs = parts.filter((p) => !p.startsWith('--')).slice(0, -1);
      if (fromStage) {
        t.ok(names.has(fromStage), `stage ${fromStage} exists`);
        continue;
      }
      for (const src of srcs) {
        await t.resolves(stat(join(ROOT, src)), `${src} exists in the build context`);
      }
    }
  }
  const body = final.lines.join('\n');
  t.match(body, /npm ci --omit=dev/, 'final stage installs runtime deps only');
  t.match(body, /^USER (?!root)\S+/m, 'runs as a non-root user');
  t.match(body, /^VOLUME \/data/m);
  t.match(body, /^EXPOSE 4000/m);
  t.match(body, /^HEALTHCHECK .*CMD /m);
  t.match(body, /NORA_HOST=0\.0\.0\.0/);
  // A fixed public URL sent every client's downloads to it (it was http://localhost:4000):
  // without one, links name the host each client asked for.
  t.notMatch(body, /NORA_PUBLIC_URL/, 'no fixed public URL in the image');
});

t.test("the image's CMD serves and its HEALTHCHECK passes when run directly", async (t) => {
  const final = (await parse()).at(-1)!;
  const env: Record<string, string> = {};
  for (const line of final.lines.filter((l) => l.startsWith('ENV '))) {
    for (const m of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = m[2]!;
  }
  const cmd = json(final.lines.find((l) => l.startsWith('CMD '))!, 'CMD');
  const hc = final.lines.find((l) => l.startsWith('HEALTHCHECK '))!;
  const hcCmd = JSON.parse(hc.slice(hc.indexOf('CMD ') + 4)) as string[];
  t.equal(cmd[0], 'node');
  t.equal(cmd.at(-2), 'dist/src/main/cli.js', 'CMD runs the compiled CLI (WORKDIR /app holds dist/)');
  const start = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  t.same(cmd, start.split(' '), 'CMD is the command of `npm start` (same node flags; the bench starts nora-ts with it too)');
  const d = await tempDir();
  const port = await freePort();
  // Same variables as the image, with /data mapped to a temp dir and loopback instead of 0.0.0.0.
  const runEnv = {
    ...env,
    NODE_ENV: env.NODE_ENV ?? 'production',
    NORA_HOST: '127.0.0.1',
    NORA_PORT: String(port),
    NORA_STORAGE_PATH: env.NORA_STORAGE_PATH!.replace('/data', d),
    NORA_AUTH_TOKEN_STORAGE: env.NORA_AUTH_TOKEN_STORAGE!.replace('/data', d),
  };
  const child = await spawnRegistry(runEnv, d);
  t.teardown(() => child.stop());
  const probe = spawnSync(hcCmd[0]!, hcCmd.slice(1).map((a) => (a.startsWith('dist/') ? join(ROOT, a) : a)), {
    cwd: d,
    env: { ...process.env, ...runEnv },
    encoding: 'utf8',
  });
  t.equal(probe.status, 0, `healthcheck: ${probe.stderr}`);
  t.equal((await fetch(`${child.url}/v2/`)).status, 200);
  const moved = await fetch(`http://localhost:${port}/simple`, { redirect: 'manual' });
  t.equal(moved.headers.get('location'), `http://localhost:${port}/simple/`, 'links name the host the client used');
  // The image's own bind address (0.0.0.0) is a valid configuration without a public URL.
  const cfg = spawnSync(process.execPath, [join(ROOT, 'dist/src/main/cli.js'), 'config'], { cwd: d, env: { ...process.env, ...env }, encoding: 'utf8' });
  t.equal(cfg.status, 0, `nora config with the image's environment: ${cfg.stderr}`);
  await stat(join(d, 'storage')).then(
    () => t.pass('storage created under the volume'),
    () => t.fail('no storage dir'),
  );
});
