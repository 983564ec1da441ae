// Requests to one upstream registry with its own credentials: anonymous,
// Basic, or the bearer token flow. No /v2/ ping: the first request goes out
// anonymously (or with what was learnt before) and a 401's challenge says what
// to do; then one retry. Tokens are cached per scope in this client (one
// client per configured upstream and credentials, so the cache key is
// upstream + scope + credentials) until `expires_in` (60 s when absent), and
// concurrent requests for one scope share one token fetch. Credentials go only
// to a token realm on the upstream's own host (CVE-2026-33540); redirects to
// another origin (blob CDNs) carry no Authorization at all.
import { UpstreamError, SingleFlight, readSmall, type Upstream, type UpstreamResponse } from '../../../main/proxy/index.js';
import { parseChallenges, type Challenge } from './challenge.js';

const MAX_REDIRECTS = 5;
const MAX_TOKEN_RESPONSE = 64 * 1024;

export interface RegistryRequest {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  /** token scope, e.g. "repository:library/nginx:pull" */
  scope: string;
  signal?: AbortSignal;
}

export class RegistryClient {
  private challenge: Challenge | null = null;
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  private readonly tokenFetches = new SingleFlight<string | null>();

  constructor(
    readonly upstream: Upstream,
    /** "user:pass" or '' */
    private readonly credentials: string,
  ) {}

  async request(path: string, opts: RegistryRequest): Promise<UpstreamResponse> {
    let res = await this.send(path, opts, await this.authorization(opts.scope, false));
    if (res.status !== 401) return res;
    const learnt = this.learn(res.headers['www-authenticate']);
    const auth = learnt ? await this.authorization(opts.scope, true) : null;
    if (auth === null) return res; // nothing better to offer: the caller sees the 401
    res.discard();
    res = await this.send(path, opts, auth);
    return res;
  }

  /** Sends, following redirects; Authorization only to the upstream's own origin. */
  private async send(path: string, opts: RegistryRequest, auth: string | null): Promise<UpstreamResponse> {
    let url = this.upstream.url(path);
    for (let hop = 0; ; hop++) {
      const headers = { ...opts.headers };
      if (auth && url.origin === this.upstream.base.origin) headers.authorization = auth;
      const res = await this.upstream.request(url.toString(), { method: opts.method, headers, signal: opts.signal });
      const location = res.headers.location;
      if (![301, 302, 303, 307, 308].includes(res.status) || !location || hop >= MAX_REDIRECTS) return res;
      res.discard();
      url = new URL(location, url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UpstreamError(this.upstream.label, 'redirect to a non-http URL');
    }
  }

  /** Remembers what a 401 asked for; false when it asked for nothing this client can answer. */
  private learn(header: string | undefined): boolean {
    const all = parseChallenges(header);
    const bearer = all.find((c) => c.scheme === 'bearer' && c.params.realm);
    const basic = all.find((c) => c.scheme === 'basic');
    const chosen = bearer ?? basic ?? null;
    if (!chosen) return false;
    if (chosen.scheme === 'basic' && !this.credentials) return false;
    this.challenge = chosen;
    return true;
  }

  /** The Authorization to send for `scope`, or null (anonymous); `fresh` drops a cached token first. */
  private async authorization(scope: string, fresh: boolean): Promise<string | null> {
    const c = this.challenge;
    if (!c) return null;
    if (c.scheme === 'basic') return this.credentials ? `Basic ${Buffer.from(this.credentials).toString('base64')}` : null;
    if (fresh) this.tokens.delete(scope);
    const hit = this.tokens.get(scope);
    if (hit && hit.expiresAt > Date.now()) return `Bearer ${hit.token}`;
    const token = await this.tokenFetches.run(scope, () => this.fetchToken(c, scope));
    return token ? `Bearer ${token}` : null;
  }

  private async fetchToken(c: Challenge, scope: string): Promise<string | null> {
    let realm: URL;
    try {
      realm = new URL(c.params.realm!);
    } catch {
      throw new UpstreamError(this.upstream.label, 'token realm is not a URL');
    }
    if (realm.protocol !== 'http:' && realm.protocol !== 'https:') throw new UpstreamError(this.upstream.label, 'token realm is not http(s)');
    if (c.params.service) realm.searchParams.set('service', c.params.service);
    realm.searchParams.set('scope', scope);
    const headers: Record<string, string> = { accept: 'application/json' };
    // Only a realm on the upstream's own host may see its credentials.
    if (this.credentials && realm.hostname === this.upstream.base.hostname) {
      headers.authorization = `Basic ${Buffer.from(this.credentials).toString('base64')}`;
    }
    const res = await this.upstream.request(realm.toString(), { headers });
    if (res.status !== 200) {
      res.discard();
      if (res.status >= 500 || res.status === 429) throw new UpstreamError(this.upstream.label, `token endpoint answered ${res.status}`, res.status);
      return null;
    }
    const body = await readSmall(res, MAX_TOKEN_RESPONSE, 'token response', this.upstream.label);
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      doc = JSON.parse(body.toString('utf8')) as typeof doc;
    } catch {
      throw new UpstreamError(this.upstream.label, 'token response is not JSON');
    }
    const token = typeof doc.token === 'string' ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : null;
    if (!token) throw new UpstreamError(this.upstream.label, 'token response has no token');
    const secs = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
    // A little early, so a token never expires between the check and its use.
    this.tokens.set(scope, { token, expiresAt: Date.now() + Math.max(1, secs - Math.min(10, secs / 10)) * 1000 });
    if (this.tokens.size > 10_000) this.tokens.delete(this.tokens.keys().next().value!);
    return token;
  }
}
