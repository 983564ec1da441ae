// The shared pull-through core every proxying format builds on. Stable API:
//
//   new Upstream({ url, connectTimeoutMs, readTimeoutMs, breaker, metrics, label? })
//     .request(pathOrAbsoluteUrl, { method, headers, signal }) → { status, headers, body, discard }
//       Sends only the given headers (never a client's), passes the circuit
//       breaker, counts requests/bytes/errors; rejects with UpstreamError
//       (503 + Retry-After in any format's shape) on network errors, timeouts
//       and an open breaker; 5xx resolves (and counts as a breaker failure).
//   breakerSettings(config) → the [circuit_breaker] settings for an upstream
//   new Fills(storage, log).join({ key, upstream, open, expected?, size?, maxSize?, publish, tag? })
//       → FillReader (an ObjectReader: hand it to serveObject)
//       One fill per key, detached from clients, hashed as it arrives
//       (sha256 always, plus expected.algorithm), published by your publish()
//       (which returns the key it wrote) only when the digest and size match;
//       see fill.ts for the guarantees.
//   new SingleFlight<T>().run(key, fn): concurrent calls with one key share one run
//   readSmall(response, limit, what, label) → the whole body of a small document (UpstreamError past limit)
//   new UseMarks(storage).used(key): a cache hit touches its entry (hourly at most) for gc's age
//   UpstreamError, FillCorrupt
export { Upstream, UpstreamError, type UpstreamOptions, type RequestOptions, type UpstreamResponse } from './upstream.js';
export { Fills, FillCorrupt, type FillSpec, type FillResult, type FillReader } from './fill.js';
export { CircuitBreaker, type BreakerSettings, type BreakerState } from './breaker.js';
export { breakerSettings } from './settings.js';
export { SingleFlight } from '../single-flight.js';
export { readSmall } from './read-small.js';
export { UseMarks } from './use-marks.js';
