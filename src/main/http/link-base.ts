// The scheme://host[:port] that generated links name (npm tarball URLs, PyPI
// file links and redirects). A configured server.public_url always wins.
// Without one, links name the host the client asked for, as Verdaccio does:
// the Host header, or X-Forwarded-Host / X-Forwarded-Proto when the socket
// peer is in auth.trusted_proxies (from anyone else they would let a client
// choose where other clients' links point). A value that is not plain
// host[:port] is never copied into a link: the configured base is used.
import { isIP } from 'node:net';
import type { ClientIp } from '../auth/client-ip.js';
import type { ReadView } from './types.js';

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const HOST_PORT = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]{1,253})(?::(\d{1,5}))?$/;

/** `host[:port]` lower-cased when it is exactly that (a DNS name, IPv4 or [IPv6]), else null. */
export function parseHost(value: string | undefined): string | null {
  if (value === undefined) return null;
  const v = value.trim().toLowerCase();
  const m = HOST_PORT.exec(v);
  if (!m) return null;
  const [, host, port] = m as unknown as [string, string, string | undefined];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return null;
  if (host.startsWith('[')) return isIP(host.slice(1, -1)) === 6 ? v : null;
  return host.split('.').every((l) => LABEL.test(l)) ? v : null;
}

/** The first entry of a comma-separated forwarding header (the hop nearest the client). */
function first(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const i = value.indexOf(',');
  return (i < 0 ? value : value.slice(0, i)).trim();
}

export class LinkBase {
  constructor(
    private readonly publicUrl: string,
    private readonly proxies: ClientIp,
    /** the configured base (http://host:port), read at call time: with port 0 it is known only after listening */
    private readonly fallback: () => string,
    /** the scheme the client used to reach this port (https when TLS is on) */
    private readonly scheme: 'http' | 'https' = 'http',
  ) {}

  of(req: ReadView): string {
    if (this.publicUrl) return this.publicUrl;
    const h = req.headers;
    const fwdHost = h['x-forwarded-host'];
    const fwdProto = h['x-forwarded-proto'];
    let host = parseHost(h.host);
    let proto: string = this.scheme;
    if ((fwdHost !== undefined || fwdProto !== undefined) && this.proxies.trustsPeer(req.ip)) {
      if (fwdHost !== undefined) host = parseHost(first(fwdHost));
      const p = first(fwdProto)?.toLowerCase();
      if (p === 'https' || p === 'http') proto = p;
    }
    return host === null ? this.fallback() : `${proto}://${host}`;
  }
}
