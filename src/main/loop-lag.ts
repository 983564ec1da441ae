// Event-loop lag as a Prometheus histogram: an unref'd 10 ms interval timer
// records how late each tick fires. Everything (requests, auth, streaming)
// shares this one thread, so a late tick is a request that waited.
// The loop is the process's, so there is one timer however many registries a
// process runs: each registry's metrics subscribe while it is open, and the
// timer stops when the last one leaves.
import type { Metrics } from './metrics.js';

const INTERVAL_MS = 10;
const BOUNDS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

const observers = new Set<(seconds: number) => void>();
let timer: NodeJS.Timeout | null = null;

/** Records loop lag into these metrics until the returned function is called. */
export function watchLoopLag(metrics: Metrics): () => void {
  metrics.describe('nora_event_loop_lag_seconds', `How late a ${INTERVAL_MS} ms timer on the main thread fired`);
  const observe = metrics.histogram('nora_event_loop_lag_seconds', BOUNDS_SECONDS);
  observers.add(observe);
  if (timer === null) {
    let last = performance.now();
    timer = setInterval(() => {
      const now = performance.now();
      const lag = Math.max(0, now - last - INTERVAL_MS) / 1000;
      last = now;
      for (const o of observers) o(lag);
    }, INTERVAL_MS).unref();
  }
  return () => {
    observers.delete(observe);
    if (observers.size === 0 && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  };
}

/** Whether the process-wide timer runs (for tests). */
export function loopLagWatched(): boolean {
  return timer !== null;
}
