// Blob upload sessions, kept in memory (like NORA: a restart forgets them and
// the start-up sweep removes their temp files). Bounded globally and per
// client, expired when idle, and used by one request at a time.
import { randomUUID } from 'node:crypto';
import type { Algorithm } from '../../main/digest.js';
import type { StorageDriver } from '../../main/storage/driver.js';
import type { Metrics } from '../../main/metrics.js';
import type { Logger } from '../../main/log.js';
import { UploadFile } from './upload-file.js';

export interface SessionLimits {
  maxSessions: number;
  maxPerClient: number;
  ttlMs: number;
}

export class UploadSession {
  lastActive = Date.now();
  /** a PATCH/PUT is streaming into the file */
  busy = false;
  /** removed from the table (cancelled, expired, finished); the file is gone or about to be */
  closed = false;
  constructor(
    readonly uuid: string,
    readonly name: string,
    readonly clientIp: string,
    readonly file: UploadFile,
  ) {}
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

export class UploadSessions {
  private readonly sessions = new Map<string, UploadSession>();
  private readonly perClient = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;

  constructor(
    private readonly storage: StorageDriver,
    private readonly limits: SessionLimits,
    private readonly log: Logger,
    metrics: Metrics,
  ) {
    metrics.describe('nora_upload_sessions', 'Docker blob upload sessions currently open');
    metrics.gauge('nora_upload_sessions', () => this.sessions.size);
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Removes temp files left by an earlier run, then starts the periodic expiry sweep. */
  async start(): Promise<void> {
    await this.sweepOrphans();
    // Sweep often enough that a session never outlives its TTL by more than half of it.
    const every = Math.min(60_000, Math.max(100, Math.floor(this.limits.ttlMs / 2)));
    this.timer = setInterval(() => void this.sweep().catch((e) => this.log.warn('upload sweep failed', { error: String(e) })), every);
    this.timer.unref();
  }

  /** A new empty session; TooManySessions when a limit is reached. */
  async create(name: string, clientIp: string, algorithms: Algorithm[] = []): Promise<UploadSession> {
    if (this.sessions.size >= this.limits.maxSessions) throw new TooManySessions(false);
    if ((this.perClient.get(clientIp) ?? 0) >= this.limits.maxPerClient) throw new TooManySessions(true);
    const s = new UploadSession(randomUUID(), name, clientIp, new UploadFile(this.storage, algorithms));
    // Counted before the await so concurrent POSTs cannot overshoot the limits.
    this.add(s);
    try {
      await s.file.create();
    } catch (e) {
      this.forget(s);
      throw e;
    }
    return s;
  }

  /** The session `uuid` of repository `name`, or null (unknown, expired, or another repository's). */
  get(uuid: string, name: string): UploadSession | null {
    const s = this.sessions.get(uuid);
    return s && s.name === name ? s : null;
  }

  /**
   * Runs `fn` with exclusive use of the session. A second writer is refused
   * (SessionBusy) rather than queued: its chunk offset could only be checked
   * once the first finishes, and a queued body would hold a connection open.
   */
  async exclusive<T>(s: UploadSession, fn: () => Promise<T>): Promise<T> {
    if (s.busy) throw new SessionBusy();
    s.busy = true;
    try {
      return await fn();
    } finally {
      s.busy = false;
      s.lastActive = Date.now();
      // Cancelled or expired while we were writing: the file is ours to remove.
      if (s.closed) await s.file.remove();
    }
  }

  /**
   * Ends a session. `removeFile` false when its file was moved into the store.
   * A busy session's file is removed by the request holding it.
   */
  async close(s: UploadSession, removeFile = true): Promise<void> {
    this.forget(s);
    s.closed = true;
    if (removeFile && !s.busy) await s.file.remove();
  }

  /** Expires sessions idle longer than the TTL. */
  async sweep(now = Date.now()): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let n = 0;
    try {
      for (const s of [...this.sessions.values()]) {
        if (!s.busy && now - s.lastActive > this.limits.ttlMs) {
          await this.close(s);
          n++;
        }
      }
      await this.sweepOrphans();
    } finally {
      this.sweeping = false;
    }
    return n;
  }

  /** Stops the sweep and removes every session's file (sessions do not survive a restart). */
  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const s of [...this.sessions.values()]) await this.close(s);
  }

  /**
   * Writers nobody touched for a whole TTL are garbage (a crash, an earlier
   * run). Live sessions' writers are touched first so an idle-but-valid
   * session whose last write is old is never swept.
   */
  private async sweepOrphans(): Promise<void> {
    for (const s of this.sessions.values()) await s.file.touch();
    const removed = await this.storage.sweep(this.limits.ttlMs);
    if (removed) this.log.info('removed stale temp files', { count: removed });
  }

  private add(s: UploadSession): void {
    this.sessions.set(s.uuid, s);
    this.perClient.set(s.clientIp, (this.perClient.get(s.clientIp) ?? 0) + 1);
  }

  private forget(s: UploadSession): void {
    if (this.sessions.get(s.uuid) !== s) return;
    this.sessions.delete(s.uuid);
    const n = (this.perClient.get(s.clientIp) ?? 1) - 1;
    if (n > 0) this.perClient.set(s.clientIp, n);
    else this.perClient.delete(s.clientIp);
  }
}
