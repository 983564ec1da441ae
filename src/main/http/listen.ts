// Opens the registry's port. uWebSockets.js sets SO_REUSEPORT unless told
// otherwise, so a second registry on a held port would start and take half of
// the connections; the port is therefore bound exclusively. On failure uWS
// says only "false": the reason is found by trying the same bind with Node.
import net from 'node:net';
import uws from 'uWebSockets.js';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';

// Exported by the binary; the typings declare it only as an enum member and
// lack the (host, port, options, cb) overload the binary accepts.
const EXCLUSIVE_PORT = (uws as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number }).LIBUS_LISTEN_EXCLUSIVE_PORT;
type ListenWithOptions = (host: string, port: number, options: number, cb: (s: us_listen_socket | false) => void) => void;

/** Listens on host:port alone, or throws an Error saying why not and which setting to change. */
export async function listenExclusive(app: TemplatedApp, host: string, port: number): Promise<us_listen_socket> {
  const socket = await new Promise<us_listen_socket | false>((resolve) =>
    (app.listen as unknown as ListenWithOptions).call(app, host, port, EXCLUSIVE_PORT, resolve),
  );
  if (socket) return socket;
  throw new Error(whyNot(host, port, await bindError(host, port)));
}

/** The errno Node gets binding the same address, or undefined if that bind succeeds (the port freed meanwhile). */
function bindError(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

function whyNot(host: string, port: number, code: string | undefined): string {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return `port ${port} is in use (server.port / NORA_PORT): another program listens on ${where}`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where}: ${host} is not an address of this machine (server.host / NORA_HOST)`;
    case 'EACCES':
    case 'EPERM':
      return `cannot listen on ${where}: permission denied (server.port / NORA_PORT; ports below 1024 need root or CAP_NET_BIND_SERVICE)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on ${where}: host name ${host} does not resolve (server.host / NORA_HOST)`;
    case undefined:
      return `cannot listen on ${where} (the port was busy, and is free again now: retry)`;
    default:
      return `cannot listen on ${where}: ${code} (server.host / NORA_HOST, server.port / NORA_PORT)`;
  }
}
