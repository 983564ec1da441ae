// PyPI clients show the status line and the body text of an error (twine
// prints both; pip the status), so errors are short plain-text messages.
import type { Reply } from '../../main/http/types.js';
import { HttpError } from '../../main/protocol.js';

export function pypiError(status: number, message: string, headers?: Record<string, string>): HttpError {
  return new HttpError(status, 'PYPI', message, undefined, headers);
}

export function renderPypiError(reply: Reply, status: number, _code: string, message: string): void {
  reply.status(status).header('Content-Type', 'text/plain; charset=utf-8').send(`${message}\n`);
}
