// The client address used for lockout and audit: the socket peer, unless the
// peer is a trusted proxy, in which case X-Forwarded-For is walked from the
// right (the hop our proxy appended) past further trusted proxies; then
// X-Real-IP. Entries a client wrote itself on the left are never preferred.
import { BlockList, isIP } from 'node:net';
import type { ReadView } from '../http/types.js';

function normalize(ip: string): string {
  // IPv4 clients of a dual-stack socket appear as ::ffff:a.b.c.d
  if (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4) return ip.slice(7);
  return ip;
}

/** One trusted_proxies entry (an IP or a CIDR) parsed, or what is wrong with it. */
function proxyEntry(raw: string): { addr: string; type: 'ipv4' | 'ipv6'; prefix?: number } | string {
  const entry = raw.trim();
  const slash = entry.indexOf('/');
  const addr = slash < 0 ? entry : entry.slice(0, slash);
  const family = isIP(addr);
  if (family === 0) return `"${entry}" is not an IP address or CIDR`;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (slash < 0) return { addr, type };
  const bits = entry.slice(slash + 1);
  const prefix = Number(bits);
  if (!/^\d+$/.test(bits) || prefix > (family === 4 ? 32 : 128)) return `"${entry}" has an invalid prefix length`;
  return { addr, type, prefix };
}

/** For the config schema: what is wrong with a trusted_proxies list, if anything. */
export function checkProxies(list: readonly string[]): string | undefined {
  for (const raw of list) {
    const e = proxyEntry(raw);
    if (typeof e === 'string') return e;
  }
  return undefined;
}

export class ClientIp {
  private readonly list = new BlockList();
  private readonly empty: boolean;

  /** Entries are IPs or CIDRs; throws on an invalid one (naming it). */
  constructor(trusted: readonly string[]) {
    for (const raw of trusted) {
      const e = proxyEntry(raw);
      if (typeof e === 'string') throw new Error(`auth.trusted_proxies: ${e}`);
      if (e.prefix === undefined) this.list.addAddress(e.addr, e.type);
      else this.list.addSubnet(e.addr, e.prefix, e.type);
    }
    this.empty = trusted.length === 0;
  }

  isTrusted(ip: string): boolean {
    const family = isIP(ip);
    if (family === 0) return false;
    return this.list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }

  /** Whether the socket peer (as the front end reports it) is a trusted proxy. */
  trustsPeer(peerAddr: string): boolean {
    return !this.empty && this.isTrusted(normalize(peerAddr));
  }

  resolve(req: ReadView): string {
    return this.resolveFrom(req.ip, req.headers['x-forwarded-for'], req.headers['x-real-ip']);
  }

  private resolveFrom(peerAddr: string, xff: string | undefined, real: string | undefined): string {
    const peer = normalize(peerAddr);
    if (this.empty) return peer;
    if ((xff === undefined && real === undefined) || !this.isTrusted(peer)) return peer;
    if (xff !== undefined) {
      const hops = xff.split(',');
      let client = peer;
      for (let i = hops.length - 1; i >= 0; i--) {
        const hop = normalize(hops[i]!.trim());
        if (isIP(hop) === 0) break;
        client = hop;
        if (!this.isTrusted(hop)) break;
      }
      return client;
    }
    const r = normalize(real!.trim());
    return isIP(r) === 0 ? peer : r;
  }
}
