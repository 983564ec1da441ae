// The registry's port: a plain uWebSockets.js App, or an SSLApp when a
// certificate is configured. uWS reads certificate files once, when an app is
// made, and an SNI context cannot replace the default one (clients that dial
// an IP address send no SNI; removing a name frees the router its live
// connections still use). So a new certificate gets a new SSLApp with the same
// routes, and the port moves to it in one synchronous step: the old listen
// socket closes, the new app binds the same port. Connections already open
// stay on the old app and finish there; only a connection the kernel had
// queued but uWS not yet accepted at that instant is reset.
import uws from 'uWebSockets.js';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { ConfigError, type Config } from '../config.js';
import type { Logger } from '../log.js';
import { describePair, readTlsPair, samePair, sslOptions, type TlsPair } from './tls-pair.js';
import { listenExclusive } from './listen.js';

export interface Listener {
  readonly port: number;
  /**
   * Re-reads the certificate and key; when they changed and are a valid pair,
   * new connections get them. Resolves true when the certificate was replaced.
   */
  reload(): Promise<boolean>;
  /** Stops accepting connections. */
  stopAccepting(): void;
  /** Closes every connection still open, on every certificate's app. */
  close(): void;
}

/** App.close() (every socket of the app) exists in the binary but not in its typings. */
function closeApp(app: TemplatedApp): void {
  (app as unknown as { close(): void }).close();
}

export function openListener(server: Config['server'], mount: (app: TemplatedApp) => void, log: Logger): Promise<Listener> {
  return server.tls_cert ? openTls(server, mount, log) : openPlain(server, mount);
}

async function openPlain(server: Config['server'], mount: (app: TemplatedApp) => void): Promise<Listener> {
  const app = uws.App();
  mount(app);
  const socket = await listenExclusive(app, server.host, server.port);
  return {
    port: uws.us_socket_local_port(socket),
    reload: async () => false,
    stopAccepting: () => uws.us_listen_socket_close(socket),
    close: () => closeApp(app),
  };
}

function sslApp(server: Config['server']): TemplatedApp {
  try {
    return uws.SSLApp(sslOptions(server));
  } catch {
    // Node's checks passed, so BoringSSL refused something they allow (a key type, say).
    throw new ConfigError('server.tls_cert', `the TLS library refused ${server.tls_cert} with ${server.tls_key} (NORA_TLS_CERT / NORA_TLS_KEY)`);
  }
}

async function openTls(server: Config['server'], mount: (app: TemplatedApp) => void, log: Logger): Promise<Listener> {
  let pair = await readTlsPair(server);
  let app = sslApp(server);
  mount(app);
  const apps = [app];
  let first = await listenExclusive(app, server.host, server.port);
  const port = uws.us_socket_local_port(first);
  if (server.port === 0) {
    // Port 0 (tests): a socket bound to port 0 lacks SO_REUSEADDR, which would
    // keep a later app from binding the port while connections are open.
    uws.us_listen_socket_close(first);
    first = await listenExclusive(app, server.host, port);
  }
  /** null once closed: uWS must never close a listen socket twice */
  let socket: us_listen_socket | null = first;
  log.info('tls certificate', describePair(pair));
  warnIfExpiring(pair, log);
  let accepting = true;
  let lastProblem = '';
  let running: Promise<boolean> | null = null;

  const swap = async (): Promise<boolean> => {
    let next: TlsPair;
    let nextApp: TemplatedApp;
    try {
      next = await readTlsPair(server);
      if (samePair(next, pair) || !accepting || !socket) return false;
      nextApp = sslApp(server);
    } catch (e) {
      // Files are often written one after the other: say so once, keep serving the old pair, retry next time.
      const problem = (e as Error).message;
      if (problem !== lastProblem) log.warn('tls certificate not reloaded, still serving the previous one', { problem });
      lastProblem = problem;
      return false;
    }
    lastProblem = '';
    mount(nextApp);
    // The bind runs synchronously inside listenExclusive, right after the close.
    uws.us_listen_socket_close(socket!);
    socket = null;
    try {
      socket = await listenExclusive(nextApp, server.host, port);
    } catch (e) {
      socket = await listenExclusive(app, server.host, port);
      log.error('tls certificate not reloaded: the port could not be bound again', { problem: (e as Error).message });
      return false;
    }
    app = nextApp;
    apps.push(app);
    pair = next;
    log.info('tls certificate reloaded', describePair(pair));
    warnIfExpiring(pair, log);
    return true;
  };

  // Only a port taken by someone else between the close and both binds gets here: say so, keep running
  // (the liveness probe fails and an orchestrator restarts the process).
  const lost = (e: Error) => {
    log.error('tls reload: the port could not be bound again, nothing listens now', { port, problem: e.message });
    return false;
  };
  const reload = () => (running ??= swap().catch(lost).finally(() => (running = null)));
  const timer = server.tls_reload_secs > 0 ? setInterval(() => void reload(), server.tls_reload_secs * 1000) : null;
  timer?.unref();

  return {
    port,
    reload,
    stopAccepting() {
      accepting = false;
      if (timer) clearInterval(timer);
      if (socket) uws.us_listen_socket_close(socket);
      socket = null;
    },
    close() {
      for (const a of apps) closeApp(a);
    },
  };
}

const EXPIRY_WARNING_MS = 14 * 86400_000;

function warnIfExpiring(p: TlsPair, log: Logger): void {
  const left = new Date(p.leaf.validTo).getTime() - Date.now();
  if (left < EXPIRY_WARNING_MS) log.warn(left < 0 ? 'tls certificate has expired' : 'tls certificate expires soon', describePair(p));
  if (new Date(p.leaf.validFrom).getTime() > Date.now()) log.warn('tls certificate is not valid yet', describePair(p));
}
