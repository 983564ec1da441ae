// npm's error shape: a JSON object with an "error" message, which the npm CLI
// prints after the status line ("404 Not Found - GET <url> - <error>").
import type { Reply } from '../../main/http/types.js';
import { HttpError } from '../../main/protocol.js';

export function npmError(status: number, message: string, headers?: Record<string, string>): HttpError {
  return new HttpError(status, 'NPM', message, undefined, headers);
}

export function notFound(what: string): HttpError {
  return npmError(404, `${what} not found`);
}

export function methodNotAllowed(allow: string): HttpError {
  return npmError(405, 'method not allowed', { Allow: allow });
}

export function renderNpmError(reply: Reply, status: number, _code: string, message: string): void {
  reply.json(status, { error: message });
}
