// npm's error shape: a JSON object with an "error" message, which the npm CLI
// prints after the status line ("404 Not Found - GET <url> - <error>").
import type { Reply } from '../../main/http/types.js';
import { HttpError } from '../../main/errors.js';

export function notFound(what: string): HttpError {
  return new HttpError('NOT_FOUND', `${what} not found`);
}

export function renderNpmError(reply: Reply, e: HttpError): void {
  reply.json(e.status, { error: e.message });
}
