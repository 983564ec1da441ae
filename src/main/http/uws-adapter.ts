// Turns one uWebSockets.js request into our Req/Reply. uWS's HttpRequest is
// only valid synchronously, so everything is copied at once; the body is a
// Readable fed by onData with pause/resume for backpressure; every write after
// an await is corked; downloads go through tryEnd/onWritable with pooled buffers.
import { Readable } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { BodyTooLarge, type FileSlice, type Reply, type Req } from './types.js';
import type { Identity } from '../auth/types.js';
import { BufferPool } from './buffer-pool.js';
import { BodyChunkPool } from './body-chunks.js';

const decoder = new TextDecoder();

/**
 * Largest write per corked tryEnd on a TLS connection: one TLS record. Corked
 * writes larger than uWS's 16 KiB cork buffer are split by uWS 20.30, and when
 * an SSL_write stopped midway (backpressure) the retry's first piece is shorter
 * than what BoringSSL already took: SSL_R_BAD_LENGTH, no syscall, no writable
 * event ever again, and the download stalls until uWS's 10 s timeout resets
 * it. Record-sized writes keep every retry consistent; TLS sends one record
 * per syscall anyway, so this costs calls into uWS, not syscalls.
 */
export const TLS_WRITE_SLICE = 16 * 1024;

/** What one server's exchanges share; each server has its own. */
export class ServerShared {
  /** Set at shutdown: every response then closes its connection, so keep-alive clients move on. */
  closing = false;
  /** download read buffers */
  readonly buffers = new BufferPool();
  /** request body copies */
  readonly chunks = new BodyChunkPool();
  /** most bytes handed to one tryEnd: TLS_WRITE_SLICE on a TLS port */
  constructor(readonly writeSlice = Infinity) {}
}

const statusLines = new Map<number, string>();
/** "200 OK"; built once per code. */
export function statusLine(code: number): string {
  let line = statusLines.get(code);
  if (line === undefined) statusLines.set(code, (line = `${code} ${STATUS_CODES[code] ?? 'Unknown'}`));
  return line;
}
const BODY_HIGH_WATER = 1 << 20;

export interface Exchange {
  req: Req;
  reply: UwsReply;
}

class UwsRequest implements Req {
  clientIp: string;
  identity: Identity | null = null;
  format = 'other';
  bodyDone = false;
  bytesIn = 0;
  /** total length of header names and values (the server caps it) */
  headerBytes = 0;
  /** set by adapt() when the request carries a body */
  stream: Readable | null = null;
  private q: URLSearchParams | null = null;
  private abort: AbortController | null = null;
  aborted = false;
  constructor(
    readonly method: string,
    readonly path: string,
    readonly rawQuery: string,
    readonly headers: Record<string, string>,
    readonly ip: string,
    readonly contentLength: number | null,
  ) {
    this.clientIp = ip;
  }
  // query, signal and an empty body are built only when a handler asks: most
  // requests (manifest and blob GETs) never do, and each costs allocations.
  get query(): URLSearchParams {
    return (this.q ??= new URLSearchParams(this.rawQuery));
  }
  get signal(): AbortSignal {
    if (!this.abort) {
      this.abort = new AbortController();
      if (this.aborted) this.abort.abort();
    }
    return this.abort.signal;
  }
  get body(): Readable {
    return (this.stream ??= Readable.from([]));
  }
  markAborted(): void {
    this.aborted = true;
    this.abort?.abort();
    if (!this.bodyDone) this.stream?.destroy(new Error('client aborted'));
  }
  async readBody(limit: number): Promise<Buffer> {
    if (this.contentLength !== null && this.contentLength > limit) throw new BodyTooLarge(limit);
    const parts: Buffer[] = [];
    let n = 0;
    for await (const chunk of this.body) {
      n += (chunk as Buffer).length;
      if (n > limit) throw new BodyTooLarge(limit);
      parts.push(chunk as Buffer);
    }
    return Buffer.concat(parts, n);
  }
}

export class UwsReply implements Reply {
  private code = 200;
  private reason: string | undefined;
  private headers: [string, string][] = [];
  private started = false;
  aborted = false;
  bytesOut = 0;
  finished: Promise<void>;
  private resolveFinished!: () => void;
  /** wakes a download waiting for the socket when the client goes away */
  private wakeOnAbort: (() => void) | null = null;
  /** resolves the download waiting for the socket to drain */
  private wakeOnWritable: (() => void) | null = null;

  constructor(
    private readonly res: HttpResponse,
    private readonly req: UwsRequest,
    private readonly shared: ServerShared,
  ) {
    this.finished = new Promise((r) => (this.resolveFinished = r));
  }

  get done(): boolean {
    return this.started || this.aborted;
  }
  get statusCode(): number {
    return this.code;
  }

  markAborted(): void {
    this.aborted = true;
    this.wakeOnAbort?.();
    this.resolveFinished();
  }

  status(code: number, reason?: string): Reply {
    this.code = code;
    this.reason = reason === undefined ? undefined : reason.replace(/[^\x20-\x7e]+/g, ' ').slice(0, 200);
    return this;
  }
  /** Sets a header, replacing an earlier one of the same name. */
  header(name: string, value: string | number): Reply {
    const lower = name.toLowerCase();
    const i = this.headers.findIndex(([k]) => k.toLowerCase() === lower);
    if (i >= 0) this.headers[i] = [name, String(value)];
    else this.headers.push([name, String(value)]);
    return this;
  }

  private writeHead(): void {
    this.res.writeStatus(this.reason ? `${this.code} ${this.reason}` : statusLine(this.code));
    for (const [k, v] of this.headers) this.res.writeHeader(k, v);
  }

  /** If the client's body was not read, the connection cannot be reused safely. */
  private mustClose(): boolean {
    return this.shared.closing || !this.req.bodyDone;
  }

  send(body?: string | Buffer): void {
    if (this.done) return;
    this.started = true;
    const buf = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    this.res.cork(() => {
      this.writeHead();
      if (this.req.method === 'HEAD') {
        this.res.endWithoutBody(buf ? buf.length : 0, this.mustClose());
      } else {
        this.bytesOut += buf ? buf.length : 0;
        this.res.end(buf ?? '', this.mustClose());
      }
    });
    this.resolveFinished();
  }

  json(code: number, value: unknown): void {
    this.status(code).header('Content-Type', 'application/json').send(JSON.stringify(value));
  }

  async sendFile(slice: FileSlice): Promise<void> {
    if (this.done) return;
    const { handle, start, length } = slice;
    if (this.req.method === 'HEAD' || length === 0) {
      this.started = true;
      this.res.cork(() => {
        this.writeHead();
        if (this.req.method === 'HEAD') this.res.endWithoutBody(length, this.mustClose());
        else this.res.end('', this.mustClose());
      });
      this.resolveFinished();
      return;
    }
    this.started = true;
    // Registered before the first write, not at the first refused one: uWS
    // clears its 10 s timer on a writable event only when a handler exists.
    // Without one, a cork buffer that could not be flushed at once (small
    // writes: a client at the front of a pull-through fill) arms that timer on
    // drain, and writes that succeed never clear it: the download is cut
    // mid-stream after 10 s however fast it flows.
    this.res.onWritable(() => {
      const wake = this.wakeOnWritable;
      this.wakeOnWritable = null;
      wake?.();
      return true;
    });
    let sent = 0;
    let headWritten = false;
    try {
      while (sent < length && !this.aborted) {
        if (handle.available) await handle.available(start + sent);
        if (this.aborted) break;
        // A buffer is held only while a chunk is read and handed to uWS, never
        // while the client is slow: memory follows reads in flight, not open
        // downloads. After backpressure the unsent rest is read again (from
        // the page cache) when the socket can take more.
        const buf = await this.shared.buffers.acquire();
        let ok = false;
        let finished = false;
        let accepted = 0;
        try {
          const want = Math.min(buf.length, length - sent);
          const { bytesRead } = await handle.read(buf, 0, want, start + sent);
          if (this.aborted) break;
          if (bytesRead === 0) throw new Error('file shorter than expected');
          const chunk = buf.subarray(0, bytesRead);
          while (accepted < bytesRead) {
            const slice = chunk.subarray(accepted, accepted + this.shared.writeSlice);
            this.res.cork(() => {
              if (!headWritten) {
                this.writeHead();
                headWritten = true;
              }
              const base = this.res.getWriteOffset();
              [ok, finished] = this.res.tryEnd(slice, length);
              accepted += finished ? slice.length : this.res.getWriteOffset() - base;
            });
            if (!ok || finished) break;
          }
        } finally {
          this.shared.buffers.release(buf);
        }
        sent += accepted;
        this.bytesOut += accepted;
        if (finished) break;
        if (!ok) await this.writable();
      }
    } catch (e) {
      // Headers are out; the only honest signal left is to cut the connection.
      if (!this.aborted) this.res.close();
      throw e;
    } finally {
      this.resolveFinished();
    }
  }

  /** Resolves when the socket can take more (or the client has gone). */
  private writable(): Promise<void> {
    return new Promise((resolve) => {
      this.wakeOnAbort = resolve;
      this.wakeOnWritable = resolve;
    });
  }
}


/** Copies everything needed out of uWS's request, synchronously. */
export function adapt(res: HttpResponse, r: HttpRequest, shared: ServerShared): Exchange {
  const method = r.getMethod().toUpperCase();
  const path = r.getUrl();
  const rawQuery = r.getQuery() ?? '';
  const headers: Record<string, string> = {};
  let headerBytes = 0;
  r.forEach((k, v) => {
    headerBytes += k.length + v.length;
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  });
  const ip = decoder.decode(res.getRemoteAddressAsText());
  const cl = headers['content-length'];
  const contentLength = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : null;
  const req = new UwsRequest(method, path, rawQuery, headers, ip, contentLength);
  req.headerBytes = headerBytes;
  const reply = new UwsReply(res, req, shared);
  res.onAborted(() => {
    reply.markAborted();
    req.markAborted();
  });
  // No Content-Length and no chunked encoding means no body (RFC 9112 6.3).
  if (contentLength === 0 || (contentLength === null && headers['transfer-encoding'] === undefined)) {
    req.bodyDone = true;
    return { req, reply };
  }
  let paused = false;
  const body = new Readable({
    highWaterMark: BODY_HIGH_WATER,
    read() {
      if (paused && !reply.aborted) {
        paused = false;
        res.resume();
      }
    },
  });
  // A client that disconnects destroys the body with an error. A handler that
  // reads the body sees that error through its own pipeline/iterator; one that
  // has not started reading (still authenticating, queued, or answering without
  // the body) must not turn it into an unhandled 'error' that kills the process.
  body.on('error', () => {});
  req.stream = body;
  res.onData((ab, isLast) => {
    if (ab.byteLength > 0) {
      // uWS neuters the ArrayBuffer on return: copy it.
      const chunk = shared.chunks.copy(ab);
      req.bytesIn += chunk.length;
      if (!body.push(chunk) && !isLast) {
        paused = true;
        res.pause();
      }
    }
    if (isLast) {
      req.bodyDone = true;
      body.push(null);
      // uWS may hand over data it had already read after a pause, the last of it
      // included: an ended body never asks for more, so resume here or the
      // kept-alive connection's next request is never read.
      if (paused && !reply.aborted) {
        paused = false;
        res.resume();
      }
    }
  });
  return { req, reply };
}
