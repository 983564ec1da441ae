// A counting, throttling pass-through HTTP proxy on 127.0.0.1 in front of a
// real upstream: counts requests and body bytes per "METHOD path", limits
// each response stream's rate, and can cut a response mid-stream or refuse
// connections (upstream down), answer a fixed status (upstream failing), or
// replace one path's body (a tampered file); it records each request's
// headers and the status it got (conditional requests, 304s). Tests and bench
// scenario 10 put it between a registry under test and its upstream.
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  /** with the query */
  path: string;
  /** what nora-ts got: the upstream's status, or the one played; 0 for a reset */
  status: number;
  headers: IncomingHttpHeaders;
}

export interface PassThrough {
  url: string;
  port: number;
  /** "GET /v2/x/blobs/sha256:…" → count */
  counts: Map<string, number>;
  /** response body bytes sent to nora-ts */
  bytes: number;
  count(method: string, pathPrefix: string): number;
  /** bytes per second per response (0 = unlimited) */
  rate: number;
  /** cut the next response whose path includes `match` after `after` body bytes */
  killNext(match: string, after: number): void;
  /** answer every request by destroying the socket (upstream down) */
  down: boolean;
  /** answer every request with this status instead of forwarding (0 = forward) */
  status: number;
  /** path (with query) → body sent instead of the upstream's 200 body (Content-Length adjusted) */
  replace: Map<string, Buffer>;
  /** every request, in order */
  seen: Seen[];
  close(): Promise<void>;
}

export async function startPassThrough(target: string, opts: { rate?: number } = {}): Promise<PassThrough> {
  const t = new URL(target);
  const kills: { match: string; after: number }[] = [];
  const state = {
    counts: new Map<string, number>(),
    bytes: 0,
    rate: opts.rate ?? 0,
    down: false,
    status: 0,
    replace: new Map<string, Buffer>(),
    seen: [] as Seen[],
  };
  const server = http.createServer((req, res) => {
    const record = (status: number) => state.seen.push({ method: req.method ?? '', path: req.url ?? '/', status, headers: req.headers });
    if (state.down) {
      record(0);
      req.socket.destroy();
      return;
    }
    if (state.status) {
      record(state.status);
      res.writeHead(state.status, { 'content-type': 'text/plain' }).end('upstream trouble\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const k = `${req.method} ${path}`;
    state.counts.set(k, (state.counts.get(k) ?? 0) + 1);
    const ki = kills.findIndex((x) => path.includes(x.match) && req.method === 'GET');
    const kill = ki >= 0 ? kills.splice(ki, 1)[0]! : null;
    const headers = { ...req.headers, host: t.host };
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers }, (ur) => {
      record(ur.statusCode ?? 0);
      const swap = state.replace.get(req.url ?? '/');
      if (swap && ur.statusCode === 200) {
        ur.resume();
        res.writeHead(200, { ...ur.headers, 'content-length': String(swap.length) }).end(swap);
        return;
      }
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      let sent = 0;
      const started = Date.now();
      // Paused for the client (drain) or for the rate limit: resume only when neither holds.
      let draining = false;
      let sleeping = false;
      const resume = () => {
        if (!draining && !sleeping) ur.resume();
      };
      ur.on('data', (chunk: Buffer) => {
        if (kill && sent + chunk.length >= kill.after) {
          res.write(chunk.subarray(0, Math.max(0, kill.after - sent)));
          ur.destroy();
          res.socket?.destroy();
          return;
        }
        sent += chunk.length;
        state.bytes += chunk.length;
        if (!res.write(chunk) && !draining) {
          draining = true;
          ur.pause();
          res.once('drain', () => {
            draining = false;
            resume();
          });
        }
        if (state.rate > 0 && !sleeping) {
          const due = started + (sent / state.rate) * 1000 - Date.now();
          if (due > 0) {
            sleeping = true;
            ur.pause();
            setTimeout(() => {
              sleeping = false;
              resume();
            }, due);
          }
        }
      });
      ur.on('end', () => res.end());
      ur.on('error', () => res.socket?.destroy());
    });
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    port,
    count(method: string, pathPrefix: string) {
      let n = 0;
      for (const [k, v] of state.counts) if (k.startsWith(`${method} ${pathPrefix}`)) n += v;
      return n;
    },
    killNext(match: string, after: number) {
      kills.push({ match, after });
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}
