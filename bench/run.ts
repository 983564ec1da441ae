// `npm run bench [-- options]`: nora-ts side by side with the CNCF distribution
// registry on this machine. Checks prerequisites, runs every scenario on fresh
// servers one at a time (runs interleaved between the servers), prints Markdown
// tables on stdout and writes bench/results/<timestamp>.json.
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { missingTools } from './prereq.js';
import { machineInfo, gitInfo } from './machine.js';
import { makeFixtures } from './fixtures.js';
import { SCENARIOS } from './scenarios/index.js';
import { FULL, QUICK, peerOf, type BenchContext, type Settings } from './scenario.js';
import { SERVERS, type ServerName } from './servers/index.js';
import { CLI, ROOT } from './servers/nora.js';
import { stopAll } from './servers/process.js';
import { buildRows, markdownTable, targetsTable, type Outcome } from './report.js';
import { checkTargets } from './targets.js';
import { measureCeiling } from './ceiling.js';
import { describeBigPush } from './scenarios/push.js';
import { agent, trustCa } from './registry-client.js';

const USAGE = `Usage: node dist/bench/run.js [options]   (or: npm run bench -- [options])

  --quick             every scenario for a few seconds, 1 run, 64 MiB instead of 1 GiB (CI smoke)
  --runs N            runs per figure (default 3, quick 1); each figure is the median
  --only IDS          comma list of scenario ids to run (${SCENARIOS.map((s) => s.id).join(',')})
  --servers NAMES     comma list: nora-ts,distribution,verdaccio (default all; each scenario
                      runs nora-ts and its one peer: distribution, or Verdaccio for npm)
  --out-dir DIR       where the JSON result goes (default bench/results)
  --cpu-prof DIR      run nora-ts under node --cpu-prof, profiles written to DIR
  --no-ceiling        skip the bare-uWS ceiling reference measurement
  --help              this text
`;

interface Options {
  settings: Settings;
  quick: boolean;
  only: Set<string> | null;
  servers: ServerName[];
  outDir: string;
  cpuProfDir?: string;
  ceiling: boolean;
}

function fail(msg: string): never {
  process.stderr.write(`bench: ${msg}\n\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const o: Options = {
    settings: { ...(quick ? QUICK : FULL) },
    quick,
    only: null,
    servers: [...SERVERS],
    outDir: join(ROOT, 'bench', 'results'),
    ceiling: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => argv[++i] ?? fail(`${a} needs a value`);
    switch (a) {
      case '--quick':
        break;
      case '--runs': {
        const n = Number(next());
        if (!Number.isInteger(n) || n < 1) fail('--runs must be a positive integer');
        o.settings.runs = n;
        break;
      }
      case '--only': {
        const ids = next().split(',').map((s) => s.trim());
        for (const id of ids) if (!SCENARIOS.some((s) => s.id === id)) fail(`unknown scenario "${id}"`);
        o.only = new Set(ids);
        break;
      }
      case '--servers': {
        const names = next().split(',').map((s) => s.trim());
        for (const n of names) if (!SERVERS.includes(n as ServerName)) fail(`unknown server "${n}"`);
        o.servers = names as ServerName[];
        break;
      }
      case '--out-dir':
        o.outDir = resolve(next());
        break;
      case '--cpu-prof':
        o.cpuProfDir = resolve(next());
        break;
      case '--no-ceiling':
        o.ceiling = false;
        break;
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        process.exit(0);
      default:
        fail(`unknown option "${a}"`);
    }
  }
  return o;
}

function short(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/\s+/g, ' ').slice(0, 300);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const missing = await missingTools();
  if (missing) {
    process.stderr.write(missing);
    process.exit(3);
  }
  try {
    await access(CLI);
  } catch {
    process.stderr.write(`bench: ${CLI} not found: run \`npm run build\` first (\`npm run bench\` does)\n`);
    process.exit(3);
  }
  if (opts.cpuProfDir) await mkdir(opts.cpuProfDir, { recursive: true });

  const scenarios = SCENARIOS.filter((s) => !opts.only || opts.only.has(s.id));
  const { settings } = opts;
  const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
  const fixtures = await makeFixtures(settings.runs * SERVERS.length + 2);
  trustCa(await readFile(fixtures.tls.ca));
  const ctx: BenchContext = {
    settings,
    creds: fixtures.creds,
    tls: fixtures.tls,
    freshCredential: () => fixtures.freshCredential(),
    cpuProfDir: opts.cpuProfDir,
    log,
  };
  const onSignal = async () => {
    log('interrupted: stopping servers');
    await stopAll();
    await fixtures.cleanup();
    process.exit(130);
  };
  process.once('SIGINT', () => void onSignal());
  process.once('SIGTERM', () => void onSignal());

  const started = new Date();
  // Other work on these cores skews every figure: record how busy the machine was.
  const loadBefore = loadavg()[0]!;
  if (loadBefore > 0.5) log(`warning: 1-minute load average is ${loadBefore.toFixed(2)} before the bench; figures will be low and noisy`);
  const [machine, git] = await Promise.all([machineInfo(), gitInfo(ROOT)]);
  log(
    `${opts.quick ? 'quick' : 'full'} run: ${settings.runs} run(s) per figure, wrk -t${settings.threads}, ` +
      `${machine.cores} cores (${machine.cpu_model}), node ${machine.node}`,
  );

  const outcomes = new Map<string, Partial<Record<ServerName, Outcome>>>();
  for (const s of scenarios) {
    const per: Partial<Record<ServerName, Outcome>> = {};
    outcomes.set(s.id, per);
    const names = opts.servers.filter((n) => (n === 'nora-ts' || n === peerOf(s)) && !s.skip?.[n]);
    for (const n of names) per[n] = { runs: [] };
    for (let run = 1; run <= settings.runs; run++) {
      for (const n of names) {
        const o = per[n]!;
        if (o.failure) continue;
        log(`${s.id} ${s.title} — ${n}, run ${run}/${settings.runs}`);
        try {
          o.runs.push(await s.run(ctx, n));
        } catch (e) {
          o.failure = short(e);
          log(`${s.id} ${n}: n/a: ${o.failure}`);
        }
      }
    }
  }

  let ceilingRps: number | null = null;
  let ceilingError: string | undefined;
  if (opts.ceiling && scenarios.some((s) => s.id === '1a' || s.id === '1b')) {
    log('reference: bare uWS manifest handler (ceiling)');
    try {
      const runs: number[] = [];
      for (let i = 0; i < settings.runs; i++) runs.push(await measureCeiling(ctx));
      runs.sort((x, y) => x - y);
      ceilingRps = runs[runs.length >> 1]!;
    } catch (e) {
      ceilingError = short(e);
      log(`ceiling: ${ceilingError}`);
    }
  }
  await fixtures.cleanup();

  const rows = buildRows(scenarios, outcomes);
  const targets = checkTargets(rows, ceilingRps, settings);
  const finished = new Date();
  const header =
    `## nora-ts vs distribution ${machine.tools['docker-registry'].split(' ').pop()} and Verdaccio 6.8.0 (npm) — ${opts.quick ? 'quick smoke (figures not meaningful)' : `median of ${settings.runs} runs`}\n\n` +
    `${machine.cores} cores, ${machine.cpu_model}, ${(machine.memory_bytes / 2 ** 30).toFixed(1)} GiB RAM, node ${machine.node}; ` +
    `commit ${git.commit?.slice(0, 12) ?? 'unknown'}${git.dirty ? ' (dirty)' : ''}. ` +
    `Load: wrk -t${settings.threads} / hey on the same cores as the server. Big push: ${describeBigPush(settings.bigPushBytes)}. ` +
    `MB = 10^6 bytes. ↑ higher is better, ↓ lower is better; ratio = nora-ts / the scenario's peer.` +
    (loadBefore > 0.5 ? ` **Load average was ${loadBefore.toFixed(2)} at the start: other work shared the cores.**` : '') +
    '\n';
  const ceilingLine = ceilingRps !== null ? `\nBare-uWS ceiling (manifest from memory, same wrk settings): ${Math.round(ceilingRps)} req/s.\n` : '';
  process.stdout.write(`${header}\n${markdownTable(rows)}\n${ceilingLine}\n${targetsTable(targets)}\n`);

  await mkdir(opts.outDir, { recursive: true });
  const file = join(opts.outDir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  const doc = {
    started: started.toISOString(),
    finished: finished.toISOString(),
    mode: opts.quick ? 'quick' : 'full',
    machine,
    git,
    load_average_at_start: loadBefore,
    settings,
    load_generator: { wrk: `-t${settings.threads} -c<conns> -d<secs> -s bench/lua/get.lua`, hey: `-n ${settings.stormSize} -c ${settings.stormSize}` },
    ceiling_rps: ceilingRps,
    ...(ceilingError ? { ceiling_error: ceilingError } : {}),
    results: rows.map((r) => ({
      scenario: r.scenario,
      title: r.title,
      metric: r.metric,
      key: r.key,
      unit: r.unit,
      better: r.better,
      peer: r.peer,
      'nora-ts': r.cells['nora-ts'],
      [r.peer]: r.cells[r.peer],
      ratio: r.ratio,
      ...(r.ratioNote ? { ratio_note: r.ratioNote } : {}),
    })),
    targets,
  };
  await writeFile(file, JSON.stringify(doc, null, 2) + '\n');
  process.stdout.write(`\nResults written to ${file}\n`);
}

main().then(() => {
  // keep-alive sockets of the bench's HTTP client would otherwise hold the process open
  agent.destroy();
  process.exit(0);
}).catch(async (e) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
  await stopAll();
  process.exit(1);
});
