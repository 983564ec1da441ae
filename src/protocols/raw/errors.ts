// Raw files are driven by curl and scripts: errors are one plain-text line
// (what `curl -f` users and shell scripts read), with the status that says why.
// It may quote a path, so it is sandboxed like the files themselves.
import type { Reply } from '../../main/http/types.js';
import type { HttpError } from '../../main/errors.js';
import { SAFE_HEADERS } from './content-type.js';

export function renderRawError(reply: Reply, e: HttpError): void {
  for (const [k, v] of SAFE_HEADERS) reply.header(k, v);
  reply.status(e.status).header('Content-Type', 'text/plain; charset=utf-8').send(`${e.message}\n`);
}
