// The other way into the server for a GET or HEAD: read only what a response
// held in memory depends on, in one pass over uWebSockets.js's headers, and
// write that response before the handler returns. No Req/Reply objects, no
// promises, no abort handler: a cached manifest pull or package document costs a few microseconds.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { MEMORY_HEADERS, type MemoryResponse, type ReadView } from './types.js';
import { statusLine } from './uws-adapter.js';

const decoder = new TextDecoder();

/** The request as a ReadView holding only MEMORY_HEADERS; the socket's address is read on first use (it costs an allocation). */
class UwsReadView implements ReadView {
  readonly headers: Record<string, string> = {};
  private peerAddr: string | undefined = undefined;
  constructor(
    readonly method: 'GET' | 'HEAD',
    readonly path: string,
    readonly rawQuery: string,
    private readonly res: HttpResponse,
  ) {}
  get ip(): string {
    return (this.peerAddr ??= decoder.decode(this.res.getRemoteAddressAsText()));
  }
}

/**
 * The request as a ReadView, or null when it must take the full path: it
 * carries a body or its headers exceed maxHeaderBytes (the full path answers
 * those with the right error or connection handling). Repeated headers are
 * joined as the full path joins them.
 */
export function readForMemory(res: HttpResponse, r: HttpRequest, method: 'GET' | 'HEAD', path: string, maxHeaderBytes: number): ReadView | null {
  const m = new UwsReadView(method, path, r.getQuery() ?? '', res);
  const h = m.headers;
  let bytes = 0;
  let plain = true;
  r.forEach((k, v) => {
    bytes += k.length + v.length;
    if (MEMORY_HEADERS.has(k)) h[k] = h[k] === undefined ? v : `${h[k]}, ${v}`;
    else if (k === 'content-length' || k === 'transfer-encoding') plain = false;
  });
  return plain && bytes <= maxHeaderBytes ? m : null;
}

/** Writes the whole response now (inside the request handler, so uWS corks it); `close` ends the connection after it. */
export function writeMemoryResponse(res: HttpResponse, method: 'GET' | 'HEAD', out: MemoryResponse, close: boolean): void {
  res.writeStatus(statusLine(out.status));
  for (const [k, v] of out.headers) res.writeHeader(k, v);
  if (method === 'HEAD') {
    // uWS 20.30 still counts a response ended by endWithoutBody as pending when
    // the handler returns, and aborts the process unless an abort handler exists.
    res.onAborted(noop);
    res.endWithoutBody(out.body.length, close);
  } else {
    res.end(out.body, close);
  }
}

function noop(): void {}
