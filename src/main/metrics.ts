// Prometheus counters, gauges and histograms kept in plain maps; rendered on
// /metrics. One Metrics per registry, so two registries in one process count
// only their own requests.
type Label = string | number;

interface Histogram {
  bounds: number[];
  /** per-bucket (not cumulative) counts; the last one is +Inf */
  counts: number[];
  sum: number;
}

function key(name: string, labels?: Record<string, Label>): string {
  if (!labels) return name;
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${String(v).replace(/["\\\n]/g, '_')}"`);
  return parts.length === 0 ? name : `${name}{${parts.join(',')}}`;
}

export class Metrics {
  /** series key → value, in a box so a family can keep the box and skip the lookup */
  private readonly counters = new Map<string, { v: number }>();
  private readonly gauges = new Map<string, () => number>();
  private readonly help = new Map<string, string>();
  private readonly histograms = new Map<string, Histogram>();

  describe(name: string, text: string): void {
    this.help.set(name, text);
  }

  private series(k: string): { v: number } {
    let s = this.counters.get(k);
    if (s === undefined) this.counters.set(k, (s = { v: 0 }));
    return s;
  }

  inc(name: string, labels?: Record<string, Label>, by = 1): void {
    this.series(key(name, labels)).v += by;
  }

  /**
   * A counter with up to three fixed label names (none is fine). Each distinct
   * combination of values finds its series through nested maps, so counting a
   * request builds no string or array (doing so showed up in profiles of the
   * hottest path).
   */
  counterFamily(name: string, labelNames: readonly string[]): (a?: Label, b?: Label, c?: Label, by?: number) => void {
    const root = new Map<Label, Map<Label, Map<Label, { v: number }>>>();
    return (a = '', b = '', c = '', by = 1) => {
      let l1 = root.get(a);
      if (l1 === undefined) root.set(a, (l1 = new Map()));
      let l2 = l1.get(b);
      if (l2 === undefined) l1.set(b, (l2 = new Map()));
      let s = l2.get(c);
      if (s === undefined) {
        const labels: Record<string, Label> = {};
        labelNames.forEach((n, i) => (labels[n] = [a, b, c][i]!));
        l2.set(c, (s = this.series(key(name, labels))));
      }
      s.v += by;
    };
  }

  /** The sum of every series of a counter (the web UI's traffic chart samples it). */
  total(name: string): number {
    let sum = 0;
    for (const [k, s] of this.counters) if (k === name || (k.startsWith(name) && k[name.length] === '{')) sum += s.v;
    return sum;
  }

  /** A gauge is read when /metrics is rendered. */
  gauge(name: string, read: () => number): void {
    this.gauges.set(name, read);
  }

  /**
   * A histogram with fixed upper bounds (ascending); returns the function that
   * records one observation. Rendered cumulatively, so scrapers can take deltas.
   */
  histogram(name: string, bounds: number[]): (value: number) => void {
    let h = this.histograms.get(name);
    if (!h) this.histograms.set(name, (h = { bounds: [...bounds], counts: new Array<number>(bounds.length + 1).fill(0), sum: 0 }));
    const hist = h;
    return (value) => {
      let i = 0;
      while (i < hist.bounds.length && value > hist.bounds[i]!) i++;
      hist.counts[i]!++;
      hist.sum += value;
    };
  }

  render(): string {
    const out: string[] = [];
    const seen = new Set<string>();
    const head = (full: string, type: string) => {
      const name = full.split('{')[0]!;
      if (seen.has(name)) return;
      seen.add(name);
      if (this.help.has(name)) out.push(`# HELP ${name} ${this.help.get(name)}`);
      out.push(`# TYPE ${name} ${type}`);
    };
    for (const k of [...this.counters.keys()].sort()) {
      head(k, 'counter');
      out.push(`${k} ${this.counters.get(k)!.v}`);
    }
    for (const [k, read] of [...this.gauges.entries()].sort()) {
      head(k, 'gauge');
      out.push(`${k} ${read()}`);
    }
    for (const [name, h] of [...this.histograms.entries()].sort()) {
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
}
