// A registry's HTTP front end: one uWebSockets.js app, every request adapted,
// routed by URL prefix to a protocol (or, for a path nobody owns, to a protocol
// claiming it by the client's headers), passed through the auth gate, logged and
// counted. Shutdown stops accepting, waits for in-flight requests, then flushes.
// Everything here is this server's own (connection policy, pools, counters), so
// several servers in one process do not affect each other.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { adapt, ServerShared, TLS_WRITE_SLICE, type UwsReply } from './http/uws-adapter.js';
import { readForMemory, writeMemoryResponse } from './http/uws-memory.js';
import { openListener } from './http/listener.js';
import { startRedirect, type RedirectListener } from './http/redirect.js';
import type { Req } from './http/types.js';
import { BodyTooLarge } from './http/types.js';
import type { Context, Protocol } from './protocol.js';
import { HttpError, type ErrorCode } from './errors.js';
import { InvalidKey } from './storage/keys.js';
import { BlobCorrupt } from './storage/verifying-reader.js';
import { Turnstile } from './turnstile.js';
import { RateLimiter, rateLimited, type RateClass } from './http/rate-limit.js';
import type { Requirement } from './auth/types.js';

/**
 * Largest total of header names and values answered normally. uWebSockets.js
 * itself drops connections past roughly 128 KiB without a word; below that,
 * an oversized request gets a clear 431 instead of being processed.
 */
export const MAX_HEADER_BYTES = 64 * 1024;

/**
 * Requests taking the full path that start per event-loop turn; the rest of a
 * burst starts in the next turns (each costs tens of µs before its first await).
 */
const ADMIT_PER_TURN = 32;

/**
 * First path segments kept for the registry's own routes, served and planned
 * (web UI, Cargo, Maven, raw files). A protocol claiming requests by headers
 * never gets these, so a format added later cannot take a path already in use.
 */
const RESERVED_ROOTS = new Set(['v2', 'simple', 'pypi', 'legacy', 'api', 'health', 'ready', 'metrics', 'npm', 'ui', 'cargo', 'maven2', 'raw']);

function reservedRoot(path: string): boolean {
  const end = path.indexOf('/', 1);
  const seg = path.slice(1, end < 0 ? undefined : end);
  try {
    return RESERVED_ROOTS.has(decodeURIComponent(seg).toLowerCase());
  } catch {
    return false;
  }
}

export interface ServerHandle {
  readonly port: number;
  /** this server's connection policy and buffer pools (their stats are read by tests) */
  readonly shared: ServerShared;
  /** The plain-HTTP redirect port (server.http_redirect_port), 0 when off. */
  readonly redirectPort: number;
  /** Re-reads the TLS certificate and key (SIGHUP); true when new connections get a new certificate. */
  reloadTls(): Promise<boolean>;
  /** Stops accepting, waits for in-flight requests (up to timeoutMs), closes protocols. */
  close(timeoutMs?: number): Promise<void>;
}

/** Core codes spelled in the plain error shape as earlier releases sent them; the others as they are. */
const PLAIN_CODES: Partial<Record<ErrorCode, string>> = { TOO_MANY_REQUESTS: 'TOOMANYREQUESTS', INTERNAL: 'UNKNOWN' };

/** The error shape of paths no format owns and of /health, /ready, /metrics: {"error", "code"}. */
export const plainProtocol: Pick<Protocol, 'error'> = {
  error(reply, e) {
    reply.json(e.status, { error: e.message, code: PLAIN_CODES[e.code] ?? e.code });
  },
};

export async function startServer(ctx: Context, protocols: Protocol[]): Promise<ServerHandle> {
  const shared = new ServerShared(ctx.config.server.tls_cert ? TLS_WRITE_SLICE : Infinity);
  const admission = new Turnstile(ADMIT_PER_TURN);
  const { log, metrics } = ctx;
  const limiter = ctx.config.rate_limit.enabled ? new RateLimiter(ctx.config.rate_limit, ctx.config.auth.trusted_proxies, metrics) : null;
  let inFlight = 0;
  let draining: (() => void) | null = null;
  metrics.gauge('nora_http_in_flight', () => inFlight);
  metrics.describe('nora_http_requests_total', 'HTTP requests by format, method and status');
  metrics.describe('nora_http_bytes_in_total', 'Request body bytes received');
  metrics.describe('nora_http_bytes_out_total', 'Response bytes sent');
  metrics.describe('nora_http_memory_answers_total', 'Reads answered synchronously from memory (cached credential and content)');
  const requests = metrics.counterFamily('nora_http_requests_total', ['format', 'method', 'status']);
  const bytesInTotal = metrics.counterFamily('nora_http_bytes_in_total', ['format']);
  const bytesOutTotal = metrics.counterFamily('nora_http_bytes_out_total', ['format']);
  const memoryAnswers = metrics.counterFamily('nora_http_memory_answers_total', ['format']);

  const record = (format: string, method: string, status: number, bytesIn: number, bytesOut: number): void => {
    // Clients choose the method: anything unusual shares one series, so they cannot grow the metrics without bound.
    requests(format, METHODS.has(method) ? method : 'OTHER', status);
    if (bytesIn) bytesInTotal(format, undefined, undefined, bytesIn);
    if (bytesOut) bytesOutTotal(format, undefined, undefined, bytesOut);
  };

  const accessLog = (method: string, path: string, status: number, bytesIn: number, bytesOut: number, started: number, user: string | undefined, ip: string): void => {
    log.info('request', {
      method,
      path,
      status,
      bytes_in: bytesIn,
      bytes_out: bytesOut,
      duration_ms: Math.round((performance.now() - started) * 100) / 100,
      user,
      ip,
    });
  };

  const finish = (req: Req, reply: UwsReply, started: number) => {
    inFlight--;
    const status = reply.aborted && !reply.done ? 499 : reply.statusCode;
    const bytesIn = (req as unknown as { bytesIn: number }).bytesIn;
    record(req.format, req.method, status, bytesIn, reply.bytesOut);
    if (log.enabled('info')) {
      accessLog(req.method, req.path, reply.aborted ? 499 : status, bytesIn, reply.bytesOut, started, req.identity?.user, req.clientIp);
    }
    if (inFlight === 0 && draining) draining();
  };

  /** A read answered from memory, synchronously, or false to take the full path. */
  const answerFromMemory = (res: HttpResponse, r: HttpRequest, method: 'GET' | 'HEAD'): boolean => {
    const started = log.enabled('info') ? performance.now() : 0;
    const path = r.getUrl();
    const protocol = route(path);
    if (protocol?.cached === undefined) return false;
    const m = readForMemory(res, r, method, path, MAX_HEADER_BYTES);
    if (m === null) return false;
    let out;
    let identity;
    try {
      out = protocol.cached(m);
      if (out === undefined) return false;
      identity = ctx.gate.quick(m, 'read', protocol.name);
      if (identity === undefined) return false;
      // Over the limit: the full path asks again and renders the 429 in the format's shape (system paths have no cached answers, so are never limited here).
      if (limiter !== null && limiter.wait('general', identity, m, false) > 0) return false;
    } catch {
      return false; // the full path renders whatever was wrong with the request
    }
    // The socket's address can only be read before the response ends.
    const ip = log.enabled('info') ? ctx.gate.clientIp(m) : '';
    writeMemoryResponse(res, method, out, shared.closing);
    const bytesOut = method === 'HEAD' ? 0 : out.body.length;
    record(protocol.name, method, out.status, 0, bytesOut);
    memoryAnswers(protocol.name);
    if (ip !== '') accessLog(method, path, out.status, 0, bytesOut, started, identity.user, ip);
    return true;
  };

  const route = (path: string) => protocols.find((p) => p.matches(path));
  // The memory path routes by path alone: a claimed request takes the full path.
  const routeRequest = (req: Req) => route(req.path) ?? (reservedRoot(req.path) ? undefined : protocols.find((p) => p.claims?.(req)));

  const onRequest = (res: HttpResponse, r: HttpRequest) => {
    const method = r.getMethod();
    if (method === 'get' && answerFromMemory(res, r, 'GET')) return;
    if (method === 'head' && answerFromMemory(res, r, 'HEAD')) return;
    const started = performance.now();
    const { req, reply } = adapt(res, r, shared);
    inFlight++;
    const protocol = routeRequest(req);
    if (protocol) req.format = protocol.name;
    const done = () => reply.finished.then(() => finish(req, reply, started));
    admission.enter(() => void dispatch(ctx, limiter, protocol, req, reply).then(done, done));
  };

  // Every app the listener makes (one per TLS certificate) serves the same routes.
  const listener = await openListener(ctx.config.server, (app: TemplatedApp) => void app.any('/*', onRequest), log);
  let redirect: RedirectListener | null = null;
  if (ctx.config.server.http_redirect_port) {
    try {
      redirect = await startRedirect(ctx.config.server.host, ctx.config.server.http_redirect_port, {
        publicUrl: ctx.config.server.public_url,
        tlsPort: listener.port,
        fallback: () => ctx.baseUrl,
      });
    } catch (e) {
      listener.stopAccepting();
      listener.close();
      throw e;
    }
  }

  return {
    port: listener.port,
    shared,
    redirectPort: redirect?.port ?? 0,
    reloadTls: () => listener.reload(),
    async close(timeoutMs = ctx.config.server.shutdown_timeout_secs * 1000) {
      listener.stopAccepting();
      await redirect?.close();
      shared.closing = true;
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, timeoutMs);
          draining = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      for (const p of protocols) await p.close?.();
      await ctx.gate.close();
      limiter?.close();
      listener.close();
    },
  };
}

const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS']);

/** Which bucket a request draws on; null for the system paths (health, readiness and metrics are never limited). */
function rateClass(protocol: Protocol, need: Requirement): RateClass | null {
  if (protocol.name === 'system') return null;
  if (protocol.name === 'tokens') return 'auth';
  return need.access === 'read' || need.access === 'public' ? 'general' : 'upload';
}

async function dispatch(ctx: Context, limiter: RateLimiter | null, protocol: Protocol | undefined, req: Req, reply: UwsReply): Promise<void> {
  const renderer = protocol ?? plainProtocol;
  try {
    if ((req as unknown as { headerBytes: number }).headerBytes > MAX_HEADER_BYTES) {
      throw new HttpError('HEADERS_TOO_LARGE', `request headers exceed ${MAX_HEADER_BYTES} bytes`);
    }
    if (req.path.includes('\0') || /%00/i.test(req.path)) throw new HttpError('BAD_REQUEST', 'NUL byte in path');
    if (!protocol) throw new HttpError('NOT_FOUND');
    const need = protocol.access(req);
    const denied = await ctx.gate.check(req, need, protocol.name);
    if (denied) return renderError(reply, protocol, denied);
    const cls = limiter === null ? null : rateClass(protocol, need);
    if (cls !== null) {
      const wait = limiter!.wait(cls, req.identity!, req);
      if (wait > 0) return renderError(reply, protocol, rateLimited(wait));
    }
    await protocol.handle(req, reply);
    if (!reply.done) throw new Error(`${protocol.name} handler returned without a response`);
  } catch (e) {
    if (reply.done) {
      if (!reply.aborted) ctx.log.error('error after response started', { path: req.path, error: String(e) });
      return;
    }
    const err = asHttpError(e, req, ctx);
    if (err) renderError(reply, renderer, err);
  }
}

/** Sends the error's own headers (Allow, Retry-After, WWW-Authenticate), then the format's rendering of it. */
function renderError(reply: UwsReply, renderer: Pick<Protocol, 'error'>, e: HttpError): void {
  if (e.headers) for (const k in e.headers) reply.header(k, e.headers[k]!);
  renderer.error(reply, e);
}

/** The error a failed request is answered with; null when the client went away and nothing is answered. */
function asHttpError(e: unknown, req: Req, ctx: Context): HttpError | null {
  if (e instanceof HttpError) return e;
  if (e instanceof InvalidKey) return new HttpError('BAD_REQUEST', 'invalid name or path');
  // Logged and quarantined by the blob store; the next request finds no blob, so a re-push heals it.
  if (e instanceof BlobCorrupt) return new HttpError('INTERNAL', 'stored content failed verification and was quarantined; push it again');
  if (e instanceof BodyTooLarge) return new HttpError('TOO_LARGE', e.message);
  const errno = (e as NodeJS.ErrnoException).code;
  if (errno === 'ENOSPC' || errno === 'EDQUOT') {
    ctx.log.error('storage full', { path: req.path });
    return new HttpError('INSUFFICIENT_STORAGE');
  }
  if (req.signal.aborted) return null;
  ctx.log.error('unhandled error', { path: req.path, method: req.method, error: (e as Error).stack ?? String(e) });
  return new HttpError('INTERNAL');
}
