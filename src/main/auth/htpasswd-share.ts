// htpasswd users on shared storage (storage.mode = "s3"). What every replica
// serves is one object beside the tokens, `htpasswd/users.json`:
// {"edited": <ms epoch>, "text": "<the htpasswd file>"} (bcrypt hashes only,
// like the file). The local file stays the place to edit users:
//  - A stat of the file every 100 ms. An edit, once the file held still for
//    one more look (`htpasswd` rewrites it in place), is published with
//    If-Match on the copy this replica last saw. If another replica published
//    meanwhile, this edit's changes (against what the file held before) are
//    merged onto that copy and published again: concurrent edits of different
//    users all survive; for one user the later publisher wins.
//  - A HEAD of the object every second (every 5 s with Redis, which announces
//    each publish). A new version replaces the users, evicts the cached logins
//    of changed and removed ones, and is mirrored into the local file
//    (atomically, never over an edit made meanwhile), so the next edit on any
//    replica starts from it.
//  - At start-up the more recently edited of the file (its mtime) and the copy
//    (its `edited`) wins whole; a missing copy is created from the file, a
//    missing file written from the copy.
// A PUT is atomic: a replica killed while publishing leaves the old copy or
// the new one, and its file, edited after the old copy, wins at its restart.
import type { StorageDriver } from '../storage/driver.js';
import type { Logger } from '../log.js';
import type { FileText, Fingerprint, Htpasswd } from './htpasswd.js';
import { mergeHtpasswd } from './htpasswd-merge.js';

const KEY = 'htpasswd/users.json';
const FILE_MS = 100;
/** an emptied file waits longer: `htpasswd` truncates before it writes, and a slow writer must not log everyone out */
const EMPTY_SETTLE_MS = 1000;
const STORE_MS = 1000;
/** with Redis announcing every publish, the HEAD is only a fallback */
const STORE_MS_ANNOUNCED = 5000;
const CAS_ATTEMPTS = 10;
const SOURCE = `the store copy (${KEY})`;

/** The copy this replica serves; version null while the store has none. */
interface Copy {
  version: string | null;
  edited: number;
  text: string;
}

/** What the store holds: text null when the object is not a copy (then any edit replaces it). */
type Stored = { version: string; edited: number; text: string | null };

function parseCopy(data: Buffer): { edited: number; text: string } | null {
  try {
    const o = JSON.parse(data.toString('utf8')) as { edited?: unknown; text?: unknown };
    return typeof o.text === 'string' && Number.isFinite(o.edited) ? { edited: o.edited as number, text: o.text } : null;
  } catch {
    return null;
  }
}

const serialize = (edited: number, text: string) => JSON.stringify({ edited, text });

export class HtpasswdShare {
  private copy!: Copy;
  /** what the file held when last read or written: the base an edit is merged from */
  private fileText: string | null = null;
  private fileFp: Fingerprint | null = null;
  /** an edit seen on the previous look, published once the file holds still */
  private settling: Fingerprint | null = null;
  private settlingSince = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private storeDue = false;
  private lastStore = 0;
  private storeMs = STORE_MS;
  private trouble: string | null = null;
  private closed = false;
  private onChange: (changed: Set<string>) => void = () => {};
  private announce: (() => void) | null = null;

  private constructor(
    private readonly file: Htpasswd,
    private readonly storage: StorageDriver,
    private readonly log: Logger,
  ) {}

  /** Decides between the file and the store copy; throws like Htpasswd.load when neither has a usable user. */
  static async open(file: Htpasswd, storage: StorageDriver, log: Logger): Promise<HtpasswdShare> {
    const s = new HtpasswdShare(file, storage, log);
    await file.removeTemps();
    await s.reconcile();
    return s;
  }

  /**
   * Starts looking for edits and new copies; `announce` (Redis) tells the
   * other replicas at once after a publish.
   */
  watch(onChange: (changed: Set<string>) => void, announce: (() => void) | null): void {
    if (this.timer) return;
    this.onChange = onChange;
    this.announce = announce;
    this.storeMs = announce ? STORE_MS_ANNOUNCED : STORE_MS;
    this.timer = setInterval(() => this.run(), FILE_MS);
    this.timer.unref();
  }

  /** Another replica announced a publish (or Redis came back): look at the store now. */
  poke(): void {
    this.storeDue = true;
    this.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private async reconcile(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const stored = await this.fetch();
      const local = await this.settledRead();
      if ('text' in local) {
        this.fileText = local.text;
        this.fileFp = local.fp;
      }
      const fileWins = 'text' in local && local.text !== stored?.text && (stored === null || stored.text === null || local.mtimeMs > stored.edited);
      if (fileWins) {
        // Checked before it can replace every replica's users.
        this.file.use(local.text);
        this.file.requireUsers(`the htpasswd file ${this.file.path}`);
        const v = await this.storage.put(KEY, serialize(local.mtimeMs, local.text), stored ? { ifMatch: stored.version } : { ifAbsent: true });
        if (v === null) {
          if (attempt >= CAS_ATTEMPTS) throw new Error(`the htpasswd store copy (${KEY}) changed concurrently too often`);
          continue; // another replica wrote meanwhile: decide again
        }
        this.copy = { version: v, edited: local.mtimeMs, text: local.text };
        this.log.info(stored ? 'htpasswd store copy replaced by the more recently edited local file' : 'htpasswd store copy created from the local file', { file: this.file.path });
        return;
      }
      if (stored === null || stored.text === null) throw this.file.unusable('error' in local ? local.error : 'ENOENT');
      this.copy = { version: stored.version, edited: stored.edited, text: stored.text };
      const fromFile = stored.text === this.fileText;
      this.file.use(stored.text, fromFile ? this.file.path : SOURCE);
      this.file.requireUsers(fromFile ? `the htpasswd file ${this.file.path}` : SOURCE);
      if (!fromFile) {
        await this.mirror();
        this.log.info('htpasswd users taken from the store copy', { file: this.file.path, users: this.file.size, local: 'error' in local ? local.error : 'edited earlier' });
      }
      return;
    }
  }

  /** The file once it holds still (start-up only: a tick simply looks again later). */
  private async settledRead(): Promise<FileText | { error: string }> {
    for (let i = 0; ; i++) {
      const got = await this.file.read();
      if (got !== 'moving') return got;
      if (i >= 40) throw new Error(`the htpasswd file ${this.file.path} keeps changing`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async fetch(): Promise<Stored | null> {
    const got = await this.storage.get(KEY);
    if (got === null) return null;
    const c = parseCopy(got.data);
    if (c === null) this.log.error('htpasswd store copy is unreadable: it is ignored, and replaced by the next edit', { key: KEY });
    return { version: got.version, edited: c?.edited ?? -Infinity, text: c?.text ?? null };
  }

  /** One look at a time; a poke during one runs another right after. */
  private run(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = this.again || this.storeDue;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.checkFile();
          if (this.storeDue || Date.now() - this.lastStore >= this.storeMs) {
            this.storeDue = false;
            this.lastStore = Date.now();
            await this.checkStore();
          }
          if (this.trouble !== null) this.log.info('htpasswd store copy reachable again');
          this.trouble = null;
        } catch (e) {
          const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
          if (this.trouble === null) this.log.warn('htpasswd store copy not reachable: this replica keeps its users, and publishes local edits once it is back', { error: why });
          this.trouble = why;
        }
      } while (this.again);
    })().finally(() => (this.running = null));
  }

  private async checkFile(): Promise<void> {
    if (!(await this.file.differs(this.fileFp))) {
      this.settling = null;
      return;
    }
    const got = await this.file.read();
    if (got === 'moving') return;
    if ('error' in got) {
      if (this.fileText !== null) this.log.warn('htpasswd file cannot be read: users still come from the store copy', { file: this.file.path, error: got.error });
      this.fileText = null;
      this.fileFp = null;
      return;
    }
    if (this.settling !== got.fp) {
      this.settling = got.fp;
      this.settlingSince = Date.now();
      return;
    }
    if (got.text === '' && Date.now() - this.settlingSince < EMPTY_SETTLE_MS) return;
    this.settling = null;
    if (got.text === this.fileText || got.text === this.copy.text) {
      this.fileText = got.text;
      this.fileFp = got.fp;
      return;
    }
    await this.publish(got);
  }

  /** Publishes a local edit, merged onto whatever another replica published since this file was in step. */
  private async publish(local: FileText): Promise<void> {
    const base = this.fileText;
    const onto = (theirs: string | null) => (base === null || theirs === null ? local.text : mergeHtpasswd(base, local.text, theirs));
    let cur: { version: string | null; edited: number; text: string | null } = this.copy;
    for (let attempt = 1; ; attempt++) {
      const text = onto(cur.text);
      if (text === cur.text) break; // the store already holds this edit
      const edited = Math.max(local.mtimeMs, cur.edited + 1);
      const v = await this.storage.put(KEY, serialize(edited, text), cur.version === null ? { ifAbsent: true } : { ifMatch: cur.version });
      if (v !== null) {
        cur = { version: v, edited, text };
        this.log.info('htpasswd edit published to the store', { file: this.file.path, merged: text !== local.text });
        this.announce?.();
        break;
      }
      if (attempt >= CAS_ATTEMPTS) throw new Error('the htpasswd store copy changed concurrently too often');
      cur = (await this.fetch()) ?? { version: null, edited: cur.edited, text: null };
    }
    this.fileText = local.text;
    this.fileFp = local.fp;
    await this.adopt({ version: cur.version, edited: cur.edited, text: cur.text! });
  }

  private async checkStore(): Promise<void> {
    const st = await this.storage.stat(KEY);
    if (st !== null && st.version === this.copy.version) return;
    const latest = await this.fetch();
    if (latest === null) {
      // Removed from the bucket: this replica's users are written back.
      const v = await this.storage.put(KEY, serialize(this.copy.edited, this.copy.text), { ifAbsent: true });
      if (v !== null) this.log.warn('htpasswd store copy was missing: written again from this replica', { key: KEY });
      this.copy = { ...this.copy, version: v };
      return;
    }
    if (latest.version === this.copy.version) return;
    // Unreadable (logged): kept serving ours, and the next edit replaces it.
    if (latest.text === null) this.copy = { ...this.copy, version: latest.version };
    else await this.adopt({ version: latest.version, edited: latest.edited, text: latest.text });
  }

  /** Serves a copy: changed users lose their cached logins, and the file follows. */
  private async adopt(copy: Copy): Promise<void> {
    this.copy = copy;
    const changed = this.file.use(copy.text, SOURCE);
    if (changed.size > 0) {
      this.log.info('htpasswd reloaded from the store', { users: this.file.size, changed: changed.size });
      if (this.file.size === 0) this.log.error('htpasswd store copy has no usable user: every htpasswd login is refused', { key: KEY });
      this.onChange(changed);
    }
    if (copy.text !== this.fileText) await this.mirror();
  }

  /** Writes the copy into the local file unless an edit is under way there (the next look publishes it). */
  private async mirror(): Promise<void> {
    try {
      const fp = await this.file.write(this.copy.text, this.fileFp);
      if (fp === null) return;
      this.fileText = this.copy.text;
      this.fileFp = fp;
    } catch (e) {
      this.log.warn('htpasswd file not updated from the store copy: edit users on a replica whose file is writable', {
        file: this.file.path,
        error: (e as NodeJS.ErrnoException).code ?? (e as Error).message,
      });
    }
  }
}
