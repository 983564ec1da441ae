#!/usr/bin/env node
// The `nora` command: serve (default), config, healthcheck, gc, verify, --help, --version.
import { cpus } from 'node:os';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ConfigError, describeConfig, loadConfig, tlsEnabled, unimplementedEnv, type Config } from './config.js';
import { VERSION } from './version.js';
import { flushLog, log } from './log.js';

const HELP = `nora ${VERSION} — multi-format artifact registry (Docker/OCI, npm, PyPI)

Usage: nora [command]

Commands:
  serve          run the registry (default)
  config         print the effective configuration (secrets masked)
  healthcheck    exit 0 when GET /health on the configured host and port answers 2xx
  gc [--dry-run] [--grace-secs N] [--proxy-max-age-days D]
                 delete blobs no manifest or package references (kept while younger
                 than N seconds, default 3600) and upload temp files older than the
                 upload session TTL; with D > 0 (default docker.cache_max_age_days)
                 first drop pull-through cache entries unused for D days; safe
                 while the registry runs
  verify [--quarantine]
                 re-hash every stored blob; report mismatches (exit 1) and with
                 --quarantine move them to <storage>/quarantine/
  --help, -h     show this help
  --version, -V  print the version

Configuration: ./config.toml or the file named by NORA_CONFIG_PATH, then NORA_*
environment variables (they win). See README.md for every key.

Exit codes: 2 the command line or the configuration is invalid (file, key,
value or NORA_* name); 3 serve cannot start although the configuration is
valid (port in use, storage or token directory unusable, htpasswd missing).
`;

/** Exit codes of a failed start, as the help and README promise. */
const EXIT_CONFIG = 2;
const EXIT_CANNOT_START = 3;

async function readConfig(): Promise<Config> {
  try {
    return (await loadConfig({ cores: cpus().length })).config;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`nora: ${e.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw e;
  }
}

async function serve(): Promise<void> {
  const config = await readConfig();
  log.setLevel(config.log.level);
  // The hash workers' argon2 calls and fs share libuv's threadpool: size it before first use.
  const want = 4 + config.auth.hash_workers;
  if (!process.env.UV_THREADPOOL_SIZE || Number(process.env.UV_THREADPOOL_SIZE) < want) {
    process.env.UV_THREADPOOL_SIZE = String(want);
  }
  const { createRegistry } = await import('./app.js');
  let registry;
  try {
    registry = await createRegistry(config);
  } catch (e) {
    // A setting found wrong only now (an unreadable or mismatched TLS pair) is a configuration error.
    if (e instanceof ConfigError) {
      process.stderr.write(`nora: ${e.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    process.stderr.write(`nora: cannot start: ${(e as Error).message}\n`);
    process.exit(EXIT_CANNOT_START);
  }
  for (const variable of unimplementedEnv()) log.warn('ignored: a NORA setting nora-ts does not implement', { variable });
  log.info('listening', {
    host: config.server.host,
    port: registry.port,
    tls: tlsEnabled(config),
    ...(registry.redirectPort ? { redirect_port: registry.redirectPort } : {}),
    version: VERSION,
    auth: config.auth.enabled,
  });
  if (!config.auth.enabled) log.warn('auth disabled: accepting unauthenticated reads and writes');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    await registry.close();
    log.info('stopped');
    flushLog();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // SIGHUP re-reads the TLS certificate and key at once (they are also polled every server.tls_reload_secs).
  process.on('SIGHUP', () => {
    if (!tlsEnabled(config)) return log.info('SIGHUP: nothing to reload (TLS is off)');
    void registry.reloadTls().then((swapped) => log.info('SIGHUP: tls certificate checked', { replaced: swapped }));
  });
}

/**
 * For container HEALTHCHECKs: a wildcard bind is probed on loopback. Over TLS
 * the certificate is not verified: it names the public host, not the address
 * probed, and this checks liveness, not identity.
 */
async function healthcheck(): Promise<void> {
  const config = await readConfig();
  const host = ['0.0.0.0', '::', ''].includes(config.server.host) ? '127.0.0.1' : config.server.host;
  const request = tlsEnabled(config) ? httpsRequest : httpRequest;
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host, port: config.server.port, path: '/health', rejectUnauthorized: false, timeout: 5000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('timeout', () => req.destroy(new Error('timed out after 5 s')));
      req.on('error', reject);
      req.end();
    });
    process.exit(status >= 200 && status < 300 ? 0 : 1);
  } catch (e) {
    process.stderr.write(`nora: healthcheck failed: ${(e as Error).message}\n`);
    process.exit(1);
  }
}

function usage(message: string): never {
  process.stderr.write(`nora: ${message}\n\n${HELP}`);
  process.exit(2);
}

async function gc(args: string[]): Promise<void> {
  let dryRun = false;
  let graceSecs = 3600;
  let cacheDays: number | null = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--dry-run') dryRun = true;
    else if (args[i] === '--grace-secs' && /^\d+$/.test(args[i + 1] ?? '')) graceSecs = Number(args[++i]);
    else if (args[i] === '--proxy-max-age-days' && /^\d+$/.test(args[i + 1] ?? '')) cacheDays = Number(args[++i]);
    else usage(`gc: unexpected argument "${args[i]}"`);
  }
  const config = await readConfig();
  const { contentDriver } = await import('./storage/factory.js');
  const { collectGarbage } = await import('./maintenance/gc.js');
  const storage = await contentDriver(config);
  const days = cacheDays ?? config.docker.cache_max_age_days;
  if (days > 0) {
    // Cache entries unused for `days` go first, so the sweep below can free their blobs.
    const { pruneProxyCache } = await import('../protocols/docker/proxy/cache-prune.js');
    const { pruneDocuments } = await import('./upstream-cache.js');
    const { NPM_CACHE_ROOT } = await import('../protocols/npm/proxy.js');
    const { PYPI_CACHE_ROOT } = await import('../protocols/pypi/proxy.js');
    const p = await pruneProxyCache(storage, days * 86_400_000, dryRun);
    const docs = await pruneDocuments(storage, [NPM_CACHE_ROOT, PYPI_CACHE_ROOT], days * 86_400_000, dryRun);
    const verb = dryRun ? 'would be dropped' : 'dropped';
    process.stdout.write(`gc: pull-through cache unused for ${days} days: ${p.manifests} manifests, ${p.tags} tags, ${p.links} blob links ${verb}\n`);
    process.stdout.write(`gc: npm and PyPI documents cached and unused for ${days} days: ${docs} ${verb}\n`);
  }
  const r = await collectGarbage(storage, {
    dryRun,
    graceMs: graceSecs * 1000,
    tempMaxAgeMs: config.docker.upload_session_ttl_secs * 1000,
    onBlob: (digest, size) => process.stdout.write(`${dryRun ? 'would delete' : 'deleted'} ${digest} ${size}\n`),
  });
  process.stdout.write(
    `gc${dryRun ? ' (dry run)' : ''}: ${r.blobsScanned} blobs, ${r.blobsReferenced} referenced, ${r.blobsKeptYoung} kept (younger than ${graceSecs} s), ` +
      `${r.blobsDeleted} ${dryRun ? 'deletable' : 'deleted'} (${r.bytesFreed} bytes), ${r.blobsRestored} restored (re-pushed meanwhile), ` +
      `${r.tempFilesRemoved} temp files ${dryRun ? 'expired' : 'removed'}, ${r.strayFiles} stray files\n`,
  );
}

async function verify(args: string[]): Promise<void> {
  let quarantine = false;
  for (const a of args) {
    if (a === '--quarantine') quarantine = true;
    else usage(`verify: unexpected argument "${a}"`);
  }
  const config = await readConfig();
  const { contentDriver } = await import('./storage/factory.js');
  const { BlobStore } = await import('./storage/blobs.js');
  const { verifyBlobs } = await import('./maintenance/verify.js');
  const r = await verifyBlobs(new BlobStore(await contentDriver(config)), {
    quarantine,
    onBad: (b) => process.stdout.write(`MISMATCH ${b.digest} computed ${b.computed} size ${b.size}${b.movedTo ? ` quarantined to ${b.movedTo}` : ''}\n`),
  });
  process.stdout.write(`verify: ${r.blobsChecked} blobs (${r.bytesHashed} bytes) checked, ${r.bad.length} mismatched${quarantine ? ` (${r.bad.filter((b) => b.movedTo).length} quarantined)` : ''}, ${r.strayFiles} stray files\n`);
  if (r.bad.length) process.exit(1);
}

async function main(argv: string[]): Promise<void> {
  const cmd = argv[0] ?? 'serve';
  switch (cmd) {
    case 'serve':
      return serve();
    case 'healthcheck':
      return healthcheck();
    case 'gc':
      return gc(argv.slice(1));
    case 'verify':
      return verify(argv.slice(1));
    case 'config':
      process.stdout.write(describeConfig(await readConfig()));
      for (const v of unimplementedEnv()) process.stdout.write(`# ignored: ${v} (a NORA setting nora-ts does not implement)\n`);
      return;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(HELP);
      return;
    case '--version':
    case '-V':
    case 'version':
      process.stdout.write(`nora ${VERSION}\n`);
      return;
    default:
      process.stderr.write(`nora: unknown command "${cmd}"\n\n${HELP}`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`nora: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
