// What the UI's page modules share: the registry's services, the sessions,
// and the formats that have pages.
import type { Context } from '../../main/protocol.js';
import type { ReadView } from '../../main/http/types.js';
import type { Format, Shell } from './layout.js';
import type { Sessions } from './sessions.js';
import type { Viewer } from './viewer.js';

export interface Ui {
  ctx: Context;
  sessions: Sessions;
  /** formats with pages, in routing order */
  formats(): readonly Format[];
  shell(viewer: Viewer | null): Shell;
  /** cookies get Secure when the visitor reached us over https (TLS, an https public_url, or a trusted proxy saying so) */
  secure(req: ReadView): boolean;
}
