// API tokens: one JSON object per token, <id>.json, in NORA's format (so an
// existing NORA token directory keeps working), through a storage driver (on
// local disk: files 0600 in a 0700 directory, see storage/factory.ts). Only
// an Argon2id hash of the token is stored. Objects are always replaced
// atomically; operations on one id are serialised in this process, and every
// rewrite is a compare-and-swap on the version read, so a last_used flush on
// one replica can never resurrect a token another replica just revoked.
import type { Role } from './types.js';
import { log as processLog, type Logger } from '../log.js';
import type { StorageDriver } from '../storage/driver.js';
import { TOKEN_ID_RE } from './token-format.js';

const FLUSH_MS = 30_000;
/** tries of one rewrite against writers on other replicas */
const CAS_ATTEMPTS = 10;
const FILE_RE = /^[0-9a-f]{16}\.json$/;
const ROLES: readonly Role[] = ['read', 'write', 'admin'];

export interface TokenRecord {
  /** Argon2id PHC string (or a legacy unsalted SHA-256 hex from old NORA versions) */
  token_hash: string;
  user: string;
  /** unix seconds */
  created_at: number;
  expires_at: number;
  last_used: number | null;
  description: string | null;
  role: Role;
}

export interface StoredToken extends TokenRecord {
  id: string;
}

/** The store could not be read (I/O error other than "missing", or a corrupt file). */
export class TokenStoreError extends Error {}

function serialize(r: TokenRecord): string {
  const ordered: TokenRecord = {
    token_hash: r.token_hash,
    user: r.user,
    created_at: r.created_at,
    expires_at: r.expires_at,
    last_used: r.last_used,
    description: r.description,
    role: r.role,
  };
  return JSON.stringify(ordered, null, 2);
}

function parseRecord(id: string, text: string): StoredToken {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new TokenStoreError(`token file ${id}.json is not valid JSON`);
  }
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (
    typeof o !== 'object' || o === null ||
    typeof o.token_hash !== 'string' || typeof o.user !== 'string' ||
    !num(o.created_at) || !num(o.expires_at) ||
    !(o.last_used === null || o.last_used === undefined || num(o.last_used)) ||
    !(o.description === null || o.description === undefined || typeof o.description === 'string') ||
    !(o.role === undefined || ROLES.includes(o.role as Role))
  ) {
    throw new TokenStoreError(`token file ${id}.json has an unexpected shape`);
  }
  return {
    id,
    token_hash: o.token_hash,
    user: o.user,
    created_at: o.created_at as number,
    expires_at: o.expires_at as number,
    last_used: (o.last_used as number | null | undefined) ?? null,
    description: (o.description as string | null | undefined) ?? null,
    role: (o.role as Role | undefined) ?? 'read', // NORA: a missing role loads as read
  };
}

export class TokenStore {
  /** Bumped on every removal: a verification that started before one is not cached. */
  epoch = 0;
  private readonly pending = new Map<string, number>();
  private readonly locks = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly storage: StorageDriver,
    private readonly log: Logger = processLog,
  ) {}

  /** Removes temp files a crash left behind and starts the last_used flush. */
  async init(): Promise<void> {
    await this.storage.sweep(0);
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  private async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id);
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev ? prev.then(() => mine) : mine;
    this.locks.set(id, tail);
    if (prev) await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(id) === tail) this.locks.delete(id);
    }
  }

  /** The token with this id, or null if there is none; throws TokenStoreError if it cannot be read. */
  async read(id: string): Promise<StoredToken | null> {
    if (!TOKEN_ID_RE.test(id)) return null;
    let got;
    try {
      got = await this.storage.get(`${id}.json`);
    } catch (e) {
      throw new TokenStoreError(`token file ${id}.json cannot be read (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
    if (got === null) return null;
    const rec = parseRecord(id, got.data.toString('utf8'));
    const queued = this.pending.get(id);
    if (queued !== undefined && (rec.last_used === null || queued > rec.last_used)) rec.last_used = queued;
    return rec;
  }

  /** Writes a new token file; false if the id is already taken. */
  async create(id: string, rec: TokenRecord): Promise<boolean> {
    return this.withLock(id, async () => {
      return (await this.storage.put(`${id}.json`, serialize(rec), { ifAbsent: true })) !== null;
    });
  }

  /** Rewrites an existing token (legacy hash migration); a token revoked meanwhile stays revoked. */
  async replace(id: string, rec: TokenRecord): Promise<void> {
    await this.rewrite(id, () => rec);
  }

  /**
   * Replaces token `id` with `change(current)` if it still exists, retrying
   * when another replica rewrote it in between; `change` returns null to
   * leave it. Never creates a token.
   */
  private async rewrite(id: string, change: (cur: StoredToken) => TokenRecord | null): Promise<void> {
    await this.withLock(id, async () => {
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        const got = await this.storage.get(`${id}.json`);
        if (!got) return; // revoked meanwhile
        const next = change(parseRecord(id, got.data.toString('utf8')));
        if (next === null || (await this.storage.put(`${id}.json`, serialize(next), { ifMatch: got.version })) !== null) return;
      }
      throw new TokenStoreError(`token file ${id}.json changed concurrently too often`);
    });
  }

  /** Ids of the stored tokens, or of those whose id starts with `prefix` (files are not read). */
  async ids(prefix = ''): Promise<string[]> {
    return (await this.storage.list('')).names.filter((n) => FILE_RE.test(n) && n.startsWith(prefix)).map((n) => n.slice(0, 16));
  }

  /** Every readable token, newest first; unreadable files are skipped with a warning. */
  async list(): Promise<StoredToken[]> {
    const ids = await this.ids();
    const out: StoredToken[] = [];
    const BATCH = 16;
    for (let i = 0; i < ids.length; i += BATCH) {
      const recs = await Promise.all(
        ids.slice(i, i + BATCH).map(async (id) => {
          try {
            return await this.read(id);
          } catch (e) {
            this.log.warn('token file skipped', { file: `${id}.json`, error: (e as Error).message });
            return null;
          }
        }),
      );
      for (const r of recs) if (r) out.push(r);
    }
    out.sort((a, b) => b.created_at - a.created_at || a.id.localeCompare(b.id));
    return out;
  }

  /** Deletes a token; false if it did not exist. */
  async remove(id: string): Promise<boolean> {
    if (!TOKEN_ID_RE.test(id)) return false;
    return this.withLock(id, async () => {
      this.epoch++;
      this.pending.delete(id);
      return this.storage.delete(`${id}.json`);
    });
  }

  /** Queues a last_used update; written by the periodic flush. */
  touch(id: string): void {
    this.pending.set(id, Math.floor(Date.now() / 1000));
  }

  /** Writes queued last_used values (each file replaced atomically). */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending];
    this.pending.clear();
    for (const [id, when] of batch) {
      try {
        await this.rewrite(id, (rec) => (rec.last_used !== null && rec.last_used >= when ? null : { ...rec, last_used: when }));
      } catch (e) {
        this.log.warn('token last_used not written', { token_prefix: id, error: (e as Error).message });
      }
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}
