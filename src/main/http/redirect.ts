// The optional plain-HTTP port (server.http_redirect_port): every request gets
// a 308 to the same path over https: on public_url's origin when set, else on
// the host the client asked for (a well-formed Host only) at the TLS port. It runs
// on Node's http module, not uWS: llhttp rejects a TLS ClientHello's first
// byte at once (400 and close), so a client trying https on this port falls
// back without waiting, where uWS 20.30 would hold the connection for its 10 s
// idle timeout. Redirects are rare, so Node's speed is plenty.
import { createServer, type Server } from 'node:http';
import { parseHost } from './link-base.js';

export interface RedirectListener {
  readonly port: number;
  close(): Promise<void>;
}

export interface RedirectTarget {
  publicUrl: string;
  tlsPort: number;
  /** the configured https base, for requests without a usable Host */
  fallback: () => string;
}

function origin(t: RedirectTarget, hostHeader: string | undefined): string {
  if (t.publicUrl) return new URL(t.publicUrl).origin;
  const h = parseHost(hostHeader);
  if (h === null) return new URL(t.fallback()).origin;
  return `https://${h.replace(/:\d+$/, '')}${t.tlsPort === 443 ? '' : `:${t.tlsPort}`}`;
}

/** Listens on host:port and redirects to `target`. */
export async function startRedirect(host: string, port: number, target: RedirectTarget): Promise<RedirectListener> {
  const server: Server = createServer((req, res) => {
    // Only an origin-form path is appended: "@evil.example/" after the host would change where the redirect goes.
    const path = req.url?.startsWith('/') ? req.url : '/';
    res.writeHead(308, { Location: origin(target, req.headers.host) + path, 'Content-Length': '0' });
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen on ${host}:${port} (server.http_redirect_port / NORA_HTTP_REDIRECT_PORT): ${e.code ?? e.message}`)),
    );
    server.listen({ host, port, exclusive: true }, resolve);
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
