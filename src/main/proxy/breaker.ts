// A circuit breaker per upstream ([circuit_breaker]): after `threshold`
// consecutive failures (network errors, timeouts, 5xx) the upstream is not
// asked for `resetMs`, so a dead upstream costs clients no timeouts and the
// cache answers at once (stale content, or 503). Then one trial request is let
// through (half-open): its success closes the breaker, its failure re-opens it.

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerSettings {
  enabled: boolean;
  threshold: number;
  resetMs: number;
}

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private trial = false;

  constructor(private readonly settings: BreakerSettings, private readonly now: () => number = Date.now) {}

  get state(): BreakerState {
    if (!this.settings.enabled || this.failures < this.settings.threshold) return 'closed';
    return this.now() - this.openedAt >= this.settings.resetMs ? 'half-open' : 'open';
  }

  /** Whether a request may go out now; a half-open breaker lets exactly one through. */
  allow(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'open' || this.trial) return false;
    this.trial = true;
    return true;
  }

  /** Seconds until the breaker lets a trial through (for Retry-After). */
  retryAfterSecs(): number {
    return Math.max(1, Math.ceil((this.openedAt + this.settings.resetMs - this.now()) / 1000));
  }

  success(): void {
    this.failures = 0;
    this.trial = false;
  }

  /** A request we cancelled ourselves: no verdict, and a half-open breaker may try again. */
  cancelled(): void {
    this.trial = false;
  }

  failure(): void {
    this.trial = false;
    this.failures++;
    if (this.failures >= this.settings.threshold) this.openedAt = this.now();
  }
}
