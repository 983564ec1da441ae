// Raw files are driven by curl and scripts: errors are one plain-text line
// (what `curl -f` users and shell scripts read), with the status that says why.
import type { Reply } from '../../main/http/types.js';
import type { HttpError } from '../../main/errors.js';

export function renderRawError(reply: Reply, e: HttpError): void {
  reply.status(e.status).header('Content-Type', 'text/plain; charset=utf-8').send(`${e.message}\n`);
}
