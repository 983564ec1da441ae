// Workload identity: a CI job's OIDC token (GitHub Actions, GitLab CI) turned
// into an identity, as NORA does (spec/nora-auth.md §3.6). The provider is
// chosen by the exact `iss`; the header's `alg` must be one the provider
// allows (never HS* or none, config refuses them); the signature is checked
// with the issuer's key for the `kid` (jose over WebCrypto: the RSA/ECDSA
// work runs on libuv's threadpool, not the event loop); then iss, aud,
// exp/nbf with leeway_secs, a bounded lifetime (exp − iat), and the first
// role rule whose `sub` glob and claim globs all match. Failures say why in
// the log (never the token); the client only learns "invalid or expired token".
import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { Identity } from './types.js';
import type { Logger } from '../log.js';
import type { OidcConfig, OidcProvider, OidcRule } from './oidc-config.js';
import { Jwks } from './jwks.js';
import { NamespaceScope, expandScope, textGlob } from './namespace-scope.js';

export type OidcResult =
  | { readonly ok: true; readonly identity: Identity; readonly expiresAt: number }
  | { readonly ok: false; readonly detail: string; readonly provider?: string };

interface Active {
  readonly p: OidcProvider;
  readonly jwks: Jwks;
}

function fail(detail: string, provider?: string): OidcResult {
  return { ok: false, detail, provider };
}

function ruleFor(rules: readonly OidcRule[], claims: JWTPayload): OidcRule | undefined {
  const sub = claims.sub ?? '';
  return rules.find(
    (r) => textGlob(r.pattern, sub) && Object.entries(r.claims).every(([name, glob]) => typeof claims[name] === 'string' && textGlob(glob, claims[name] as string)),
  );
}

export class OidcVerifier {
  private readonly byIssuer = new Map<string, Active>();

  constructor(
    private readonly config: OidcConfig,
    log: Logger,
  ) {
    for (const p of config.providers) {
      if (p.enabled) this.byIssuer.set(p.issuer, { p, jwks: new Jwks(p.issuer, p.jwks_uri, config.jwks_cache_secs, log) });
    }
  }

  /** Whether any provider can accept tokens. */
  get active(): boolean {
    return this.byIssuer.size > 0;
  }

  /** The key cache of an issuer (tests count its fetches). */
  keysOf(issuer: string): Jwks | undefined {
    return this.byIssuer.get(issuer)?.jwks;
  }

  async verify(jwt: string): Promise<OidcResult> {
    let alg: string | undefined;
    let iss: string | undefined;
    try {
      alg = decodeProtectedHeader(jwt).alg;
      iss = decodeJwt(jwt).iss;
    } catch {
      return fail('not a JWT');
    }
    const a = iss === undefined ? undefined : this.byIssuer.get(iss);
    if (a === undefined) return fail('no enabled provider has this issuer');
    const { p, jwks } = a;
    if (alg === undefined || !(p.algorithms as readonly string[]).includes(alg)) return fail(`algorithm ${String(alg)} not allowed`, p.name);
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(
        jwt,
        async (h) => {
          const key = await jwks.key(h.kid, h.alg);
          if (key === undefined) throw new Error(`no key for kid ${String(h.kid).slice(0, 64)}`);
          return key;
        },
        {
          issuer: p.issuer,
          audience: p.audience || undefined,
          algorithms: [...p.algorithms],
          clockTolerance: this.config.leeway_secs,
          requiredClaims: ['exp', 'sub'],
        },
      ));
    } catch (e) {
      return fail((e as Error).message, p.name);
    }
    const exp = claims.exp!;
    if (claims.iat !== undefined && exp - claims.iat > p.max_token_lifetime_secs) return fail(`lifetime exp − iat exceeds ${p.max_token_lifetime_secs} s`, p.name);
    const rule = ruleFor(p.role_rules, claims);
    if (rule === undefined) return fail('no role rule matches', p.name);
    const scope = NamespaceScope.of(
      p.name,
      [expandScope(p.namespace_scope, claims), rule.namespace_scope && expandScope(rule.namespace_scope, claims)],
      p.namespace_scope_enforcement === 'audit',
    );
    const identity: Identity = Object.freeze({ user: claims.sub!, role: rule.role, via: 'oidc', ...(scope ? { scope } : {}) });
    return { ok: true, identity, expiresAt: exp * 1000 };
  }
}
