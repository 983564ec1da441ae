// Builds the auth gate the configuration asks for. With auth on, anything that
// would leave it half-working (no usable htpasswd, unusable token directory,
// bad trusted_proxies entry, hash workers that cannot start) stops start-up
// with a message saying what to fix.
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { Authenticator } from './authenticator.js';
import { ClientIp } from './client-ip.js';
import { CredentialGate } from './credential-gate.js';
import { OpenGate, type AuthGate } from './gate.js';
import { HashPool } from './hash-pool.js';
import { Htpasswd } from './htpasswd.js';
import { HtpasswdShare } from './htpasswd-share.js';
import { Lockout } from './lockout.js';
import { TokenService } from './token-service.js';
import { TokenStore } from './token-store.js';
import { OidcVerifier } from './oidc.js';
import { sharedStorage, tokenDriver } from '../storage/factory.js';
import { RedisLink } from './redis-link.js';
import { RedisFailures, StoreFailures } from './shared-failures.js';

export async function createGate(config: Config, { log, metrics }: { log: Logger; metrics: Metrics }): Promise<AuthGate> {
  const a = config.auth;
  if (!a.enabled) {
    if (a.oidc.enabled) log.warn('auth.oidc is enabled but auth.enabled is false: OIDC tokens are not checked (every request has full rights)');
    return new OpenGate();
  }
  const ips = new ClientIp(a.trusted_proxies);
  for (const p of a.trusted_proxies) {
    if (/\/0$/.test(p.trim())) log.warn('auth.trusted_proxies trusts every peer: clients can choose their IP for lockout', { entry: p });
  }
  // Replicas on one bucket serve the users of one copy in it, edited through any replica's file.
  const shared = sharedStorage(config);
  const htpasswd = shared ? Htpasswd.at(a.htpasswd_file, log) : await Htpasswd.load(a.htpasswd_file, log);
  const tokenStorage = await tokenDriver(config);
  const share = shared ? await HtpasswdShare.open(htpasswd, tokenStorage, log) : null;
  const store = new TokenStore(tokenStorage, log);
  await store.init();
  const pool = await HashPool.create(a.hash_workers, metrics);
  // Replicas share lockout records through Redis when configured, else through the object store.
  const redis = a.redis_url ? new RedisLink(a.redis_url, log) : null;
  const failures = redis ? new RedisFailures(redis.cmd) : shared ? new StoreFailures(tokenStorage) : null;
  const lockout = new Lockout(Date.now, failures, (e) => log.warn('shared lockout record not reachable', { error: e.message }));
  const oidc = a.oidc.enabled ? new OidcVerifier(a.oidc, log) : null;
  if (a.oidc.enabled && !oidc!.active) log.warn('auth.oidc is enabled without an enabled provider: OIDC tokens are refused');
  const authenticator = new Authenticator(htpasswd, store, pool, lockout, a.token_cache_ttl, log, metrics, oidc?.active ? oidc : null);
  const usersChanged = (changed: Set<string>) => authenticator.usersChanged(changed);
  redis?.onEvent((e) => {
    if (e.t === 'token') authenticator.tokenRevoked(e.id);
    else if (share) share.poke();
    else void htpasswd.poll(usersChanged);
  });
  redis?.onResync(() => {
    authenticator.forgetAll();
    share?.poke();
  });
  // Started now, awaited by ready(): the port opens while the workers boot.
  const warming = authenticator.prepare().catch((e: Error) => {
    throw new Error(`hash workers failed to start: ${e.message}`);
  });
  warming.catch(() => {});
  if (share) share.watch(usersChanged, redis ? () => redis.publish({ t: 'users' }) : null);
  else htpasswd.watch(usersChanged);
  const tokens = new TokenService(authenticator, store, pool, new Set(a.admin_users), log);
  if (redis) tokens.onRevoked = (id) => redis.publish({ t: 'token', id });
  if (a.anonymous_read) log.warn('auth.anonymous_read: anyone can pull and download without credentials');
  if (a.docker_anon_pull) log.warn('auth.docker_anon_pull: anyone can pull Docker images without credentials');
  const realm = config.server.public_url || 'nora';
  let closed = false;
  return new CredentialGate(a, realm, ips, authenticator, tokens, () => warming, () => (redis ? (redis.connected ? 'connected' : 'unreachable') : 'off'), async () => {
    if (closed) return;
    closed = true;
    await redis?.close();
    htpasswd.close();
    await share?.close();
    lockout.close();
    await store.close();
    await pool.close();
  }, log, metrics);
}
