// A pass-through HTTP proxy between nora-ts and a real upstream, for the
// pull-through tests: it counts what nora-ts asks (method, path, the
// conditional headers, the upstream's status), can play an upstream that is
// down (connections reset) or failing (a status), and can replace one
// path's body (a tampered tarball). Loopback only.
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  path: string;
  status: number;
  headers: IncomingHttpHeaders;
}

export interface CountingProxy {
  url: string;
  seen: Seen[];
  /** 'up' forwards; 'reset' destroys every connection; a number answers that status */
  mode: 'up' | 'reset' | number;
  /** path → body served instead of the upstream's (same status and headers, length fixed) */
  replace: Map<string, Buffer>;
  count(pred: (s: Seen) => boolean): number;
  close(): Promise<void>;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const t = new URL(target);
  const proxy: CountingProxy = {
    url: '',
    seen: [],
    mode: 'up',
    replace: new Map(),
    count: (pred) => proxy.seen.filter(pred).length,
    close: () => new Promise((r) => server.close(() => r())),
  };
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    const record = (status: number) => proxy.seen.push({ method: req.method ?? '', path, status, headers: req.headers });
    if (proxy.mode === 'reset') {
      record(0);
      req.socket.destroy();
      return;
    }
    if (typeof proxy.mode === 'number') {
      record(proxy.mode);
      res.writeHead(proxy.mode, { 'content-type': 'text/plain' }).end('upstream trouble\n');
      return;
    }
    const up = request({ host: t.hostname, port: t.port, method: req.method, path, headers: { ...req.headers, host: t.host } }, (ures) => {
      record(ures.statusCode ?? 0);
      const swap = proxy.replace.get(path);
      if (swap && ures.statusCode === 200) {
        ures.resume();
        res.writeHead(200, { ...ures.headers, 'content-length': String(swap.length) }).end(swap);
        return;
      }
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      ures.pipe(res);
    });
    up.on('error', () => {
      record(0);
      res.destroy();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.keepAliveTimeout = 1000;
  return proxy;
}
