// Turns per-run values into rows (median of runs, ratio nora-ts / the scenario's peer),
// renders the Markdown tables and the JSON result document.
import { peerOf, type MetricDef, type Scenario, type Value } from './scenario.js';
import type { PeerName, ServerName } from './servers/index.js';
import { median } from './stats.js';

export interface Cell {
  runs: number[];
  median: number | null;
  na?: string;
}

export interface Row {
  scenario: string;
  title: string;
  metric: string;
  key: string;
  unit: string;
  better: MetricDef['better'];
  digits: number;
  /** the server this row compares nora-ts with */
  peer: PeerName;
  /** nora-ts and the peer */
  cells: Partial<Record<ServerName, Cell>> & Record<'nora-ts', Cell>;
  /** nora-ts median / peer median */
  ratio: number | null;
  ratioNote?: string;
}

/** What happened to one server in one scenario: the values of each run, or why it could not run. */
export interface Outcome {
  runs: Record<string, Value>[];
  failure?: string;
}

export function buildRows(scenarios: Scenario[], outcomes: Map<string, Partial<Record<ServerName, Outcome>>>): Row[] {
  const rows: Row[] = [];
  for (const s of scenarios) {
    const per = outcomes.get(s.id) ?? {};
    const peer = peerOf(s);
    for (const m of s.metrics) {
      const cells = {
        'nora-ts': cell(per['nora-ts'], m.key, s.skip?.['nora-ts']),
        [peer]: cell(per[peer], m.key, s.skip?.[peer]),
      };
      rows.push({
        peer,
        scenario: s.id,
        title: s.title,
        metric: m.label,
        key: m.key,
        unit: m.unit,
        better: m.better,
        digits: m.digits ?? 1,
        cells,
        ratio: null,
      });
    }
  }
  for (const r of rows) {
    const s = scenarios.find((x) => x.id === r.scenario)!;
    const other = s.compareWith ? rows.find((x) => x.scenario === s.compareWith && x.key === r.key) : r;
    const a = r.cells['nora-ts'].median;
    const b = other?.cells[r.peer]?.median ?? null;
    if (a !== null && b !== null && b !== 0 && r.better !== 'exact') {
      r.ratio = a / b;
      if (s.compareWith) r.ratioNote = `vs ${r.peer} in ${s.compareWith}`;
    }
  }
  return rows;
}

function cell(o: Outcome | undefined, key: string, skipped?: string): Cell {
  if (skipped) return { runs: [], median: null, na: skipped };
  if (!o) return { runs: [], median: null, na: 'not run' };
  if (o.failure && o.runs.length === 0) return { runs: [], median: null, na: o.failure };
  const nums: number[] = [];
  let na: string | undefined;
  for (const run of o.runs) {
    const v = run[key];
    if (typeof v === 'number' && Number.isFinite(v)) nums.push(v);
    else if (v && typeof v === 'object') na ??= v.na;
  }
  if (nums.length === 0) return { runs: [], median: null, na: na ?? o.failure ?? 'no value' };
  return { runs: nums, median: median(nums), ...(o.failure ? { na: `only ${nums.length} run(s): ${o.failure}` } : {}) };
}

const ARROW: Record<MetricDef['better'], string> = { higher: '↑', lower: '↓', exact: '=' };

export function fmt(v: number, digits: number): string {
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function show(c: Cell, r: Row): string {
  if (c.median === null) return `n/a (${escape(clip(c.na ?? 'no value'))})`;
  const v = fmt(c.median, r.digits);
  return c.na ? `${v} (${escape(clip(c.na))})` : v;
}

/** Table cells stay readable; the JSON file keeps the whole reason. */
function clip(s: string, n = 110): string {
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

function escape(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownTable(rows: Row[]): string {
  const out = ['| scenario | metric | nora-ts | peer | ratio |', '|---|---|---:|---:|---:|'];
  let last = '';
  for (const r of rows) {
    const scen = r.scenario === last ? '' : `${r.scenario} ${r.title} (vs ${r.peer})`;
    last = r.scenario;
    const ratio = r.ratio === null ? '—' : `${fmt(r.ratio, r.ratio >= 10 ? 1 : 2)}×${r.ratioNote ? ` (${r.ratioNote})` : ''}`;
    out.push(
      `| ${escape(scen)} | ${r.metric} (${r.unit}) ${ARROW[r.better]} | ${show(r.cells['nora-ts'], r)} | ${show(r.cells[r.peer] ?? { runs: [], median: null, na: 'not run' }, r)} | ${ratio} |`,
    );
  }
  return out.join('\n');
}

export interface TargetCheck {
  what: string;
  target: string;
  measured: string;
  /** 'yes' | 'no' | 'n/a', possibly qualified */
  met: string;
}

export function targetsTable(checks: TargetCheck[]): string {
  const out = ['| DESIGN.md target | wanted | measured | met |', '|---|---|---|---|'];
  for (const c of checks) out.push(`| ${escape(c.what)} | ${escape(c.target)} | ${escape(c.measured)} | ${c.met} |`);
  return out.join('\n');
}
