// cargo prints `errors[].detail` of a failed registry call to its user
// ("the remote server responded with an error (status 409 Conflict): ...").
import type { Reply } from '../../main/http/types.js';
import type { HttpError } from '../../main/errors.js';

export function renderCargoError(reply: Reply, e: HttpError): void {
  reply.json(e.status, { errors: [{ detail: e.message }] });
}
