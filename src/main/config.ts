// One typed configuration object, built once at start-up from defaults, then
// config.toml, then NORA_* environment variables (env wins). Unlike NORA, any
// invalid input, an unknown NORA_* name included, stops start-up with one line
// naming the key (ConfigError).
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { parse as parseToml, TomlError } from 'smol-toml';
import { NORA_DOCUMENTED, READ_ELSEWHERE, nearest } from './nora-env.js';
import { checkProxies } from './auth/client-ip.js';
import { oidcDefaults, parseOidc, type OidcConfig } from './auth/oidc-config.js';
import { describeUpstreams, parseDockerUpstreams, type DockerUpstream } from './proxy/upstream-config.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Config {
  server: {
    host: string;
    port: number;
    public_url: string;
    body_limit_mb: number;
    shutdown_timeout_secs: number;
    tls_cert: string;
    tls_key: string;
    tls_key_passphrase: string;
    tls_reload_secs: number;
    http_redirect_port: number;
  };
  storage: {
    mode: 'local' | 'memory' | 's3';
    path: string;
    s3_url: string;
    bucket: string;
    s3_access_key: string;
    s3_secret_key: string;
    s3_region: string;
    s3_virtual_hosted: boolean;
    s3_redirect: boolean;
    s3_redirect_expiry_secs: number;
  };
  auth: {
    enabled: boolean;
    anonymous_read: boolean;
    docker_anon_pull: boolean;
    public_metrics: boolean;
    htpasswd_file: string;
    token_storage: string;
    token_cache_ttl: number;
    trusted_proxies: string[];
    admin_users: string[];
    hash_workers: number;
    redis_url: string;
    oidc: OidcConfig;
  };
  rate_limit: {
    enabled: boolean;
    auth_rps: number;
    auth_burst: number;
    upload_rps: number;
    upload_burst: number;
    general_rps: number;
    general_burst: number;
  };
  docker: {
    max_upload_sessions: number;
    max_upload_sessions_per_client: number;
    max_upload_session_size_mb: number;
    upload_session_ttl_secs: number;
    /** connect + response headers, seconds */
    proxy_timeout: number;
    /** longest silence while a body streams, seconds */
    read_timeout: number;
    /** seconds a cached tag is served before a HEAD revalidates it; -1 = always, 0 = always */
    metadata_ttl: number;
    serve_stale: boolean;
    /** cached content unused for longer is dropped by `nora gc --proxy-cache` (0 = keep) */
    cache_max_age_days: number;
    upstreams: DockerUpstream[];
  };
  cargo: { enabled: boolean };
  raw: { enabled: boolean; max_file_size: number; cache_control: string };
  maven: { enabled: boolean; checksum_verify: boolean; immutable_releases: boolean };
  circuit_breaker: { enabled: boolean; failure_threshold: number; reset_timeout: number };
  npm: {
    /** upstream registry URL; '' = hosted only (the default, unlike NORA's npmjs) */
    proxy: string;
    proxy_auth: string;
    proxy_timeout: number;
    /** seconds a cached packument answers before it is revalidated; -1 forever, 0 always */
    metadata_ttl: number;
    serve_stale: boolean;
    revalidate: boolean;
  };
  pypi: {
    /** one upstream simple index, used when `proxies` is empty; '' = none */
    proxy: string;
    proxy_auth: string;
    /** upstream simple indexes, tried in order */
    proxies: Upstream[];
    proxy_timeout: number;
  };
  log: { level: LogLevel };
}

/** An upstream index: its URL and optional `user:pass` credentials. */
export interface Upstream {
  url: string;
  auth: string;
}

export class ConfigError extends Error {
  constructor(readonly key: string, problem: string) {
    super(`config: ${key}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Kind = 'string' | 'int' | 'bool' | 'list' | 'enum' | 'custom';
interface KeySpec {
  kind: Kind;
  /**
   * kind 'custom': builds a structured value from TOML or env text; throws a
   * string naming the problem, or calls `fail` with the key below this one
   * (".providers[0].issuer")
   */
  parse?: (raw: unknown, fromEnv: boolean, fail: (subkey: string, problem: string) => never) => unknown;
  /** kind 'custom': the variable sets the table's boolean `enabled` field only (NORA_AUTH_OIDC_ENABLED) */
  envEnables?: boolean;
  /** how `nora config` shows the value (secrets masked) */
  describe?: (v: unknown) => string;
  env?: string;
  min?: number;
  max?: number;
  values?: readonly string[];
  secret?: boolean;
  check?: (v: unknown) => string | undefined;
}

// Every accepted key, its type, env var and bounds. Defaults live in defaults().
const SCHEMA: Record<string, Record<string, KeySpec>> = {
  server: {
    host: { kind: 'string', env: 'NORA_HOST', check: (v) => (v === '' ? 'must not be empty' : undefined) },
    port: { kind: 'int', env: 'NORA_PORT', min: 1, max: 65535 },
    public_url: { kind: 'string', env: 'NORA_PUBLIC_URL', check: checkUrl },
    body_limit_mb: { kind: 'int', env: 'NORA_BODY_LIMIT_MB', min: 1, max: 1024 * 1024 },
    shutdown_timeout_secs: { kind: 'int', env: 'NORA_SHUTDOWN_TIMEOUT_SECS', min: 0, max: 3600 },
    // Native TLS (NORA has none): PEM files, the certificate file may hold the chain.
    tls_cert: { kind: 'string', env: 'NORA_TLS_CERT' },
    tls_key: { kind: 'string', env: 'NORA_TLS_KEY' },
    tls_key_passphrase: { kind: 'string', env: 'NORA_TLS_KEY_PASSPHRASE', secret: true },
    tls_reload_secs: { kind: 'int', env: 'NORA_TLS_RELOAD_SECS', min: 0, max: 86400 },
    http_redirect_port: { kind: 'int', env: 'NORA_HTTP_REDIRECT_PORT', min: 0, max: 65535 },
  },
  storage: {
    mode: { kind: 'enum', env: 'NORA_STORAGE_MODE', values: ['local', 'memory', 's3'] },
    path: { kind: 'string', env: 'NORA_STORAGE_PATH', check: (v) => (v === '' ? 'must not be empty' : undefined) },
    // NORA's S3 keys; no keys means unsigned requests (AWS_* variables are not read).
    s3_url: { kind: 'string', env: 'NORA_STORAGE_S3_URL', check: (v) => (v === '' ? 'must be an http(s) URL' : checkUrl(v)) },
    bucket: { kind: 'string', env: 'NORA_STORAGE_BUCKET' },
    s3_access_key: { kind: 'string', env: 'NORA_STORAGE_S3_ACCESS_KEY', secret: true },
    s3_secret_key: { kind: 'string', env: 'NORA_STORAGE_S3_SECRET_KEY', secret: true },
    s3_region: { kind: 'string', env: 'NORA_STORAGE_S3_REGION', check: (v) => (v === '' ? 'must not be empty' : undefined) },
    s3_virtual_hosted: { kind: 'bool', env: 'NORA_STORAGE_S3_VIRTUAL_HOSTED' },
    // Docker blob GETs answered with a 307 to a presigned URL (distribution's default on S3; ours is off).
    s3_redirect: { kind: 'bool', env: 'NORA_STORAGE_S3_REDIRECT' },
    // SigV4 presigned URLs live at most 7 days.
    s3_redirect_expiry_secs: { kind: 'int', env: 'NORA_STORAGE_S3_REDIRECT_EXPIRY_SECS', min: 1, max: 604800 },
  },
  auth: {
    enabled: { kind: 'bool', env: 'NORA_AUTH_ENABLED' },
    anonymous_read: { kind: 'bool', env: 'NORA_AUTH_ANONYMOUS_READ' },
    docker_anon_pull: { kind: 'bool', env: 'NORA_AUTH_DOCKER_ANON_PULL' },
    public_metrics: { kind: 'bool', env: 'NORA_AUTH_PUBLIC_METRICS' },
    htpasswd_file: { kind: 'string', env: 'NORA_AUTH_HTPASSWD_FILE' },
    token_storage: { kind: 'string', env: 'NORA_AUTH_TOKEN_STORAGE' },
    token_cache_ttl: { kind: 'int', env: 'NORA_AUTH_TOKEN_CACHE_TTL', min: 0, max: 86400 },
    trusted_proxies: { kind: 'list', env: 'NORA_AUTH_TRUSTED_PROXIES', check: (v) => checkProxies(v as string[]) },
    admin_users: { kind: 'list', env: 'NORA_AUTH_ADMIN_USERS' },
    hash_workers: { kind: 'int', env: 'NORA_AUTH_HASH_WORKERS', min: 1, max: 64 },
    // Shared by replicas: revocations and htpasswd changes at once, lockout counters (may hold a password).
    redis_url: { kind: 'string', env: 'NORA_AUTH_REDIS_URL', secret: true, check: checkRedisUrl },
    oidc: { kind: 'custom', env: 'NORA_AUTH_OIDC_ENABLED', envEnables: true, parse: (raw, _fromEnv, fail) => parseOidc(raw, fail) },
  },
  // Token buckets per caller (the identity, else the client IP): see http/rate-limit.ts.
  rate_limit: {
    enabled: { kind: 'bool', env: 'NORA_RATE_LIMIT_ENABLED' },
    auth_rps: { kind: 'int', env: 'NORA_RATE_LIMIT_AUTH_RPS', min: 1, max: 1_000_000 },
    auth_burst: { kind: 'int', env: 'NORA_RATE_LIMIT_AUTH_BURST', min: 1, max: 1_000_000 },
    upload_rps: { kind: 'int', env: 'NORA_RATE_LIMIT_UPLOAD_RPS', min: 1, max: 1_000_000 },
    upload_burst: { kind: 'int', env: 'NORA_RATE_LIMIT_UPLOAD_BURST', min: 1, max: 1_000_000 },
    general_rps: { kind: 'int', env: 'NORA_RATE_LIMIT_GENERAL_RPS', min: 1, max: 1_000_000 },
    general_burst: { kind: 'int', env: 'NORA_RATE_LIMIT_GENERAL_BURST', min: 1, max: 1_000_000 },
  },
  docker: {
    max_upload_sessions: { kind: 'int', env: 'NORA_MAX_UPLOAD_SESSIONS', min: 1, max: 1_000_000 },
    max_upload_sessions_per_client: { kind: 'int', env: 'NORA_MAX_UPLOAD_SESSIONS_PER_CLIENT', min: 1, max: 1_000_000 },
    max_upload_session_size_mb: { kind: 'int', env: 'NORA_MAX_UPLOAD_SESSION_SIZE_MB', min: 1, max: 1024 * 1024 },
    upload_session_ttl_secs: { kind: 'int', env: 'NORA_UPLOAD_SESSION_TTL_SECS', min: 1, max: 7 * 86400 },
    proxy_timeout: { kind: 'int', env: 'NORA_DOCKER_PROXY_TIMEOUT', min: 1, max: 3600 },
    read_timeout: { kind: 'int', env: 'NORA_DOCKER_READ_TIMEOUT', min: 1, max: 3600 },
    metadata_ttl: { kind: 'int', env: 'NORA_DOCKER_METADATA_TTL', min: -1, max: 365 * 86400 },
    serve_stale: { kind: 'bool', env: 'NORA_DOCKER_SERVE_STALE' },
    cache_max_age_days: { kind: 'int', env: 'NORA_DOCKER_CACHE_MAX_AGE_DAYS', min: 0, max: 36500 },
    upstreams: {
      kind: 'custom',
      env: 'NORA_DOCKER_PROXIES',
      parse: parseDockerUpstreams,
      describe: (v) => describeUpstreams(v as DockerUpstream[]),
    },
  },
  circuit_breaker: {
    enabled: { kind: 'bool', env: 'NORA_CB_ENABLED' },
    failure_threshold: { kind: 'int', env: 'NORA_CB_THRESHOLD', min: 1, max: 1_000_000 },
    reset_timeout: { kind: 'int', env: 'NORA_CB_RESET_TIMEOUT', min: 1, max: 86400 },
  },
  // Hosted only: NORA's proxy keys (NORA_CARGO_PROXY, ...) are accepted with a warning (nora-env.ts).
  cargo: {
    enabled: { kind: 'bool', env: 'NORA_CARGO_ENABLED' },
  },
  raw: {
    enabled: { kind: 'bool', env: 'NORA_RAW_ENABLED' },
    max_file_size: { kind: 'int', env: 'NORA_RAW_MAX_FILE_SIZE', min: 1, max: Number.MAX_SAFE_INTEGER },
    cache_control: { kind: 'string', env: 'NORA_RAW_CACHE_CONTROL', check: (v) => (/^[\x20-\x7e]*$/.test(String(v)) ? undefined : 'must be printable ASCII') },
  },
  maven: {
    enabled: { kind: 'bool', env: 'NORA_MAVEN_ENABLED' },
    checksum_verify: { kind: 'bool', env: 'NORA_MAVEN_CHECKSUM_VERIFY' },
    immutable_releases: { kind: 'bool', env: 'NORA_MAVEN_IMMUTABLE_RELEASES' },
  },
  npm: {
    proxy: { kind: 'string', env: 'NORA_NPM_PROXY', check: checkUpstreamUrl },
    proxy_auth: { kind: 'string', env: 'NORA_NPM_PROXY_AUTH', secret: true, check: checkAuth },
    proxy_timeout: { kind: 'int', env: 'NORA_NPM_PROXY_TIMEOUT', min: 1, max: 3600 },
    metadata_ttl: { kind: 'int', env: 'NORA_NPM_METADATA_TTL', min: -1, max: 365 * 86400 },
    serve_stale: { kind: 'bool', env: 'NORA_NPM_SERVE_STALE' },
    revalidate: { kind: 'bool', env: 'NORA_NPM_REVALIDATE' },
  },
  pypi: {
    proxy: { kind: 'string', env: 'NORA_PYPI_PROXY', check: checkUpstreamUrl },
    proxy_auth: { kind: 'string', env: 'NORA_PYPI_PROXY_AUTH', secret: true, check: checkAuth },
    proxies: {
      kind: 'custom',
      env: 'NORA_PYPI_PROXIES',
      parse: parseUpstreamList,
      describe: (v) => JSON.stringify((v as Upstream[]).map((u) => ({ url: u.url, auth: u.auth && '********' }))),
      check: checkUpstreamList,
    },
    proxy_timeout: { kind: 'int', env: 'NORA_PYPI_PROXY_TIMEOUT', min: 1, max: 3600 },
  },
  log: {
    level: { kind: 'enum', env: 'NORA_LOG_LEVEL', values: ['debug', 'info', 'warn', 'error'] },
  },
};

export function defaults(cores = 2): Config {
  return {
    server: {
      host: '127.0.0.1',
      port: 4000,
      public_url: '',
      body_limit_mb: 2048,
      shutdown_timeout_secs: 30,
      tls_cert: '',
      tls_key: '',
      tls_key_passphrase: '',
      tls_reload_secs: 60,
      http_redirect_port: 0,
    },
    storage: {
      mode: 'local',
      path: 'data/storage',
      s3_url: 'http://127.0.0.1:9000',
      bucket: 'registry',
      s3_access_key: '',
      s3_secret_key: '',
      s3_region: 'us-east-1',
      s3_virtual_hosted: false,
      s3_redirect: false,
      s3_redirect_expiry_secs: 1200,
    },
    auth: {
      enabled: false,
      anonymous_read: false,
      docker_anon_pull: false,
      public_metrics: true,
      htpasswd_file: 'users.htpasswd',
      token_storage: 'data/tokens',
      token_cache_ttl: 60,
      trusted_proxies: ['127.0.0.1', '::1'],
      admin_users: [],
      hash_workers: Math.max(1, cores),
      oidc: oidcDefaults(),
      redis_url: '',
    },
    // Off unless asked for (NORA: on): per-caller limits are a policy choice, and NORA's defaults would throttle a busy CI fleet.
    rate_limit: { enabled: false, auth_rps: 1, auth_burst: 5, upload_rps: 200, upload_burst: 500, general_rps: 100, general_burst: 200 },
    docker: {
      max_upload_sessions: 100,
      max_upload_sessions_per_client: 50,
      max_upload_session_size_mb: 2048,
      upload_session_ttl_secs: 1800,
      proxy_timeout: 300,
      read_timeout: 60,
      metadata_ttl: -1,
      serve_stale: true,
      cache_max_age_days: 0,
      // Unlike NORA: no upstream unless configured, so private names never leave.
      upstreams: [],
    },
    cargo: { enabled: true },
    raw: { enabled: true, max_file_size: 100 * 1024 * 1024, cache_control: 'no-cache' },
    maven: { enabled: true, checksum_verify: true, immutable_releases: true },
    circuit_breaker: { enabled: false, failure_threshold: 5, reset_timeout: 30 },
    npm: { proxy: '', proxy_auth: '', proxy_timeout: 30, metadata_ttl: 300, serve_stale: true, revalidate: true },
    pypi: { proxy: '', proxy_auth: '', proxies: [], proxy_timeout: 30 },
    log: { level: 'info' },
  };
}

/** An upstream's URL: http(s), credentials in its auth key rather than in the URL (where logs and metrics would show them). */
function checkUpstreamUrl(v: unknown): string | undefined {
  const problem = checkUrl(v);
  if (problem || v === '') return problem;
  const u = new URL(String(v));
  return u.username || u.password ? 'put credentials in the proxy_auth / auth setting, not in the url' : undefined;
}

function checkAuth(v: unknown): string | undefined {
  return v === '' || String(v).includes(':') ? undefined : 'must be user:pass';
}

function checkUpstreamList(v: unknown): string | undefined {
  for (const [i, u] of (v as Upstream[]).entries()) {
    const problem = u.url === '' ? 'must be an http(s) URL' : (checkUpstreamUrl(u.url) ?? checkAuth(u.auth));
    if (problem) return `entry ${i + 1}: ${problem}`;
  }
  return undefined;
}

function checkUrl(v: unknown): string | undefined {
  if (v === '') return undefined;
  try {
    const u = new URL(String(v));
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be an http(s) URL';
  } catch {
    return 'must be an http(s) URL';
  }
  return undefined;
}

/** Never echoes the value: the URL may carry a password. */
function checkRedisUrl(v: unknown): string | undefined {
  if (v === '') return undefined;
  try {
    const u = new URL(String(v));
    if (u.protocol === 'redis:' || u.protocol === 'rediss:') return undefined;
  } catch {
    // reported below
  }
  return 'must be a redis:// or rediss:// URL';
}

function coerce(key: string, spec: KeySpec, raw: unknown, fromEnv: boolean): unknown {
  switch (spec.kind) {
    case 'string':
      if (typeof raw !== 'string') throw new ConfigError(key, `expected a string, got ${typeName(raw)}`);
      return raw;
    case 'enum':
      if (typeof raw !== 'string' || !spec.values!.includes(raw))
        throw new ConfigError(key, `expected one of ${spec.values!.join(', ')}, got ${show(raw)}`);
      return raw;
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (fromEnv && typeof raw === 'string') {
        const s = raw.toLowerCase();
        if (s === 'true' || s === '1') return true;
        if (s === 'false' || s === '0') return false;
      }
      throw new ConfigError(key, `expected true or false, got ${show(raw)}`);
    case 'int': {
      let n: number;
      if (typeof raw === 'number' || typeof raw === 'bigint') n = Number(raw);
      else if (fromEnv && typeof raw === 'string' && /^-?\d+$/.test(raw.trim())) n = Number(raw.trim());
      else throw new ConfigError(key, `expected an integer, got ${show(raw)}`);
      if (!Number.isInteger(n)) throw new ConfigError(key, `expected an integer, got ${show(raw)}`);
      if (spec.min !== undefined && n < spec.min) throw new ConfigError(key, `must be at least ${spec.min}, got ${n}`);
      if (spec.max !== undefined && n > spec.max) throw new ConfigError(key, `must be at most ${spec.max}, got ${n}`);
      return n;
    }
    case 'custom':
      try {
        return spec.parse!(raw, fromEnv, (sub, problem) => {
          throw new ConfigError(`${key}${sub}`, problem);
        });
      } catch (e) {
        if (typeof e === 'string') throw new ConfigError(key, e);
        throw e;
      }
    case 'list': {
      if (fromEnv && typeof raw === 'string') return raw.split(',').map((s) => s.trim()).filter(Boolean);
      if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return raw;
      throw new ConfigError(key, `expected a list of strings, got ${show(raw)}`);
    }
  }
}

/** NORA's upstream lists: `"url|user:pass,url2"` in env; `"url"` or `{ url, auth }` entries in the file. Throws the problem. */
function parseUpstreamList(raw: unknown, fromEnv: boolean): Upstream[] {
  if (fromEnv && typeof raw === 'string') {
    return raw.split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
      const i = entry.indexOf('|');
      return i < 0 ? { url: entry, auth: '' } : { url: entry.slice(0, i), auth: entry.slice(i + 1) };
    });
  }
  if (!Array.isArray(raw)) throw `expected a list of URLs or { url, auth } tables, got ${show(raw)}`;
  return raw.map((e, i) => {
    if (typeof e === 'string') return { url: e, auth: '' };
    if (e && typeof e === 'object' && !Array.isArray(e)) {
      const { url, auth, ...rest } = e as Record<string, unknown>;
      const extra = Object.keys(rest)[0];
      if (extra !== undefined) throw `entry ${i + 1}: unknown key ${extra} (expected url, auth)`;
      if (typeof url !== 'string') throw `entry ${i + 1}: url must be a string`;
      if (auth !== undefined && typeof auth !== 'string') throw `entry ${i + 1}: auth must be a string`;
      return { url, auth: auth ?? '' };
    }
    throw `entry ${i + 1}: expected a URL or a { url, auth } table, got ${show(e)}`;
  });
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'a table' : `a ${typeof v}`;
}
function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : typeName(v);
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  cores?: number;
}

/** Reads the file (NORA_CONFIG_PATH, else ./config.toml if present), applies env, validates. */
export async function loadConfig(opts: LoadOptions = {}): Promise<{ config: Config; file: string | null }> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  let file: string | null = null;
  if (env.NORA_CONFIG_PATH) file = env.NORA_CONFIG_PATH;
  else if (existsSync(`${cwd}/config.toml`)) file = `${cwd}/config.toml`;
  let text: string | null = null;
  if (file) {
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new ConfigError('NORA_CONFIG_PATH', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
  }
  const source = env.NORA_CONFIG_PATH ? file! : 'config.toml';
  return { config: buildConfig(text, env, opts.cores, source), file };
}

/**
 * Pure: TOML text (or null) + env → validated Config. `source` names the file
 * in TOML syntax errors.
 */
export function buildConfig(tomlText: string | null, env: NodeJS.ProcessEnv, cores?: number, source = 'config.toml'): Config {
  const cfg = defaults(cores) as unknown as Record<string, Record<string, unknown>>;
  if (tomlText !== null) {
    let doc: Record<string, unknown>;
    try {
      doc = parseToml(tomlText) as Record<string, unknown>;
    } catch (e) {
      // smol-toml's message continues with a multi-line excerpt; its first line and the position suffice.
      const m = (e as Error).message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      const at = e instanceof TomlError ? `:${e.line}:${e.column}` : '';
      throw new ConfigError(`${source}${at}`, `invalid TOML: ${m}`);
    }
    for (const [section, table] of Object.entries(doc)) {
      const specs = SCHEMA[section];
      if (!specs) throw new ConfigError(section, `unknown section (did you mean [${nearest(section, Object.keys(SCHEMA))}]?)`);
      if (typeof table !== 'object' || table === null || Array.isArray(table))
        throw new ConfigError(section, `expected a table, got ${typeName(table)}`);
      for (const [k, v] of Object.entries(table as Record<string, unknown>)) {
        const spec = specs[k];
        if (!spec) throw new ConfigError(`${section}.${k}`, `unknown key (did you mean ${section}.${nearest(k, Object.keys(specs))}?)`);
        cfg[section]![k] = coerce(`${section}.${k}`, spec, v, false);
      }
    }
  }
  checkEnvNames(env);
  for (const [section, specs] of Object.entries(SCHEMA)) {
    for (const [k, spec] of Object.entries(specs)) {
      if (!spec.env) continue;
      const raw = env[spec.env];
      if (raw === undefined) continue;
      if (raw === '' && spec.kind === 'string') {
        cfg[section]![k] = '';
        continue;
      }
      if (spec.envEnables) {
        const enabled = coerce(spec.env, { kind: 'bool' }, raw, true);
        cfg[section]![k] = { ...(cfg[section]![k] as object), enabled };
        continue;
      }
      cfg[section]![k] = coerce(spec.env, spec, raw, true);
    }
  }
  for (const [section, specs] of Object.entries(SCHEMA)) {
    for (const [k, spec] of Object.entries(specs)) {
      const problem = spec.check?.(cfg[section]![k]);
      if (problem) throw new ConfigError(spec.env && env[spec.env] !== undefined ? spec.env : `${section}.${k}`, problem);
    }
  }
  const config = cfg as unknown as Config;
  checkTlsKeys(config);
  if (config.storage.mode === 's3' && config.storage.bucket === '')
    throw new ConfigError(env.NORA_STORAGE_BUCKET !== undefined ? 'NORA_STORAGE_BUCKET' : 'storage.bucket', 'must not be empty in s3 mode');
  checkRedirect(config, env);
  config.server.public_url = config.server.public_url.replace(/\/+$/, '');
  return config;
}

/** A redirect to the store needs a store that can sign a URL: S3 with keys. */
function checkRedirect(config: Config, env: NodeJS.ProcessEnv): void {
  const s = config.storage;
  if (!s.s3_redirect) return;
  const key = env.NORA_STORAGE_S3_REDIRECT !== undefined ? 'NORA_STORAGE_S3_REDIRECT' : 'storage.s3_redirect';
  if (s.mode !== 's3') throw new ConfigError(key, `needs storage.mode = "s3" (it is "${s.mode}"): only an object store can hand out presigned URLs`);
  if (s.s3_access_key === '' || s.s3_secret_key === '')
    throw new ConfigError(key, 'needs storage.s3_access_key and storage.s3_secret_key: presigned URLs are signed with them');
}

const SCHEMA_ENV = new Set(Object.values(SCHEMA).flatMap((specs) => Object.values(specs).flatMap((spec) => (spec.env ? [spec.env] : []))));
const KNOWN_ENV = new Set([...SCHEMA_ENV, ...READ_ELSEWHERE, ...NORA_DOCUMENTED]);

/** Unknown NORA_* variables are refused like unknown keys: a typo must not silently leave a default in force. */
function checkEnvNames(env: NodeJS.ProcessEnv): void {
  for (const name of Object.keys(env)) {
    if (name.startsWith('NORA_') && !KNOWN_ENV.has(name))
      throw new ConfigError(name, `unknown environment variable (did you mean ${nearest(name, KNOWN_ENV)}?)`);
  }
}

/** NORA variables set in env that nora-ts accepts but does not implement (start-up warns about each). */
export function unimplementedEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.keys(env).filter((name) => name.startsWith('NORA_') && !SCHEMA_ENV.has(name) && !READ_ELSEWHERE.includes(name) && KNOWN_ENV.has(name));
}

/** The TLS keys that only make sense together (the files themselves are checked when the server starts). */
function checkTlsKeys(c: Config): void {
  const s = c.server;
  if (s.tls_cert && !s.tls_key) throw new ConfigError('server.tls_key', 'required when server.tls_cert is set (NORA_TLS_KEY)');
  if (s.tls_key && !s.tls_cert) throw new ConfigError('server.tls_cert', 'required when server.tls_key is set (NORA_TLS_CERT)');
  if (s.http_redirect_port && !s.tls_cert)
    throw new ConfigError('server.http_redirect_port', 'redirects to https: needs server.tls_cert and server.tls_key');
  if (s.http_redirect_port && s.http_redirect_port === s.port)
    throw new ConfigError('server.http_redirect_port', `must differ from server.port (${s.port})`);
}

export function tlsEnabled(c: Config): boolean {
  return c.server.tls_cert !== '';
}

/** The configured base URL (https when TLS is on): links use it when set, else for requests without a usable Host (see http/link-base.ts). */
export function publicUrl(c: Config): string {
  if (c.server.public_url) return c.server.public_url;
  const h = c.server.host.includes(':') ? `[${c.server.host}]` : c.server.host;
  return `${tlsEnabled(c) ? 'https' : 'http'}://${h}:${c.server.port}`;
}

/** The upstreams PyPI reads through, in order: `pypi.proxies`, else `pypi.proxy` when set. */
export function pypiUpstreams(c: Config): Upstream[] {
  if (c.pypi.proxies.length > 0) return c.pypi.proxies;
  return c.pypi.proxy ? [{ url: c.pypi.proxy, auth: c.pypi.proxy_auth }] : [];
}

/** The effective configuration as TOML-ish text, secrets masked (for `nora config`). */
export function describeConfig(c: Config): string {
  const lines: string[] = [];
  const rec = c as unknown as Record<string, Record<string, unknown>>;
  for (const [section, specs] of Object.entries(SCHEMA)) {
    lines.push(`[${section}]`);
    for (const [k, spec] of Object.entries(specs)) {
      const v = rec[section]![k];
      const shown = spec.describe ? spec.describe(v) : spec.secret && v ? '"********"' : JSON.stringify(v);
      lines.push(`${k} = ${shown}${spec.env ? `  # ${spec.env}` : ''}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

export const CONFIG_SCHEMA = SCHEMA;
