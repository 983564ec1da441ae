// PLACEHOLDER: to be implemented.
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { oci } from './errors.js';

export async function createUploads(_ctx: Context) {
  return {
    async handleStart(_req: Req, _reply: Reply, _name: string): Promise<void> {
      throw oci('UNSUPPORTED', 'not implemented yet', undefined, 405);
    },
    async handleSession(_req: Req, _reply: Reply, _name: string, _uuid: string): Promise<void> {
      throw oci('UNSUPPORTED', 'not implemented yet', undefined, 405);
    },
    async close(): Promise<void> {},
  };
}
