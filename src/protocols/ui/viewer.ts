// Who is looking at a UI page, and what they may see. A signed-in visitor
// acts as their htpasswd user (role write, as on every API); anyone else is
// anonymous. A page is shown exactly when the gate would let the same caller
// read the API path the page mirrors (Browse.apiPath): with auth off every
// page, with anonymous_read every format's pages but Docker's catalog, with
// docker_anon_pull Docker's repository pages; gated, only after signing in.
import type { Context } from '../../main/protocol.js';
import type { Req } from '../../main/http/types.js';
import type { Identity } from '../../main/auth/types.js';
import { anonymousAllowed } from '../../main/auth/policy.js';
import { cookie } from './http.js';
import type { Session, Sessions } from './sessions.js';

export const SESSION_COOKIE = 'nora_session';

export interface Viewer {
  identity: Identity;
  /** the session and its cookie's id, when signed in */
  session: (Session & { id: string }) | null;
  /** whether the visitor may read `apiPath` of `format` */
  may(format: string, apiPath: string): boolean;
}

const ANONYMOUS: Identity = Object.freeze({ user: 'anonymous', role: 'read', via: 'anonymous' });
const OPEN: Identity = Object.freeze({ user: 'anonymous', role: 'admin', via: 'auth-off' });

export async function viewerOf(ctx: Context, sessions: Sessions, req: Req): Promise<Viewer> {
  if (!ctx.gate.enabled) return { identity: OPEN, session: null, may: () => true };
  const id = cookie(req, SESSION_COOKIE);
  const tokens = ctx.gate.tokens;
  const s = await sessions.get(id, (x) => tokens?.passwordStamp(x.user) === x.stamp);
  if (s === null) {
    return { identity: ANONYMOUS, session: null, may: (format, path) => anonymousAllowed(ctx.config.auth, 'read', format, path) };
  }
  const identity: Identity = { user: s.user, role: 'write', via: 'htpasswd' };
  return { identity, session: { ...s, id: id! }, may: (format) => ctx.gate.permits(identity, { access: 'read' }, format) };
}
