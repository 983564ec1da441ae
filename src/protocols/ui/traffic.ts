// Requests and bytes per minute over the last hour, from this registry's own
// counters (nora_http_requests_total and the bytes in/out totals), sampled
// once a minute; the current minute is read live. Drawn as two small SVG bar
// charts (inline SVG is markup, not script or style, so the CSP allows it).
import type { Metrics } from '../../main/metrics.js';
import { formatBytes } from '../../main/browse.js';
import { html, type Html } from './html.js';

const MINUTES = 60;

interface Totals {
  requests: number;
  bytes: number;
}

export class Traffic {
  /** per-minute deltas, oldest first */
  private readonly minutes: Totals[] = [];
  private last: Totals;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly metrics: Metrics) {
    this.last = this.totals();
    this.timer = setInterval(() => this.sample(), 60_000);
    this.timer.unref();
  }

  private totals(): Totals {
    const m = this.metrics;
    return { requests: m.total('nora_http_requests_total'), bytes: m.total('nora_http_bytes_in_total') + m.total('nora_http_bytes_out_total') };
  }

  private sample(): void {
    const now = this.totals();
    this.minutes.push({ requests: now.requests - this.last.requests, bytes: now.bytes - this.last.bytes });
    if (this.minutes.length > MINUTES - 1) this.minutes.shift();
    this.last = now;
  }

  /** The last hour, oldest first, the current (partial) minute last. */
  hour(): Totals[] {
    const now = this.totals();
    return [...this.minutes, { requests: now.requests - this.last.requests, bytes: now.bytes - this.last.bytes }];
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/** A bar chart of one series, labelled for screen readers by its summary. */
function bars(values: number[], cls: string, label: string): Html {
  const w = 600;
  const h = 80;
  const max = Math.max(1, ...values);
  const bw = w / MINUTES;
  const x0 = w - values.length * bw;
  return html`<svg class="chart" viewBox="0 0 ${w} ${h}" role="img" aria-label="${label}"><title>${label}</title>
<line x1="0" y1="${h - 0.5}" x2="${w}" y2="${h - 0.5}"></line>
${values.map((v, i) => {
  const bh = Math.round((v / max) * (h - 4));
  return html`<rect class="${cls}" x="${(x0 + i * bw).toFixed(1)}" y="${h - bh}" width="${(bw - 1).toFixed(1)}" height="${bh}"></rect>`;
})}</svg>`;
}

export function trafficCharts(t: Traffic): Html {
  const hour = t.hour();
  const requests = hour.map((m) => m.requests);
  const bytes = hour.map((m) => m.bytes);
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  const rLabel = `Requests per minute over the last ${hour.length} minutes: ${sum(requests)} in total, at most ${Math.max(0, ...requests)} in a minute`;
  const bLabel = `Bytes per minute over the last ${hour.length} minutes: ${formatBytes(sum(bytes))} in total`;
  return html`<h2>Traffic, last hour</h2>
<p>${sum(requests)} requests, ${formatBytes(sum(bytes))} transferred</p>
<figure><figcaption>Requests per minute</figcaption>${bars(requests, 'r', rLabel)}</figure>
<figure><figcaption>Bytes per minute</figcaption>${bars(bytes, 'b', bLabel)}</figure>`;
}
