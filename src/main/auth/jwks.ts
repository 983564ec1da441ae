// One OIDC issuer's signing keys. Fetched with a timeout and a size cap (the
// issuer is a network peer like any upstream), kept for jwks_cache_secs and
// refreshed then; a token naming an unknown `kid` (the issuer rotated its
// keys) forces a refresh at most once per cooldown, so a flood of made-up kids
// costs the issuer one request. Keys past jwks_cache_secs are still used
// while the refresh runs in the background, and when a refresh fails they
// stay in use: a CI provider's outage (or a hung issuer) must neither log
// every job out nor make logins wait on its timeout.
import { importJWK, type JWK } from 'jose';
import type { Logger } from '../log.js';

const FETCH_TIMEOUT_MS = 5000;
const MAX_DOCUMENT_BYTES = 256 * 1024;
/** Longest wait between forced refreshes (unknown kid) and retries after a failed refresh. */
const MAX_COOLDOWN_MS = 60_000;

type Key = Awaited<ReturnType<typeof importJWK>>;

/** Reads a small JSON document over http(s): status 200, bounded size, no redirects to elsewhere. */
async function fetchJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'error', headers: { accept: 'application/json' } });
  if (res.status !== 200 || res.body === null) {
    await res.body?.cancel();
    throw new Error(`${url} answered ${res.status}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const c of res.body as AsyncIterable<Uint8Array>) {
    size += c.length;
    if (size > MAX_DOCUMENT_BYTES) throw new Error(`${url}: document larger than ${MAX_DOCUMENT_BYTES} bytes`);
    chunks.push(c);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

export class Jwks {
  private keys: readonly JWK[] | null = null;
  private readonly imported = new Map<string, Promise<Key>>();
  private freshUntil = 0;
  private lastForced = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | null = null;
  private uri: string;
  private readonly cacheMs: number;
  private readonly cooldownMs: number;
  /** documents fetched (tests and metrics read it) */
  fetches = 0;

  constructor(
    private readonly issuer: string,
    jwksUri: string,
    cacheSecs: number,
    private readonly log: Logger,
  ) {
    this.uri = jwksUri;
    this.cacheMs = cacheSecs * 1000;
    this.cooldownMs = Math.min(this.cacheMs, MAX_COOLDOWN_MS);
  }

  /** The key a token's header names (`kid`, or the only key when it names none), usable for `alg`; undefined if there is none. */
  async key(kid: string | undefined, alg: string): Promise<Key | undefined> {
    if (this.keys === null) await this.refresh();
    else if (Date.now() >= this.freshUntil) void this.refresh();
    let jwk = this.find(kid, alg);
    if (jwk === undefined && Date.now() - this.lastForced >= this.cooldownMs) {
      this.lastForced = Date.now();
      await this.refresh();
      jwk = this.find(kid, alg);
    }
    if (jwk === undefined) return undefined;
    const memo = `${jwk.kid ?? ''}\n${alg}\n${jwk.n ?? jwk.x ?? ''}`;
    let k = this.imported.get(memo);
    if (k === undefined) {
      k = importJWK(jwk, alg);
      k.catch(() => this.imported.delete(memo));
      this.imported.set(memo, k);
    }
    return k;
  }

  private find(kid: string | undefined, alg: string): JWK | undefined {
    const usable = (this.keys ?? []).filter((k) => (k.use === undefined || k.use === 'sig') && (k.alg === undefined || k.alg === alg) && k.kty === (alg === 'ES256' ? 'EC' : 'RSA'));
    if (kid !== undefined) return usable.find((k) => k.kid === kid);
    return usable.length === 1 ? usable[0] : undefined;
  }

  /** One refresh at a time; a failure keeps the keys held (stale) and retries after the cooldown. */
  private refresh(): Promise<void> {
    this.refreshing ??= this.load()
      .then(
        (keys) => {
          this.keys = keys;
          this.imported.clear();
          this.freshUntil = Date.now() + this.cacheMs;
        },
        (e: Error) => {
          this.freshUntil = Date.now() + this.cooldownMs;
          this.log.warn(this.keys === null ? 'OIDC keys unavailable' : 'OIDC key refresh failed; using the keys held', { issuer: this.issuer, error: e.message });
        },
      )
      .finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async load(): Promise<JWK[]> {
    const uri = this.uri || (await this.discover());
    this.fetches++;
    const doc = (await fetchJson(uri)) as { keys?: unknown };
    if (!Array.isArray(doc?.keys)) throw new Error(`${uri}: no "keys" array`);
    return doc.keys.filter((k): k is JWK => typeof k === 'object' && k !== null && typeof (k as JWK).kty === 'string');
  }

  /** jwks_uri from the issuer's discovery document, else <issuer>/.well-known/jwks.json (NORA's order). */
  private async discover(): Promise<string> {
    const base = this.issuer.replace(/\/+$/, '');
    try {
      const doc = (await fetchJson(`${base}/.well-known/openid-configuration`)) as { jwks_uri?: unknown };
      const u = doc?.jwks_uri;
      // remembered: the discovery document names where the keys live from now on
      if (typeof u === 'string' && /^https?:\/\//.test(u)) return (this.uri = u);
    } catch (e) {
      this.log.debug('OIDC discovery failed; trying jwks.json', { issuer: this.issuer, error: (e as Error).message });
    }
    return `${base}/.well-known/jwks.json`;
  }
}
