// HTTP/1.1 over a bare socket, for requests fetch would refuse or "fix":
// unnormalised paths (.., %2e%2e, backslashes), control bytes, huge headers.
// One request per connection (Connection: close); the response is read to EOF.
import { connect } from 'node:net';

export interface RawRequest {
  method: string;
  /** sent exactly as given (path and query) */
  target: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export interface RawResponse {
  /** 0 when the server closed the connection without answering */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** ms until the connection closed */
  ms: number;
  timedOut: boolean;
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', i);
    if (eol < 0) break;
    const n = parseInt(b.subarray(i, eol).toString('latin1'), 16);
    if (!Number.isFinite(n) || n === 0) break;
    out.push(b.subarray(eol + 2, eol + 2 + n));
    i = eol + 2 + n + 2;
  }
  return Buffer.concat(out);
}

/** Parses one complete response (head + body) from raw bytes. */
export function parseResponse(raw: Buffer, method: string): Omit<RawResponse, 'ms' | 'timedOut'> {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, body: Buffer.alloc(0) };
  const head = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = raw.subarray(end + 4);
  if (method === 'HEAD') body = Buffer.alloc(0);
  else if (headers['transfer-encoding']?.includes('chunked')) body = dechunk(body);
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  return { status, headers, body };
}

/** True when `raw` holds a whole response with a known length (HEAD: the head alone). */
export function complete(raw: Buffer, method: string): boolean {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return false;
  if (method === 'HEAD') return true;
  const head = raw.subarray(0, end).toString('latin1');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
  if (status === 204 || status === 304) return true;
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  return cl !== null && raw.length - end - 4 >= Number(cl[1]);
}

export function rawHttp(port: number, req: RawRequest, timeoutMs = 10_000): Promise<RawResponse> {
  const started = Date.now();
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  const headers: Record<string, string> = { host: `127.0.0.1:${port}`, connection: 'close', ...req.headers };
  if (body && headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) headers['content-length'] = String(body.length);
  const head = `${req.method} ${req.target} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      s.destroy();
    }, timeoutMs);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ ...parseResponse(Buffer.concat(parts), req.method), ms: Date.now() - started, timedOut });
    };
    s.on('data', (c: Buffer) => {
      parts.push(c);
      // Done once the whole response is in (uWS keeps HEAD connections open even after "Connection: close").
      if (complete(Buffer.concat(parts), req.method)) finish();
    });
    s.on('error', () => {});
    s.on('close', finish);
    s.write(Buffer.from(head, 'latin1'));
    if (body) s.write(body);
  });
}
