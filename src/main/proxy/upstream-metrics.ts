// Per-upstream series on the registry's metrics: requests by status, body
// bytes, errors by kind, fills in flight, breaker state. The label is the
// upstream's origin (never credentials).
import type { Metrics } from '../metrics.js';
import type { BreakerState } from './breaker.js';

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, open: 1, 'half-open': 2 };

function described(m: Metrics): void {
  m.describe('nora_upstream_requests_total', 'Requests sent to an upstream, by upstream and response status');
  m.describe('nora_upstream_bytes_total', 'Response body bytes received from an upstream');
  m.describe('nora_upstream_errors_total', 'Upstream failures by kind (network, timeout, read_timeout, body, breaker_open, digest)');
  m.describe('nora_upstream_fills_in_flight', 'Pull-through fills currently streaming from an upstream');
  m.describe('nora_upstream_breaker_state', 'Circuit breaker of an upstream: 0 closed, 1 open, 2 half-open');
}

export class UpstreamMetrics {
  private fills = 0;
  private readonly requests: (a?: string | number, b?: string | number, c?: string | number, by?: number) => void;
  private readonly byteCount: (a?: string | number, b?: string | number, c?: string | number, by?: number) => void;
  private readonly errors: (a?: string | number, b?: string | number, c?: string | number, by?: number) => void;

  constructor(m: Metrics, private readonly label: string, breaker: () => BreakerState) {
    described(m);
    this.requests = m.counterFamily('nora_upstream_requests_total', ['upstream', 'status']);
    this.byteCount = m.counterFamily('nora_upstream_bytes_total', ['upstream']);
    this.errors = m.counterFamily('nora_upstream_errors_total', ['upstream', 'kind']);
    const l = label.replace(/["\\\n]/g, '_');
    m.gauge(`nora_upstream_fills_in_flight{upstream="${l}"}`, () => this.fills);
    m.gauge(`nora_upstream_breaker_state{upstream="${l}"}`, () => STATE_VALUE[breaker()]);
  }

  request(status: number): void {
    this.requests(this.label, status);
  }
  bytes(n: number): void {
    this.byteCount(this.label, '', '', n);
  }
  error(kind: string): void {
    this.errors(this.label, kind);
  }
  fillStarted(): void {
    this.fills++;
  }
  fillEnded(): void {
    this.fills--;
  }
}
