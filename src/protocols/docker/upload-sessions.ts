// Blob upload sessions, kept in the store so a push's POST, PATCHes and PUT
// may each reach a different replica: _uploads/<uuid>/session.json holds the
// repository, the requested digest algorithms and the list of parts (each a
// committed object beside it, see upload-file.ts). Every change of a session
// is a compare-and-swap on that document: two PATCHes racing on different
// replicas cannot both append at the same offset (the loser's part is
// deleted and it answers 416), and a PUT claims the session by deleting the
// document it read, so a late PATCH can never add to a finished upload.
// Each replica bounds the sessions it creates (globally and per client); any
// replica expires sessions idle past the TTL and removes their parts.
// Documents live in the store on every driver: keeping them in an in-process
// memory driver on unshared storage saved an fsync per POST/PATCH but grew the
// heap under aborted uploads (test/reliability-concurrency.test.ts); on
// unshared storage a restart still forgets the sessions of the previous run.
// Documents and parts are scratch (no fsync on disk): nothing is served from
// them until a PUT has checked the digest and copied the bytes durably into
// the blob; a part torn by a machine crash can only fail that check.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Algorithm } from '../../main/digest.js';
import type { Durability, StorageDriver } from '../../main/storage/driver.js';
import type { Metrics } from '../../main/metrics.js';
import type { Logger } from '../../main/log.js';
import { UploadParts, type Part } from './upload-file.js';

export interface SessionLimits {
  maxSessions: number;
  maxPerClient: number;
  ttlMs: number;
}

export const UPLOADS = '_uploads';
const sessionPrefix = (uuid: string) => `${UPLOADS}/${uuid}`;
const sessionKey = (uuid: string) => `${UPLOADS}/${uuid}/session.json`;
/** Every write of a session (its document, its parts) is scratch: see the header. */
const SCRATCH: Durability = { scratch: true };
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface SessionDoc {
  name: string;
  algorithms: Algorithm[];
  parts: Part[];
}

export class UploadSession {
  constructor(
    readonly uuid: string,
    readonly name: string,
    public doc: SessionDoc,
    /** version of session.json this copy was read at */
    public version: string,
  ) {}

  get size(): number {
    let n = 0;
    for (const p of this.doc.parts) n += p.size;
    return n;
  }
}

export class TooManySessions extends Error {
  constructor(readonly perClient: boolean) {
    super(perClient ? 'too many upload sessions from this client' : 'too many upload sessions');
  }
}

/** Another request is already writing to the session. */
export class SessionBusy extends Error {
  constructor() {
    super('another request is writing to this upload session');
  }
}

/** The session was finished, cancelled or expired meanwhile. */
export class SessionGone extends Error {
  constructor() {
    super('upload session no longer exists');
  }
}

export class UploadSessions {
  readonly parts: UploadParts;
  /** sessions this replica created and has not seen end: uuid → client IP (the limits count these) */
  private readonly mine = new Map<string, string>();
  private readonly perClient = new Map<string, number>();
  /** sessions a request of this process is writing to */
  private readonly busy = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;
  /** where session documents live (the store; one seam should they move) */
  private readonly docs: StorageDriver;

  constructor(
    private readonly storage: StorageDriver,
    private readonly limits: SessionLimits,
    private readonly log: Logger,
    metrics: Metrics,
    private readonly shared: boolean,
  ) {
    this.docs = storage;
    this.parts = new UploadParts(storage, limits.maxSessions);
    metrics.describe('nora_upload_sessions', 'Docker blob upload sessions this replica opened that are still open');
    metrics.gauge('nora_upload_sessions', () => this.mine.size);
  }

  get size(): number {
    return this.mine.size;
  }

  /** Starts the periodic expiry sweep (on shared storage, sessions of an earlier run stay usable until they expire). */
  async start(): Promise<void> {
    // Parts in storage of our own belong to sessions of a previous run, which this process has forgotten.
    if (!this.shared) await this.storage.deletePrefix(UPLOADS);
    await this.sweep();
    // Sweep often enough that a session never outlives its TTL by more than half of it.
    const every = Math.min(60_000, Math.max(100, Math.floor(this.limits.ttlMs / 2)));
    this.timer = setInterval(() => void this.sweep().catch((e) => this.log.warn('upload sweep failed', { error: String(e) })), every);
    this.timer.unref();
  }

  /** A new empty session; TooManySessions when a limit is reached. */
  async create(name: string, clientIp: string, algorithms: Algorithm[] = []): Promise<UploadSession> {
    if (this.mine.size >= this.limits.maxSessions) throw new TooManySessions(false);
    if ((this.perClient.get(clientIp) ?? 0) >= this.limits.maxPerClient) throw new TooManySessions(true);
    const uuid = randomUUID();
    const doc: SessionDoc = { name, algorithms, parts: [] };
    // Counted before the await so concurrent POSTs cannot overshoot the limits.
    this.add(uuid, clientIp);
    try {
      const version = await this.docs.put(sessionKey(uuid), JSON.stringify(doc), { ifAbsent: true }, SCRATCH);
      if (version === null) throw new Error('upload session id collision');
      return new UploadSession(uuid, name, doc, version);
    } catch (e) {
      this.forget(uuid);
      throw e;
    }
  }

  /** The session `uuid` of repository `name` as stored now, or null (unknown, ended, or another repository's). */
  async get(uuid: string, name: string): Promise<UploadSession | null> {
    if (!UUID_RE.test(uuid)) return null;
    const got = await this.docs.get(sessionKey(uuid));
    if (!got) {
      this.forget(uuid);
      return null;
    }
    const doc = parseDoc(got.data);
    if (!doc) {
      this.log.error('unreadable upload session document', { uuid });
      return null;
    }
    return doc.name === name ? new UploadSession(uuid, name, doc, got.version) : null;
  }

  /** Runs a single-request upload (no session document) counted against the limits. */
  async hold<T>(clientIp: string, fn: () => Promise<T>): Promise<T> {
    if (this.mine.size >= this.limits.maxSessions) throw new TooManySessions(false);
    if ((this.perClient.get(clientIp) ?? 0) >= this.limits.maxPerClient) throw new TooManySessions(true);
    const uuid = randomUUID();
    this.add(uuid, clientIp);
    try {
      return await fn();
    } finally {
      this.forget(uuid);
    }
  }

  /**
   * Runs `fn` with this process's exclusive use of the session. A second
   * writer here is refused (SessionBusy) rather than queued: its chunk offset
   * could only be checked once the first finishes, and a queued body would
   * hold a connection open. Writers on other replicas meet at the CAS.
   */
  async exclusive<T>(s: UploadSession, fn: () => Promise<T>): Promise<T> {
    if (this.busy.has(s.uuid)) throw new SessionBusy();
    this.busy.add(s.uuid);
    try {
      return await fn();
    } finally {
      this.busy.delete(s.uuid);
    }
  }

  /**
   * Stores `body` as the session's next part. SessionGone when the session
   * ended meanwhile, SessionBusy when another replica appended first; either
   * way the part is removed and the session is as it was.
   */
  async append(s: UploadSession, body: Readable, limit: number, exact?: number): Promise<void> {
    const at = s.size;
    const { writer, size, seal } = await this.parts.receive(s.uuid, at, s.doc.algorithms, body, limit, exact);
    if (size === 0 && exact === undefined) {
      await writer.cancel(); // an empty PATCH adds nothing
      return;
    }
    const part = { key: `${sessionPrefix(s.uuid)}/${s.doc.parts.length}-${randomBytes(4).toString('hex')}`, size };
    await writer.commit(part.key, SCRATCH);
    const doc: SessionDoc = { ...s.doc, parts: [...s.doc.parts, part] };
    const version = await this.docs.put(sessionKey(s.uuid), JSON.stringify(doc), { ifMatch: s.version }, SCRATCH);
    if (version === null) {
      await this.storage.delete(part.key, SCRATCH);
      throw (await this.docs.stat(sessionKey(s.uuid))) ? new SessionBusy() : new SessionGone();
    }
    s.doc = doc;
    s.version = version;
    seal();
  }

  /**
   * Takes the session for its PUT: deletes the document it was read at, so no
   * other request can change it any more. SessionGone if it changed meanwhile.
   */
  async claim(s: UploadSession): Promise<void> {
    if (!(await this.docs.delete(sessionKey(s.uuid), { ifMatch: s.version, ...SCRATCH }))) throw new SessionGone();
    this.forget(s.uuid);
  }

  /** Removes a claimed or cancelled session's parts. */
  async discard(uuid: string): Promise<void> {
    this.forget(uuid);
    this.parts.forget(uuid);
    await this.storage.deletePrefix(sessionPrefix(uuid));
  }

  /** Ends a session at once (DELETE); a PATCH in flight elsewhere finds it gone. */
  async cancel(s: UploadSession): Promise<void> {
    await this.docs.delete(sessionKey(s.uuid), SCRATCH);
    await this.discard(s.uuid);
  }

  /**
   * Expires sessions idle longer than the TTL (the document is rewritten by
   * every chunk), parts a crashed PUT left, and writers nobody touched for a
   * whole TTL; then forgets sessions of this replica that ended elsewhere.
   */
  async sweep(now = Date.now()): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let n = 0;
    try {
      for (const where of [this.storage]) {
        let after: string | undefined;
        for (;;) {
          const page = await where.list(UPLOADS, { prefixesOnly: true, after, limit: 1000 });
          for (const uuid of page.names) if (!this.busy.has(uuid) && (await this.expire(uuid, now))) n++;
          if (!page.more) break;
          after = page.names[page.names.length - 1];
        }
      }
      for (const uuid of [...this.mine.keys()]) if (!(await this.docs.stat(sessionKey(uuid)))) this.forget(uuid);
      const removed = await this.storage.sweep(this.limits.ttlMs);
      if (removed) this.log.info('removed stale temp files', { count: removed });
    } finally {
      this.sweeping = false;
    }
    return n;
  }

  /** True when the session was idle past the TTL (or a leftover of one) and is now removed. */
  private async expire(uuid: string, now: number): Promise<boolean> {
    const doc = await this.docs.stat(sessionKey(uuid));
    if (doc) {
      if (now - doc.modifiedMs <= this.limits.ttlMs) return false;
      if (!(await this.docs.delete(sessionKey(uuid), { ifMatch: doc.version, ...SCRATCH }))) return false;
    } else {
      // No document: a PUT is joining these parts, or crashed doing it; only old leftovers go.
      for await (const o of this.storage.walk(sessionPrefix(uuid))) if (now - o.modifiedMs <= this.limits.ttlMs) return false;
    }
    await this.discard(uuid);
    return true;
  }

  /** Stops the sweep. Sessions stay in the store: another replica (or this one, restarted) continues them. */
  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private add(uuid: string, clientIp: string): void {
    this.mine.set(uuid, clientIp);
    this.perClient.set(clientIp, (this.perClient.get(clientIp) ?? 0) + 1);
  }

  private forget(uuid: string): void {
    const ip = this.mine.get(uuid);
    if (ip === undefined) return;
    this.mine.delete(uuid);
    const n = (this.perClient.get(ip) ?? 1) - 1;
    if (n > 0) this.perClient.set(ip, n);
    else this.perClient.delete(ip);
  }
}

function parseDoc(data: Buffer): SessionDoc | null {
  try {
    const o = JSON.parse(data.toString('utf8')) as SessionDoc;
    if (typeof o.name !== 'string' || !Array.isArray(o.algorithms) || !Array.isArray(o.parts)) return null;
    for (const p of o.parts) if (typeof p.key !== 'string' || !Number.isSafeInteger(p.size)) return null;
    return o;
  } catch {
    return null;
  }
}
