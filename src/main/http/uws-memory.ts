// The other way into the server for a GET or HEAD: read only what a response
// held in memory depends on, in one pass over uWebSockets.js's headers, and
// write that response before the handler returns. No Req/Reply objects, no
// promises, no abort handler: a cached manifest pull costs a few microseconds.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { MemoryRead, MemoryResponse } from './types.js';
import { statusLine } from './uws-adapter.js';

const decoder = new TextDecoder();

class UwsMemoryRead implements MemoryRead {
  accept: string | undefined = undefined;
  authorization: string | undefined = undefined;
  forwardedFor: string | undefined = undefined;
  realIp: string | undefined = undefined;
  private peerAddr: string | undefined = undefined;
  constructor(
    readonly method: 'GET' | 'HEAD',
    readonly path: string,
    private readonly res: HttpResponse,
  ) {}
  peer(): string {
    return (this.peerAddr ??= decoder.decode(this.res.getRemoteAddressAsText()));
  }
}

const join = (a: string | undefined, b: string) => (a === undefined ? b : `${a}, ${b}`);

/**
 * The request as a MemoryRead, or null when it must take the full path: it
 * carries a body, repeats Authorization, or its headers exceed maxHeaderBytes
 * (the full path answers those with the right error or connection handling).
 */
export function readForMemory(res: HttpResponse, r: HttpRequest, method: 'GET' | 'HEAD', path: string, maxHeaderBytes: number): MemoryRead | null {
  const m = new UwsMemoryRead(method, path, res);
  let bytes = 0;
  let plain = true;
  r.forEach((k, v) => {
    bytes += k.length + v.length;
    switch (k) {
      case 'authorization':
        if (m.authorization !== undefined) plain = false;
        m.authorization = v;
        break;
      case 'accept':
        m.accept = join(m.accept, v);
        break;
      case 'x-forwarded-for':
        m.forwardedFor = join(m.forwardedFor, v);
        break;
      case 'x-real-ip':
        m.realIp = join(m.realIp, v);
        break;
      case 'content-length':
      case 'transfer-encoding':
        plain = false;
        break;
    }
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
