// Checks the measured figures against the performance targets in DESIGN.md.
import { fmt, type Row, type TargetCheck } from './report.js';
import type { Settings } from './scenario.js';
import { MiB } from './stats.js';

function find(rows: Row[], scenario: string, key: string): Row | undefined {
  return rows.find((r) => r.scenario === scenario && r.key === key);
}

function nora(rows: Row[], scenario: string, key: string): number | null {
  return find(rows, scenario, key)?.cells['nora-ts'].median ?? null;
}

function verdict(ok: boolean | null): string {
  return ok === null ? 'n/a' : ok ? 'yes' : 'no';
}

export function checkTargets(rows: Row[], ceilingRps: number | null, settings: Settings): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const add = (what: string, target: string, value: number | null, show: (v: number) => string, ok: (v: number) => boolean, note = '') =>
    checks.push({ what, target, measured: value === null ? 'n/a' : show(value) + note, met: verdict(value === null ? null : ok(value)) });

  // nora-ts serves JS on one thread: the inverse of saturated req/s is the service time per request.
  const a = nora(rows, '1a', 'rps');
  const b = nora(rows, '1b', 'rps');
  const added = a && b ? (1 / a - 1 / b) * 1e6 : null;
  checks.push({
    what: 'cached credential check, added per request',
    target: '≤ 50 µs p99',
    measured: added === null ? 'n/a' : `≈ ${fmt(added, 1)} µs mean (1/req/s of 1a − 1b; p99 not observable from outside)`,
    met: added === null ? 'n/a' : `${verdict(added <= 50)} (indicative)`,
  });

  const storm = find(rows, '4', 'bcrypt')?.cells['nora-ts'];
  checks.push({
    what: 'cold-auth storm, 500 concurrent, one new credential',
    target: 'exactly 1 bcrypt verification',
    measured: storm?.median == null ? `n/a${storm?.na ? ` (${storm.na})` : ''}` : `runs: ${storm.runs.join(', ')}`,
    met: storm?.median == null ? 'n/a' : verdict(storm.runs.every((n) => n === 1)),
  });
  const loop = nora(rows, '4', 'looplag');
  const probe = nora(rows, '4', 'lag');
  if (loop !== null) {
    add('event-loop lag during the cold-auth storm', 'p99 < 10 ms', loop, (v) => `p99 ≤ ${fmt(v, 1)} ms (in-process histogram; probe GET p99 ${probe === null ? 'n/a' : fmt(probe, 1) + ' ms'})`, (v) => v <= 10);
  } else {
    add('event-loop lag during the cold-auth storm', 'p99 < 10 ms', probe, (v) => `${fmt(v, 2)} ms (probe round trip, upper bound)`, (v) => v < 10);
  }

  const r1a = find(rows, '1a', 'rps')?.ratio ?? null;
  const r1b = find(rows, '1b', 'rps')?.ratio ?? null;
  add('authenticated manifest GET vs distribution+htpasswd', '≥ 30×', r1a, (v) => `${fmt(v, 1)}×`, (v) => v >= 30);
  add('manifest GET without auth vs distribution', '≥ 10×', r1b, (v) => `${fmt(v, 1)}×`, (v) => v >= 10);
  add(
    'authenticated manifest GET vs bare-uWS ceiling',
    '≥ 50%',
    a && ceilingRps ? a / ceilingRps : null,
    (v) => `${fmt(v * 100, 0)}% (${fmt(a ?? 0, 0)} of ${fmt(ceilingRps ?? 0, 0)} req/s)`,
    (v) => v >= 0.5,
  );
  add('blob download, 10 MiB, 64 parallel', '≥ 1.2× distribution', find(rows, '2', 'mbps')?.ratio ?? null, (v) => `${fmt(v, 2)}×`, (v) => v >= 1.2);
  add('RSS with 100 concurrent 10 MiB pulls', '≤ 100 MB', nora(rows, '3', 'hwm'), (v) => `${fmt(v, 1)} MB (VmHWM)`, (v) => v <= 100);
  const size = settings.bigPushBytes;
  add(
    '1 GiB blob push, RSS growth',
    '≤ 50 MB',
    nora(rows, '5a', 'growth'),
    (v) => `${fmt(v, 1)} MB`,
    (v) => v <= 50,
    size === 1024 * MiB ? '' : ` (pushed ${size / MiB} MiB, not 1 GiB)`,
  );
  add('cold start to first /health', '≤ 0.5 s', nora(rows, '7', 'ms'), (v) => `${fmt(v / 1000, 3)} s`, (v) => v <= 500);
  add('TLS: manifest GET', 'within 15 % of plain HTTP', nora(rows, '9', 'rps_kept'), (v) => `${fmt(v, 0)} % of http's req/s`, (v) => v >= 85);
  add('TLS: 10 MiB blob pull', 'within 15 % of plain HTTP', nora(rows, '9', 'mbps_kept'), (v) => `${fmt(v, 0)} % of http's MB/s`, (v) => v >= 85);
  add('web UI page, 10,000 tags', '< 100 ms', nora(rows, '10', 'worst_p50'), (v) => `${fmt(v, 1)} ms (slowest page's median)`, (v) => v < 100);
  add('web UI page size, 10,000 tags', '< 100 KB', nora(rows, '10', 'kb'), (v) => `${fmt(v, 1)} KB (largest page)`, (v) => v < 100);
  const gets = nora(rows, '11', 'gets');
  const late = nora(rows, '11', 'max');
  const own = nora(rows, '11', 'upTtfb');
  add('pull-through: concurrent cold pulls of one layer', 'exactly 1 upstream GET', gets, (v) => `${fmt(v, 0)}`, (v) => v === 1);
  add('pull-through: every client\'s first byte', "within 100 ms of the upstream's", late !== null && own !== null ? late - own : null, (v) => `max ${fmt(v, 0)} ms later`, (v) => v <= 100);
  return checks;
}
