// The htpasswd user file: parsed once at start (fatal if unusable), then polled
// for changes so added, changed and removed users take effect without a restart.
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
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

export function parseHtpasswd(text: string): ParsedHtpasswd {
  const users = new Map<string, string>();
  const problems: HtpasswdProblem[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon < 0) {
      problems.push({ line: i + 1, reason: 'no "user:hash" separator' });
      continue;
    }
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
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

type Fingerprint = string;

async function fingerprint(path: string): Promise<Fingerprint | null> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    return null;
  }
}

/** Users whose entry differs between two maps (changed or removed or added). */
function changedUsers(before: Map<string, string>, after: Map<string, string>): Set<string> {
  const out = new Set<string>();
  for (const [u, h] of before) if (after.get(u) !== h) out.add(u);
  for (const u of after.keys()) if (!before.has(u)) out.add(u);
  return out;
}

export class Htpasswd {
  private users: Map<string, string>;
  private timer: NodeJS.Timeout | null = null;
  private fp: Fingerprint | null;
  private polling = false;
  private unreadable = false;

  private constructor(
    readonly path: string,
    parsed: ParsedHtpasswd,
    fp: Fingerprint | null,
    private readonly log: Logger,
  ) {
    this.users = parsed.users;
    this.fp = fp;
  }

  /** Reads the file; throws an Error with a clear message if it is missing, unreadable or has no usable user. */
  static async load(file: string, log: Logger = processLog): Promise<Htpasswd> {
    const path = resolve(file);
    const fp = await fingerprint(path);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (e as Error).message})`;
      throw new Error(`auth is enabled but the htpasswd file ${path} ${why} (set auth.htpasswd_file / NORA_AUTH_HTPASSWD_FILE; create it with \`htpasswd -Bc ${file} <user>\`)`);
    }
    const parsed = parseHtpasswd(text);
    report(log, path, parsed.problems);
    if (parsed.users.size === 0) {
      throw new Error(`auth is enabled but the htpasswd file ${path} has no usable bcrypt user (add one with \`htpasswd -B ${file} <user>\`)`);
    }
    return new Htpasswd(path, parsed, fp, log);
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
      let next: Map<string, string>;
      try {
        const parsed = parseHtpasswd(await readFile(this.path, 'utf8'));
        report(this.log, this.path, parsed.problems);
        next = parsed.users;
        if (this.unreadable) this.log.warn('htpasswd file readable again', { file: this.path, users: next.size });
        this.unreadable = false;
        if (next.size === 0) this.log.error('htpasswd file has no usable user: every htpasswd login is refused', { file: this.path });
      } catch (e) {
        // Fail closed: nobody logs in with a password the server can no longer see.
        if (!this.unreadable) {
          this.log.error('htpasswd file cannot be read: every htpasswd login is refused until it is back', {
            file: this.path,
            error: (e as NodeJS.ErrnoException).code ?? String(e),
          });
        }
        this.unreadable = true;
        next = new Map();
      }
      const changed = changedUsers(this.users, next);
      this.users = next;
      if (changed.size > 0) {
        this.log.info('htpasswd reloaded', { file: this.path, users: next.size, changed: changed.size });
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
