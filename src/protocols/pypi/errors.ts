// PyPI clients show the status line and the body text of an error (twine
// prints both; pip the status), so errors are short plain-text messages.
import type { Reply } from '../../main/http/types.js';
import type { HttpError } from '../../main/errors.js';

export function renderPypiError(reply: Reply, e: HttpError): void {
  reply.status(e.status).header('Content-Type', 'text/plain; charset=utf-8').send(`${e.message}\n`);
}
