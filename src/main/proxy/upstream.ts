// The HTTP client of one upstream (node:http / node:https, keep-alive). It
// sends only the headers its caller names: a client's own Authorization or
// cookies never reach an upstream. Timeouts: `connectTimeoutMs` covers connect
// plus response headers, `readTimeoutMs` the longest silence while a body
// streams. The body is a Readable read with backpressure (nothing buffered
// here). Every request passes the upstream's circuit breaker and is counted in
// its metrics (see upstream-metrics.ts).
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { HttpError } from '../errors.js';
import { CircuitBreaker, type BreakerSettings } from './breaker.js';
import { UpstreamMetrics } from './upstream-metrics.js';
import type { Metrics } from '../metrics.js';

export interface UpstreamOptions {
  /** base URL (http or https), without credentials */
  url: string;
  /** metrics label and log name: defaults to the URL's origin (never credentials) */
  label?: string;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  breaker: BreakerSettings;
  metrics: Metrics;
}

export interface RequestOptions {
  method?: 'GET' | 'HEAD';
  /** exactly the headers to send (no client header is ever copied in) */
  headers?: Record<string, string>;
  /** aborts the request and its body */
  signal?: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** the body; read it or call discard() so the socket returns to the pool */
  body: Readable;
  discard(): void;
}

/**
 * An upstream could not answer (network error, timeout, 5xx, open breaker).
 * Renders as 503 with Retry-After in every format's shape: never a 404, which
 * pip and npm would take as final. `status` is the upstream's, when it sent one.
 */
export class UpstreamError extends HttpError {
  constructor(
    readonly upstream: string,
    readonly reason: string,
    readonly upstreamStatus: number | null = null,
    retryAfterSecs = 5,
  ) {
    super('UNAVAILABLE', `upstream ${upstream} unavailable: ${reason}`, { headers: { 'Retry-After': String(retryAfterSecs) } });
  }
}

export class Upstream {
  readonly label: string;
  readonly base: URL;
  readonly breaker: CircuitBreaker;
  readonly metrics: UpstreamMetrics;
  private readonly agent: http.Agent;

  constructor(private readonly opts: UpstreamOptions) {
    this.base = new URL(opts.url);
    this.label = opts.label ?? this.base.origin;
    this.breaker = new CircuitBreaker(opts.breaker);
    this.metrics = new UpstreamMetrics(opts.metrics, this.label, () => this.breaker.state);
    this.agent = new (this.base.protocol === 'https:' ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: 256 });
  }

  /** `path` is resolved against the base URL (an absolute URL is taken as is: token realms). */
  url(path: string): URL {
    if (/^https?:\/\//i.test(path)) return new URL(path);
    return new URL(this.base.pathname.replace(/\/$/, '') + (path.startsWith('/') ? path : `/${path}`), this.base.origin);
  }

  /**
   * One request. Resolves once response headers are in, for any status; a
   * 5xx counts as a breaker failure but is still returned (callers decide).
   * Rejects with UpstreamError on network errors, timeouts and an open breaker.
   */
  request(path: string, opts: RequestOptions = {}): Promise<UpstreamResponse> {
    if (!this.breaker.allow()) {
      this.metrics.error('breaker_open');
      return Promise.reject(new UpstreamError(this.label, 'circuit breaker open', null, this.breaker.retryAfterSecs()));
    }
    const target = this.url(path);
    const mod = target.protocol === 'https:' ? https : http;
    const sameOrigin = target.origin === this.base.origin;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (reason: string, kind: string) => {
        if (settled) return;
        settled = true;
        this.metrics.error(kind);
        // Our own abort (shutdown, a cancelled fill) says nothing about the upstream's health.
        if (kind === 'aborted') this.breaker.cancelled();
        else this.breaker.failure();
        reject(new UpstreamError(this.label, reason));
      };
      const req = mod.request(target, {
        method: opts.method ?? 'GET',
        headers: { 'user-agent': 'nora-ts', ...opts.headers },
        agent: sameOrigin ? this.agent : undefined,
        signal: opts.signal,
      });
      // Connect plus headers: a deadline, not an idle timer, so a trickle of bytes cannot hold it.
      const deadline = setTimeout(() => {
        req.destroy();
        fail(`no response within ${this.opts.connectTimeoutMs} ms`, 'timeout');
      }, this.opts.connectTimeoutMs);
      req.on('error', (e) => {
        clearTimeout(deadline);
        fail(opts.signal?.aborted ? 'aborted' : (e as NodeJS.ErrnoException).code ?? 'network error', opts.signal?.aborted ? 'aborted' : 'network');
      });
      req.on('response', (res) => {
        clearTimeout(deadline);
        settled = true;
        const status = res.statusCode ?? 0;
        this.metrics.request(status);
        if (status >= 500) this.breaker.failure();
        else this.breaker.success();
        // Silence while streaming: the socket's idle timer, re-armed by every chunk.
        res.setTimeout(this.opts.readTimeoutMs, () => {
          this.metrics.error('read_timeout');
          res.destroy(new UpstreamError(this.label, `no body bytes for ${this.opts.readTimeoutMs} ms`));
        });
        const counted = new Transform({
          transform: (chunk: Buffer, _e, cb) => {
            this.metrics.bytes(chunk.length);
            cb(null, chunk);
          },
        });
        pipeline(res, counted, (e) => {
          if (e && !(e instanceof UpstreamError)) this.metrics.error('body');
        });
        resolve({ status, headers: res.headers, body: counted, discard: () => void counted.resume() });
      });
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
