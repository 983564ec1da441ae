// The [auth.oidc] table (NORA's keys, spec/nora-auth.md §1.1) read into a
// typed value. config.ts owns the schema and hands this module one raw table;
// problems come back through `fail` naming the exact key
// (auth.oidc.providers[0].algorithms), so start-up stops with a clear message.
import type { Role } from './types.js';
import { checkScopePattern } from './namespace-scope.js';

/** Asymmetric only: HS* would make every holder of the secret an issuer, and `none` signs nothing. */
export const OIDC_ALGORITHMS = ['RS256', 'ES256'] as const;
export type OidcAlgorithm = (typeof OIDC_ALGORITHMS)[number];

export interface OidcRule {
  /** glob (`*` = any text) on the token's `sub` */
  readonly pattern: string;
  readonly role: Role;
  /** further claims that must match, claim name → glob; values may not be absent */
  readonly claims: Readonly<Record<string, string>>;
  /** repositories / package names this rule may write (segment globs, `{claim}` placeholders); absent = the provider's */
  readonly namespace_scope?: readonly string[];
}

export interface OidcProvider {
  readonly name: string;
  readonly issuer: string;
  readonly jwks_uri: string;
  readonly audience: string;
  readonly algorithms: readonly OidcAlgorithm[];
  readonly max_token_lifetime_secs: number;
  readonly namespace_scope: readonly string[];
  readonly namespace_scope_enforcement: 'enforce' | 'audit';
  readonly enabled: boolean;
  readonly role_rules: readonly OidcRule[];
}

export interface OidcConfig {
  enabled: boolean;
  leeway_secs: number;
  jwks_cache_secs: number;
  providers: OidcProvider[];
}

export function oidcDefaults(): OidcConfig {
  return { enabled: false, leeway_secs: 60, jwks_cache_secs: 3600, providers: [] };
}

/** Reports a bad key below auth.oidc (`key` starts with "." or "[") and never returns. */
export type Fail = (key: string, problem: string) => never;

type Table = Record<string, unknown>;

function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function keys(t: Table, allowed: readonly string[], at: string, fail: Fail): void {
  for (const k of Object.keys(t)) if (!allowed.includes(k)) fail(`${at}.${k}`, `unknown key (known: ${allowed.join(', ')})`);
}

function str(t: Table, k: string, at: string, fail: Fail, dflt?: string): string {
  const v = t[k] ?? dflt;
  if (typeof v !== 'string') fail(`${at}.${k}`, v === undefined ? 'required' : 'expected a string');
  return v as string;
}

function bool(t: Table, k: string, at: string, fail: Fail, dflt: boolean): boolean {
  const v = t[k] ?? dflt;
  if (typeof v !== 'boolean') fail(`${at}.${k}`, 'expected true or false');
  return v as boolean;
}

function int(t: Table, k: string, at: string, fail: Fail, dflt: number, min: number, max: number): number {
  const raw = t[k] ?? dflt;
  const v = typeof raw === 'bigint' ? Number(raw) : raw;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${at}.${k}`, `expected an integer from ${min} to ${max}`);
  return v as number;
}

function strings(t: Table, k: string, at: string, fail: Fail, dflt?: readonly string[]): string[] | undefined {
  const v = t[k] ?? dflt;
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail(`${at}.${k}`, 'expected a list of strings');
  return [...(v as string[])];
}

function httpUrl(v: string, key: string, fail: Fail): void {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    fail(key, 'must be an http(s) URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') fail(key, 'must be an http(s) URL');
}

function scopes(list: string[] | undefined, key: string, fail: Fail): string[] | undefined {
  list?.forEach((p, i) => {
    const problem = checkScopePattern(p);
    if (problem) fail(`${key}[${i}]`, problem);
  });
  return list;
}

function rule(raw: unknown, at: string, fail: Fail): OidcRule {
  if (!isTable(raw)) fail(at, 'expected a table');
  keys(raw, ['pattern', 'role', 'claims', 'namespace_scope'], at, fail);
  const role = str(raw, 'role', at, fail);
  if (role !== 'read' && role !== 'write' && role !== 'admin') fail(`${at}.role`, 'expected read, write or admin');
  const claims: Record<string, string> = {};
  if (raw.claims !== undefined) {
    if (!isTable(raw.claims)) fail(`${at}.claims`, 'expected a table of claim = "glob"');
    for (const [k, v] of Object.entries(raw.claims)) {
      if (typeof v !== 'string') fail(`${at}.claims.${k}`, 'expected a string');
      claims[k] = v;
    }
  }
  return {
    pattern: str(raw, 'pattern', at, fail, '*'),
    role,
    claims,
    namespace_scope: scopes(strings(raw, 'namespace_scope', at, fail), `${at}.namespace_scope`, fail),
  };
}

function provider(raw: unknown, at: string, fail: Fail): OidcProvider {
  if (!isTable(raw)) fail(at, 'expected a table');
  keys(
    raw,
    ['name', 'issuer', 'jwks_uri', 'audience', 'algorithms', 'max_token_lifetime_secs', 'namespace_scope', 'namespace_scope_enforcement', 'enabled', 'role_rules'],
    at,
    fail,
  );
  const issuer = str(raw, 'issuer', at, fail);
  httpUrl(issuer, `${at}.issuer`, fail);
  const jwks_uri = str(raw, 'jwks_uri', at, fail, '');
  if (jwks_uri) httpUrl(jwks_uri, `${at}.jwks_uri`, fail);
  const algorithms = strings(raw, 'algorithms', at, fail, OIDC_ALGORITHMS)!;
  if (algorithms.length === 0) fail(`${at}.algorithms`, 'must name at least one algorithm');
  for (const a of algorithms) {
    if (!(OIDC_ALGORITHMS as readonly string[]).includes(a)) fail(`${at}.algorithms`, `${JSON.stringify(a)} is not accepted (only ${OIDC_ALGORITHMS.join(', ')})`);
  }
  const enforcement = str(raw, 'namespace_scope_enforcement', at, fail, 'enforce');
  if (enforcement !== 'enforce' && enforcement !== 'audit') fail(`${at}.namespace_scope_enforcement`, 'expected "enforce" or "audit"');
  const rules = raw.role_rules ?? [];
  if (!Array.isArray(rules)) fail(`${at}.role_rules`, 'expected an array of tables ([[…role_rules]])');
  return {
    name: str(raw, 'name', at, fail),
    issuer,
    jwks_uri,
    audience: str(raw, 'audience', at, fail, ''),
    algorithms: algorithms as OidcAlgorithm[],
    max_token_lifetime_secs: int(raw, 'max_token_lifetime_secs', at, fail, 900, 1, 86400 * 7),
    namespace_scope: scopes(strings(raw, 'namespace_scope', at, fail, ['*']), `${at}.namespace_scope`, fail)!,
    namespace_scope_enforcement: enforcement,
    enabled: bool(raw, 'enabled', at, fail, true),
    role_rules: (rules as unknown[]).map((r, i) => rule(r, `${at}.role_rules[${i}]`, fail)),
  };
}

/** The [auth.oidc] table read and checked; `fail` keys are relative to auth.oidc. */
export function parseOidc(raw: unknown, fail: Fail): OidcConfig {
  if (!isTable(raw)) fail('', 'expected a table ([auth.oidc])');
  keys(raw, ['enabled', 'leeway_secs', 'jwks_cache_secs', 'providers'], '', fail);
  const d = oidcDefaults();
  const list = raw.providers ?? [];
  if (!Array.isArray(list)) fail('.providers', 'expected an array of tables ([[auth.oidc.providers]])');
  const providers = (list as unknown[]).map((p, i) => provider(p, `.providers[${i}]`, fail));
  const names = new Set<string>();
  for (const [i, p] of providers.entries()) {
    if (names.has(p.name)) fail(`.providers[${i}].name`, `duplicate provider name ${JSON.stringify(p.name)}`);
    names.add(p.name);
  }
  return {
    enabled: bool(raw, 'enabled', '', fail, d.enabled),
    leeway_secs: int(raw, 'leeway_secs', '', fail, d.leeway_secs, 0, 3600),
    jwks_cache_secs: int(raw, 'jwks_cache_secs', '', fail, d.jwks_cache_secs, 1, 86400 * 7),
    providers,
  };
}
