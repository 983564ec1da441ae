// Prometheus counters, gauges and histograms kept in plain maps; rendered on /metrics.
/** series key → value, in a box so a family can keep the box and skip the lookup */
const counters = new Map<string, { v: number }>();
const gauges = new Map<string, () => number>();
const help = new Map<string, string>();

interface Histogram {
  bounds: number[];
  /** per-bucket (not cumulative) counts; the last one is +Inf */
  counts: number[];
  sum: number;
}
const histograms = new Map<string, Histogram>();

function key(name: string, labels?: Record<string, string | number>): string {
  if (!labels) return name;
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${String(v).replace(/["\\\n]/g, '_')}"`);
  return `${name}{${parts.join(',')}}`;
}

export function describe(name: string, text: string): void {
  help.set(name, text);
}

function series(k: string): { v: number } {
  let s = counters.get(k);
  if (s === undefined) counters.set(k, (s = { v: 0 }));
  return s;
}

export function inc(name: string, labels?: Record<string, string | number>, by = 1): void {
  series(key(name, labels)).v += by;
}

type Label = string | number;

/**
 * A counter with up to three fixed label names. Each distinct combination of
 * values finds its series through nested maps, so counting a request builds
 * no string or array (doing so showed up in profiles of the hottest path).
 */
export function counterFamily(name: string, labelNames: readonly string[]): (a: Label, b?: Label, c?: Label, by?: number) => void {
  const root = new Map<Label, Map<Label, Map<Label, { v: number }>>>();
  return (a, b = '', c = '', by = 1) => {
    let l1 = root.get(a);
    if (l1 === undefined) root.set(a, (l1 = new Map()));
    let l2 = l1.get(b);
    if (l2 === undefined) l1.set(b, (l2 = new Map()));
    let s = l2.get(c);
    if (s === undefined) {
      const labels: Record<string, Label> = {};
      labelNames.forEach((n, i) => (labels[n] = [a, b, c][i]!));
      l2.set(c, (s = series(key(name, labels))));
    }
    s.v += by;
  };
}

export function counterValue(name: string, labels?: Record<string, string | number>): number {
  return counters.get(key(name, labels))?.v ?? 0;
}

/** A gauge is read when /metrics is rendered. */
export function gauge(name: string, read: () => number): void {
  gauges.set(name, read);
}

/**
 * A histogram with fixed upper bounds (ascending); returns the function that
 * records one observation. Rendered cumulatively, so scrapers can take deltas.
 */
export function histogram(name: string, bounds: number[]): (value: number) => void {
  let h = histograms.get(name);
  if (!h) histograms.set(name, (h = { bounds: [...bounds], counts: new Array<number>(bounds.length + 1).fill(0), sum: 0 }));
  const hist = h;
  return (value) => {
    let i = 0;
    while (i < hist.bounds.length && value > hist.bounds[i]!) i++;
    hist.counts[i]!++;
    hist.sum += value;
  };
}

export function renderMetrics(): string {
  const out: string[] = [];
  const seen = new Set<string>();
  const head = (full: string, type: string) => {
    const name = full.split('{')[0]!;
    if (seen.has(name)) return;
    seen.add(name);
    if (help.has(name)) out.push(`# HELP ${name} ${help.get(name)}`);
    out.push(`# TYPE ${name} ${type}`);
  };
  for (const k of [...counters.keys()].sort()) {
    head(k, 'counter');
    out.push(`${k} ${counters.get(k)!.v}`);
  }
  for (const [k, read] of [...gauges.entries()].sort()) {
    head(k, 'gauge');
    out.push(`${k} ${read()}`);
  }
  for (const [name, h] of [...histograms.entries()].sort()) {
    head(name, 'histogram');
    let cumulative = 0;
    h.bounds.forEach((b, i) => {
      cumulative += h.counts[i]!;
      out.push(`${name}_bucket{le="${b}"} ${cumulative}`);
    });
    cumulative += h.counts[h.bounds.length]!;
    out.push(`${name}_bucket{le="+Inf"} ${cumulative}`, `${name}_sum ${h.sum}`, `${name}_count ${cumulative}`);
  }
  return out.join('\n') + '\n';
}

describe('nora_http_requests_total', 'HTTP requests by format, method and status');
describe('nora_http_bytes_in_total', 'Request body bytes received');
describe('nora_http_bytes_out_total', 'Response bytes sent');
