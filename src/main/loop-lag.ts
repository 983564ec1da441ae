// Event-loop lag as a Prometheus histogram: an unref'd 10 ms interval timer
// records how late each tick fires. Everything (requests, auth, streaming)
// shares this one thread, so a late tick is a request that waited.
// Process-wide: started once, however many registries a process runs.
import { describe, histogram } from './metrics.js';

const INTERVAL_MS = 10;
const BOUNDS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

let started = false;

export function startLoopLagMonitor(): void {
  if (started) return;
  started = true;
  describe('nora_event_loop_lag_seconds', `How late a ${INTERVAL_MS} ms timer on the main thread fired`);
  const observe = histogram('nora_event_loop_lag_seconds', BOUNDS_SECONDS);
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    observe(Math.max(0, now - last - INTERVAL_MS) / 1000);
    last = now;
  }, INTERVAL_MS).unref();
}
