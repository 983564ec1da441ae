// Which NORA_* environment variables exist besides the configuration schema's.
// A misspelled variable must not be ignored (NORA_AUTH_ENABLE=true would start
// with auth off), so config.ts refuses any NORA_* name listed nowhere here.
// Names NORA documents for features nora-ts does not have (spec/nora-config.md)
// are accepted with a warning, so a NORA deployment's environment still starts.

/**
 * Not settings, accepted silently: read by loadConfig; by the test suite (its
 * child registries inherit its environment); or the client-side names NORA's
 * recipes export (`.npmrc` reads ${NORA_TOKEN}), which the shell that runs
 * `npm start` may well have.
 */
export const READ_ELSEWHERE: readonly string[] = [
  'NORA_CONFIG_PATH',
  'NORA_SOAK', 'NORA_SOAK_SECS', 'NORA_FUZZ_SCALE', 'NORA_CRASH_KILLS', 'NORA_ABORT_ROUNDS',
  'NORA_TOKEN', 'NORA_REGISTRY',
];

const PROXIED = ['ENABLED', 'PROXY', 'PROXY_AUTH', 'PROXY_TIMEOUT', 'METADATA_TTL'];
const STALE = ['SERVE_STALE', 'REVALIDATE'];
const CURATED = ['NPM', 'PYPI', 'CARGO', 'GO', 'DOCKER', 'MAVEN', 'GEMS', 'TERRAFORM', 'ANSIBLE', 'NUGET', 'PUB', 'CONAN', 'RPM', 'DEB'];

// NORA's variable families: prefix → suffixes.
const FAMILIES: Record<string, string[]> = {
  STORAGE: ['S3_URL', 'BUCKET', 'S3_ACCESS_KEY', 'S3_SECRET_KEY', 'S3_REGION', 'S3_VIRTUAL_HOSTED', 'GCS_SERVICE_ACCOUNT_PATH', 'GCS_BASE_URL'],
  AUTH: ['PUBLIC_WEB_UI'],
  REGISTRIES: ['ENABLE'],
  DOCKER: ['ENABLED', 'PROXY_TIMEOUT', 'READ_TIMEOUT', 'METADATA_TTL', 'SERVE_STALE', 'DEFAULT_ACTION', 'PROXIES', 'UPSTREAMS'],
  NPM: [...PROXIED, ...STALE],
  PYPI: ['ENABLED', 'PROXY', 'PROXY_AUTH', 'PROXIES', 'PROXY_TIMEOUT'],
  CARGO: PROXIED,
  MAVEN: ['ENABLED', 'PROXIES', 'PROXY_TIMEOUT', 'CHECKSUM_VERIFY', 'IMMUTABLE_RELEASES', 'METADATA_TTL'],
  RAW: ['ENABLED', 'MAX_FILE_SIZE', 'CACHE_CONTROL'],
  GO: [...PROXIED, 'PROXY_TIMEOUT_ZIP', 'MAX_ZIP_SIZE'],
  GEMS: [...PROXIED, ...STALE],
  TF: [...PROXIED, 'PROXY_TIMEOUT_DL', 'SERVE_STALE'],
  ANSIBLE: [...PROXIED, ...STALE],
  NUGET: [...PROXIED, ...STALE, 'METADATA_TIMEOUT', 'SEARCH_SERVICE', 'AUTOCOMPLETE'],
  PUB: [...PROXIED, ...STALE],
  CONAN: [...PROXIED, ...STALE, 'PROXY_TIMEOUT_DL'],
  RPM: ['ENABLED', 'MAX_FILE_SIZE', 'CHANGELOG_LIMIT', 'PROXIES', 'PROXY_TIMEOUT', 'METADATA_TTL'],
  DEB: ['ENABLED', 'MAX_FILE_SIZE', 'PROXIES', 'PROXY_TIMEOUT', 'METADATA_TTL'],
  SIGNING: ['ENABLED', 'KEY_PATH'],
  GC: ['ENABLED', 'INTERVAL', 'DRY_RUN', 'GRACE'],
  RETENTION: ['ENABLED', 'INTERVAL', 'DRY_RUN'],
  CURATION: [
    'MODE', 'ON_FAILURE', 'ALLOWLIST_PATH', 'BLOCKLIST_PATH', 'BYPASS_TOKEN', 'REQUIRE_INTEGRITY', 'INTERNAL_NS', 'MIN_RELEASE_AGE', 'QUARANTINE', 'QUARANTINE_TTL',
    ...CURATED.flatMap((r) => [`${r}_MIN_RELEASE_AGE`, `${r}_QUARANTINE`, `${r}_QUARANTINE_TTL`]),
  ],
  CB: ['ENABLED', 'THRESHOLD', 'RESET_TIMEOUT'],
  SECRETS: ['PROVIDER', 'CLEAR_ENV'],
};

/** Every variable NORA documents, as it spells them (nora-ts implements some; config.ts tells which). */
export const NORA_DOCUMENTED: readonly string[] = [
  ...Object.entries(FAMILIES).flatMap(([prefix, suffixes]) => suffixes.map((s) => `NORA_${prefix}_${s}`)),
  'NORA_TRUST_UPSTREAM_DATES',
  'NORA_TLS_CA_CERT',
  'NORA_AUDIT_LOG',
  'NORA_LOG_FILE',
  'NORA_IMPORT_AUTH',
];

/** The candidate closest to name by edit distance (for "did you mean"). */
export function nearest(name: string, candidates: Iterable<string>): string {
  let best = '';
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
