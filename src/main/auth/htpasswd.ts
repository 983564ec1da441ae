// The htpasswd user file: parsed once at start (fatal if unusable), then polled
// for changes so added, changed and removed users take effect without a restart.
// On shared storage the users come from a copy in the store instead
// (htpasswd-share.ts), which reads this file for edits and mirrors the copy
// into it through read() and write().
import { open, readdir, readFile, realpath, rename, stat, unlink } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { log as processLog, type Logger } from '../log.js';

/** bcrypt as written by `htpasswd -B` ($2y$) and other tools ($2a$, $2b$). */
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const POLL_MS = 1000;

export interface HtpasswdProblem {
  line: number;
  reason: string;
}

export interface ParsedHtpasswd {
  /** user → bcrypt hash normalised to $2b$ (node's bcrypt does not accept the $2y$ label) */
  users: Map<string, string>;
  problems: HtpasswdProblem[];
}

/** A line's user and hash; null for blank lines and comments, 'bad' without a separator. */
export function entryOf(line: string): { user: string; hash: string } | null | 'bad' {
  const l = line.trim();
  if (l === '' || l.startsWith('#')) return null;
  const colon = l.indexOf(':');
  return colon < 0 ? 'bad' : { user: l.slice(0, colon), hash: l.slice(colon + 1) };
}

export function parseHtpasswd(text: string): ParsedHtpasswd {
  const users = new Map<string, string>();
  const problems: HtpasswdProblem[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const e = entryOf(lines[i]!);
    if (e === null) continue;
    if (e === 'bad') {
      problems.push({ line: i + 1, reason: 'no "user:hash" separator' });
      continue;
    }
    const { user, hash } = e;
    if (user === '') {
      problems.push({ line: i + 1, reason: 'empty user name' });
      continue;
    }
    if (!BCRYPT.test(hash)) {
      problems.push({ line: i + 1, reason: `user "${user}" has a hash that is not bcrypt ($2y$/$2a$/$2b$); it will never match` });
      continue;
    }
    if (users.has(user)) problems.push({ line: i + 1, reason: `user "${user}" appears again; this later line wins` });
    users.set(user, '$2b$' + hash.slice(4));
  }
  return { users, problems };
}

function costOf(hash: string): number {
  return Number(hash.slice(4, 6));
}

export type Fingerprint = string;

const fingerprintOf = (s: BigIntStats): Fingerprint => `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;

async function fingerprint(path: string): Promise<Fingerprint | null> {
  try {
    return fingerprintOf(await stat(path, { bigint: true }));
  } catch {
    return null;
  }
}

/** The file as one read saw it; `fp` tells a later edit from this content. */
export interface FileText {
  text: string;
  mtimeMs: number;
  fp: Fingerprint;
}

/** Users whose entry differs between two maps (changed or removed or added). */
function changedUsers(before: Map<string, string>, after: Map<string, string>): Set<string> {
  const out = new Set<string>();
  for (const [u, h] of before) if (after.get(u) !== h) out.add(u);
  for (const u of after.keys()) if (!before.has(u)) out.add(u);
  return out;
}

export class Htpasswd {
  private users = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private fp: Fingerprint | null = null;
  private polling = false;
  private unreadable = false;

  private constructor(
    readonly path: string,
    /** as configured, for the commands an error message suggests */
    private readonly name: string,
    private readonly log: Logger,
  ) {}

  /** Reads the file; throws an Error with a clear message if it is missing, unreadable or has no usable user. */
  static async load(file: string, log: Logger = processLog): Promise<Htpasswd> {
    const h = Htpasswd.at(file, log);
    h.fp = await fingerprint(h.path);
    let text: string;
    try {
      text = await readFile(h.path, 'utf8');
    } catch (e) {
      throw h.unusable((e as NodeJS.ErrnoException).code ?? (e as Error).message);
    }
    h.use(text);
    h.requireUsers(`the htpasswd file ${h.path}`);
    return h;
  }

  /** The file, not read yet: a replica on shared storage decides between it and the store copy. */
  static at(file: string, log: Logger = processLog): Htpasswd {
    return new Htpasswd(resolve(file), file, log);
  }

  /** The start-up error for a file that cannot be read (`code` as the read failed). */
  unusable(code: string): Error {
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`;
    return new Error(`auth is enabled but the htpasswd file ${this.path} ${why} (set auth.htpasswd_file / NORA_AUTH_HTPASSWD_FILE; create it with \`htpasswd -Bc ${this.name} <user>\`)`);
  }

  /** Start-up refuses users taken from `what` when none is usable. */
  requireUsers(what: string): void {
    if (this.users.size === 0) throw new Error(`auth is enabled but ${what} has no usable bcrypt user (add one with \`htpasswd -B ${this.name} <user>\`)`);
  }

  get(user: string): string | undefined {
    return this.users.get(user);
  }

  has(user: string): boolean {
    return this.users.has(user);
  }

  get size(): number {
    return this.users.size;
  }

  /** Highest bcrypt cost in the file: the dummy hash for unknown users uses it. */
  maxCost(): number {
    let max = 4;
    for (const h of this.users.values()) max = Math.max(max, costOf(h));
    return max;
  }

  /** Serves the users of `text` from now on (bad lines reported as `source`'s); returns who changed. */
  use(text: string, source = this.path): Set<string> {
    const parsed = parseHtpasswd(text);
    report(this.log, source, parsed.problems);
    const changed = changedUsers(this.users, parsed.users);
    this.users = parsed.users;
    return changed;
  }

  /** Whether the file is no longer as `fp` saw it (one stat). */
  async differs(fp: Fingerprint | null): Promise<boolean> {
    return (await fingerprint(this.path)) !== fp;
  }

  /**
   * The file's text; or the error code when it is missing or unreadable; or
   * 'moving' when it changed while being read (`htpasswd` rewrites the file
   * in place, so a read may catch it half-written).
   */
  async read(): Promise<FileText | { error: string } | 'moving'> {
    let text: string;
    let before: string | null;
    try {
      before = await fingerprint(this.path);
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      return { error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
    }
    const s = await stat(this.path, { bigint: true }).catch(() => null);
    if (s === null || fingerprintOf(s) !== before) return 'moving';
    return { text, mtimeMs: Number(s.mtimeNs / 1_000_000n), fp: before };
  }

  /** The temp file write() uses beside `target`. */
  private static tempName(target: string, suffix: string): string {
    return join(dirname(target), `.${basename(target)}.nora-${suffix}.tmp`);
  }

  /** Removes temp files a crash left in the middle of write(). */
  async removeTemps(): Promise<void> {
    const target = await realpath(this.path).catch(() => this.path);
    const prefix = basename(Htpasswd.tempName(target, ''), '.tmp');
    const names = await readdir(dirname(target)).catch(() => [] as string[]);
    for (const n of names) if (n.startsWith(prefix) && n.endsWith('.tmp')) await unlink(join(dirname(target), n)).catch(() => {});
  }

  /**
   * Replaces the file's content atomically (a temp file beside it, fsync,
   * rename; through a symlink, its target), unless the file changed since
   * `fp`: an edit made meanwhile is never overwritten. Returns the new
   * fingerprint, or null when it left the file alone.
   */
  async write(text: string, fp: Fingerprint | null): Promise<Fingerprint | null> {
    const target = await realpath(this.path).catch(() => this.path);
    const mode = await stat(target).then(
      (s) => s.mode & 0o777,
      () => 0o600,
    );
    const tmp = Htpasswd.tempName(target, randomBytes(6).toString('hex'));
    const fh = await open(tmp, 'wx', mode);
    try {
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (await this.differs(fp)) return null;
      await rename(tmp, target);
    } finally {
      await unlink(tmp).catch(() => {});
    }
    return fingerprint(this.path);
  }

  /** Polls the file's stat; on a change re-reads it and reports the users whose entry changed. */
  watch(onChange: (changed: Set<string>) => void): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(onChange), POLL_MS);
    this.timer.unref();
  }

  /** One poll step; public so a caller can force a re-check. */
  async poll(onChange: (changed: Set<string>) => void): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const fp = await fingerprint(this.path);
      if (fp === this.fp) return;
      this.fp = fp;
      let changed: Set<string>;
      try {
        changed = this.use(await readFile(this.path, 'utf8'));
        if (this.unreadable) this.log.warn('htpasswd file readable again', { file: this.path, users: this.users.size });
        this.unreadable = false;
        if (this.users.size === 0) this.log.error('htpasswd file has no usable user: every htpasswd login is refused', { file: this.path });
      } catch (e) {
        // Fail closed: nobody logs in with a password the server can no longer see.
        if (!this.unreadable) {
          this.log.error('htpasswd file cannot be read: every htpasswd login is refused until it is back', {
            file: this.path,
            error: (e as NodeJS.ErrnoException).code ?? String(e),
          });
        }
        this.unreadable = true;
        changed = this.use('');
      }
      if (changed.size > 0) {
        this.log.info('htpasswd reloaded', { file: this.path, users: this.users.size, changed: changed.size });
        onChange(changed);
      }
    } finally {
      this.polling = false;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

function report(log: Logger, path: string, problems: HtpasswdProblem[]): void {
  for (const p of problems) log.warn('htpasswd line ignored', { file: path, line: p.line, reason: p.reason });
}
