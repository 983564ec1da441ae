// Fetches one small upstream document (an npm packument, a PyPI simple page)
// for a pull-through cache: conditional (If-None-Match / If-Modified-Since),
// bounded in time and size, credentials only to the upstream's own origin,
// nothing of the client's request forwarded. What comes back is a plain
// outcome, never an exception, so each format decides what an upstream
// failure means (a stale copy, a 503) without ever mistaking one for a 404.
// Redirects are not followed (a failure): a registry's documents need none.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { HttpError } from './errors.js';

export interface UpstreamDocumentRequest {
  url: string;
  /** `user:pass` for Basic auth, sent only when `url` is on `origin` */
  auth: string;
  /** the configured upstream's origin (credentials never leave it) */
  origin: string;
  accept: string;
  timeoutMs: number;
  maxBytes: number;
  etag?: string;
  lastModified?: string;
  userAgent: string;
}

export type UpstreamDocument =
  | { kind: 'ok'; body: Buffer; contentType: string; etag: string | undefined; lastModified: string | undefined; url: string }
  | { kind: 'not-modified' }
  | { kind: 'absent'; status: number }
  /** the upstream could not answer: network, timeout, 5xx, 429, an unexpected status, an oversized body */
  | { kind: 'failed'; reason: string };

/** 404 and 410 mean "no such document" (also on npmjs and PyPI); everything else non-2xx is a failure. */
const ABSENT = new Set([404, 410]);

/** The URL as logs and error messages may show it: no userinfo, no query. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

export async function fetchUpstreamDocument(r: UpstreamDocumentRequest): Promise<UpstreamDocument> {
  // node:http, not fetch: fetch adds `Cache-Control: no-cache` to every conditional request, which makes
  // servers (express's freshness check, so Verdaccio) answer 200 instead of 304.
  const url = new URL(r.url);
  const headers: Record<string, string> = { accept: r.accept, 'user-agent': r.userAgent };
  if (r.etag) headers['if-none-match'] = r.etag;
  if (r.lastModified) headers['if-modified-since'] = r.lastModified;
  if (r.auth && url.origin === r.origin) headers.authorization = `Basic ${Buffer.from(r.auth).toString('base64')}`;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<UpstreamDocument>((resolve) => {
    const req = send(url, { method: 'GET', headers, timeout: r.timeoutMs }, (res) => {
      const status = res.statusCode ?? 0;
      const done = (outcome: UpstreamDocument) => {
        res.destroy();
        resolve(outcome);
      };
      if (status === 304) return done({ kind: 'not-modified' });
      if (ABSENT.has(status)) return done({ kind: 'absent', status });
      if (status !== 200) return done({ kind: 'failed', reason: `answered ${status}` });
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (declared > r.maxBytes) return done({ kind: 'failed', reason: `document of ${declared} bytes exceeds ${r.maxBytes}` });
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > r.maxBytes) done({ kind: 'failed', reason: `document exceeds ${r.maxBytes} bytes` });
        else chunks.push(chunk);
      });
      res.on('error', (e) => resolve({ kind: 'failed', reason: describe(e) }));
      res.on('aborted', () => resolve({ kind: 'failed', reason: 'connection lost' }));
      res.on('end', () =>
        resolve({
          kind: 'ok',
          body: Buffer.concat(chunks, size),
          contentType: String(res.headers['content-type'] ?? ''),
          etag: res.headers.etag,
          lastModified: res.headers['last-modified'],
          url: url.href,
        }),
      );
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'timed out' })));
    req.on('error', (e) => resolve({ kind: 'failed', reason: describe(e) }));
    req.end();
  });
}

function describe(e: unknown): string {
  const err = e as { code?: string; message?: string };
  return err.code ?? err.message ?? String(e);
}

/** The answer when an upstream failed and nothing is cached: 503 with Retry-After, which npm and pip retry (a 404 they would not). */
export function upstreamUnavailable(what: string, detail: string): HttpError {
  return new HttpError('UNAVAILABLE', `${what}: upstream unavailable (${detail})`, { headers: { 'Retry-After': '10' } });
}
