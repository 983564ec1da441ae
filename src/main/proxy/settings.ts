// [circuit_breaker] as one upstream's breaker settings.
import type { Config } from '../config.js';
import type { BreakerSettings } from './breaker.js';

export function breakerSettings(c: Config): BreakerSettings {
  const cb = c.circuit_breaker;
  return { enabled: cb.enabled, threshold: cb.failure_threshold, resetMs: cb.reset_timeout * 1000 };
}
