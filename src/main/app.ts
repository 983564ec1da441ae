// Wires one registry together: storage, auth gate, protocols, server. A
// registry owns its state (metrics, log level, caches, connection policy), so
// a process may run several.
import { contentDriver, sharedStorage } from './storage/factory.js';
import { BlobStore } from './storage/blobs.js';
import { createGate } from './auth/index.js';
import { publicUrl, tlsEnabled, type Config } from './config.js';
import { startServer, type ServerHandle } from './server.js';
import { systemProtocol } from './system.js';
import { protocolFactories } from '../protocols/index.js';
import type { Context } from './protocol.js';
import { VERSION } from './version.js';
import { LinkBase } from './http/link-base.js';
import { ClientIp } from './auth/client-ip.js';
import { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { watchLoopLag } from './loop-lag.js';

export interface Registry extends ServerHandle {
  readonly ctx: Context;
}

export async function createRegistry(config: Config): Promise<Registry> {
  const log = new Logger(config.log.level);
  const metrics = new Metrics();
  const storage = await contentDriver(config, metrics);
  // Before anything is served, on storage of its own every writer is a dead
  // process's (a write a crash interrupted) and a conditional delete a crash
  // interrupted is undone. A bucket may be shared by replicas: there only
  // writers idle past the upload session TTL are dead.
  const swept = await storage.sweep(sharedStorage(config) ? config.docker.upload_session_ttl_secs * 1000 : 0);
  if (swept) log.info('removed temp files left by an earlier run', { count: swept });
  const gate = await createGate(config, { log, metrics });
  const links = new LinkBase(config.server.public_url, new ClientIp(config.auth.trusted_proxies), () => ctx.baseUrl, tlsEnabled(config) ? 'https' : 'http');
  const ctx: Context = {
    config,
    storage,
    blobs: new BlobStore(storage, log),
    gate,
    baseUrl: publicUrl(config),
    linkBase: (req) => links.of(req),
    version: VERSION,
    metrics,
    log,
  };
  const protocols = [systemProtocol(ctx)];
  for (const make of protocolFactories) protocols.push(await make(ctx, protocols));
  let server: ServerHandle;
  try {
    server = await startServer(ctx, protocols);
  } catch (e) {
    // A port in use or a bad TLS pair: nothing may keep the process alive (hash workers, timers).
    for (const p of protocols) await p.close?.();
    await gate.close();
    throw e;
  }
  const unwatchLoopLag = watchLoopLag(metrics);
  // Once only: uWS crashes the process if a listen socket or app is closed twice.
  let closing: Promise<void> | null = null;
  const close = (t?: number) =>
    (closing ??= (async () => {
      unwatchLoopLag();
      await server.close(t);
    })());
  // Listening first lets /health answer while the hash workers boot (the
  // slowest part of start-up); a registry whose workers cannot start still
  // fails to start.
  try {
    await gate.ready();
  } catch (e) {
    await close(0);
    throw e;
  }
  // With port 0 the real port is known only now; links without a usable Host name it.
  if (!config.server.public_url && config.server.port === 0) {
    ctx.baseUrl = publicUrl({ ...config, server: { ...config.server, port: server.port } });
  }
  return { ctx, port: server.port, shared: server.shared, redirectPort: server.redirectPort, reloadTls: () => server.reloadTls(), close };
}
