// Prometheus counters and gauges kept in plain maps; rendered on /metrics.
const counters = new Map<string, number>();
const gauges = new Map<string, () => number>();
const help = new Map<string, string>();

function key(name: string, labels?: Record<string, string | number>): string {
  if (!labels) return name;
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${String(v).replace(/["\\\n]/g, '_')}"`);
  return `${name}{${parts.join(',')}}`;
}

export function describe(name: string, text: string): void {
  help.set(name, text);
}

export function inc(name: string, labels?: Record<string, string | number>, by = 1): void {
  const k = key(name, labels);
  counters.set(k, (counters.get(k) ?? 0) + by);
}

export function counterValue(name: string, labels?: Record<string, string | number>): number {
  return counters.get(key(name, labels)) ?? 0;
}

/** A gauge is read when /metrics is rendered. */
export function gauge(name: string, read: () => number): void {
  gauges.set(name, read);
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
    out.push(`${k} ${counters.get(k)}`);
  }
  for (const [k, read] of [...gauges.entries()].sort()) {
    head(k, 'gauge');
    out.push(`${k} ${read()}`);
  }
  return out.join('\n') + '\n';
}

describe('nora_http_requests_total', 'HTTP requests by format, method and status');
describe('nora_http_bytes_in_total', 'Request body bytes received');
describe('nora_http_bytes_out_total', 'Response bytes sent');
