// Server-side sign-in sessions, kept through the storage driver (so every
// replica sees them and they work on any driver): one small object per
// session at ui/sessions/<sha256 of the session id>. The id itself lives only
// in the visitor's cookie; storage holds its hash, the user, the CSRF token
// of its forms, a digest of the user's htpasswd entry and its expiry.
// Expired sessions, and those of users whose password changed or who were
// removed, read as absent and are removed when read; expired ones also by a
// sweep at most once an hour after a sign-in.
import { createHash, randomBytes } from 'node:crypto';
import type { StorageDriver } from '../../main/storage/driver.js';
import type { Logger } from '../../main/log.js';

/** How long a sign-in lasts (absolute, from sign-in). */
export const SESSION_TTL_MS = 12 * 3600 * 1000;
const SWEEP_EVERY_MS = 3600 * 1000;
const PREFIX = 'ui/sessions';
const ID = /^[A-Za-z0-9_-]{43}$/;

export interface Session {
  user: string;
  /** in admin_users */
  admin: boolean;
  /** the token every form of this session carries */
  csrf: string;
  /** the user's htpasswd entry at sign-in (TokenService.passwordStamp): a new password or a removal ends the session */
  stamp: string;
  /** ms since the epoch */
  expires: number;
}

const keyOf = (id: string) => `${PREFIX}/${createHash('sha256').update(id).digest('hex')}`;

export const randomSecret = () => randomBytes(32).toString('base64url');

export class Sessions {
  private lastSweep = 0;

  constructor(
    private readonly storage: StorageDriver,
    private readonly log: Logger,
  ) {}

  async create(user: string, admin: boolean, stamp: string): Promise<{ id: string; session: Session }> {
    const id = randomSecret();
    const session: Session = { user, admin, csrf: randomSecret(), stamp, expires: Date.now() + SESSION_TTL_MS };
    await this.storage.put(keyOf(id), JSON.stringify(session), { ifAbsent: true });
    if (Date.now() - this.lastSweep > SWEEP_EVERY_MS) {
      this.lastSweep = Date.now();
      this.sweep().catch((e) => this.log.warn('ui: session sweep failed', { error: String(e) }));
    }
    return { id, session };
  }

  /** The live session a cookie names, or null; `current` says whether its user's password is still the one signed in with. */
  async get(id: string | undefined, current: (s: Session) => boolean): Promise<Session | null> {
    if (id === undefined || !ID.test(id)) return null;
    const key = keyOf(id);
    const got = await this.storage.get(key);
    if (!got) return null;
    const s = parse(got.data);
    if (s !== null && s.expires > Date.now() && current(s)) return s;
    await this.storage.delete(key, { ifMatch: got.version });
    return null;
  }

  async end(id: string | undefined): Promise<void> {
    if (id !== undefined && ID.test(id)) await this.storage.delete(keyOf(id));
  }

  /** Removes expired (and unreadable) sessions. */
  private async sweep(): Promise<void> {
    let after: string | undefined;
    for (;;) {
      const page = await this.storage.list(PREFIX, { after, limit: 500 });
      for (const name of page.names) {
        const got = await this.storage.get(`${PREFIX}/${name}`);
        const s = got && parse(got.data);
        if (got && (s === null || s.expires <= Date.now())) await this.storage.delete(`${PREFIX}/${name}`, { ifMatch: got.version });
      }
      if (!page.more) return;
      after = page.names[page.names.length - 1];
    }
  }
}

function parse(data: Buffer): Session | null {
  try {
    const s = JSON.parse(data.toString('utf8')) as Session;
    return typeof s.user === 'string' && typeof s.csrf === 'string' && typeof s.stamp === 'string' && typeof s.expires === 'number' ? s : null;
  } catch {
    return null;
  }
}
