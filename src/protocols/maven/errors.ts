// mvn shows only the status line of a failed transfer ("status code: 409,
// reason phrase: ..."), so the reason phrase carries the message; the body
// repeats it as plain text for curl and logs.
import type { Reply } from '../../main/http/types.js';
import type { HttpError } from '../../main/errors.js';

export function renderMavenError(reply: Reply, e: HttpError): void {
  reply.status(e.status, e.message).header('Content-Type', 'text/plain; charset=utf-8').send(`${e.message}\n`);
}
