// A streaming blob GET that hashes as it reads (no buffering), with time to
// first byte, for concurrency tests and the bench.
import http from 'node:http';
import { createHash } from 'node:crypto';

export interface PullResult {
  status: number;
  /** ms from request to response headers */
  ttfbMs: number;
  bytes: number;
  sha256: string;
  /** Content-Length announced */
  length: number;
  /** true when the body ended cleanly */
  complete: boolean;
  error?: string;
}

export function pullBlob(url: string, opts: { abortAfter?: number; headers?: Record<string, string> } = {}): Promise<PullResult> {
  const start = performance.now();
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    const out: PullResult = { status: 0, ttfbMs: 0, bytes: 0, sha256: '', length: -1, complete: false };
    let finished = false;
    const done = (error?: string) => {
      if (finished) return;
      finished = true;
      out.sha256 = `sha256:${hash.digest('hex')}`;
      if (error) out.error = error;
      resolve(out);
    };
    const req = http.get(url, { headers: opts.headers, agent: false }, (res) => {
      out.status = res.statusCode ?? 0;
      out.ttfbMs = performance.now() - start;
      out.length = Number(res.headers['content-length'] ?? -1);
      res.on('data', (c: Buffer) => {
        hash.update(c);
        out.bytes += c.length;
        if (opts.abortAfter !== undefined && out.bytes >= opts.abortAfter) {
          req.destroy();
          done('aborted by the client');
        }
      });
      res.on('end', () => {
        out.complete = res.complete;
        done(res.complete ? undefined : 'incomplete');
      });
      res.on('error', (e) => done(e.message));
      res.on('aborted', () => setImmediate(() => done('aborted'))); // the socket's own error, when it has one, first
    });
    req.on('error', (e) => done(e.message));
  });
}
