// PLACEHOLDER: to be implemented.
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { oci } from './errors.js';

export function createReferrers(_ctx: Context) {
  return {
    async handle(req: Req, reply: Reply, _name: string, _digest: string): Promise<void> {
      void req; void reply;
      throw oci('UNSUPPORTED', 'not implemented yet', undefined, 405);
    },
  };
}
