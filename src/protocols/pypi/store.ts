// Hosted project state: one small JSON document per project at
// pypi/<normalized>/project.json, written atomically under a per-project lock
// and only if unchanged since it was read (compare-and-swap; on a conflict
// with another process the update runs again).
// Distribution files and extracted wheel METADATA are blobs in the shared
// content-addressed store, keyed by sha256 (the hash the simple index
// publishes), so a stored file always matches the digest clients verify.
import type { Context } from '../../main/protocol.js';
import { KeyedLock } from '../../main/keyed-lock.js';
import { HttpError } from '../../main/errors.js';
import { isNormalized } from './normalize.js';

export interface FileRecord {
  version: string;
  /** hex digests of the file */
  sha256: string;
  md5?: string;
  blake2_256?: string;
  size: number;
  /** ISO time of upload */
  uploaded: string;
  requires_python?: string;
  /** the wheel's METADATA, stored as its own blob (PEP 658) */
  metadata?: { sha256: string; size: number };
  /** PEP 592: false, or the reason (possibly empty) */
  yanked: false | string;
}

export interface ProjectState {
  /** display name as first uploaded */
  name: string;
  normalized: string;
  files: Record<string, FileRecord>;
}

const key = (norm: string) => `pypi/${norm}/project.json`;
/** tries of one update against writers in other processes */
const MAX_ATTEMPTS = 5;

type Listener = (norm: string, state: ProjectState) => void;

export class PypiStore {
  private readonly lock = new KeyedLock();
  private readonly listeners: Listener[] = [];

  constructor(private readonly ctx: Context) {}

  onChange(l: Listener): void {
    this.listeners.push(l);
  }

  async read(norm: string): Promise<ProjectState | null> {
    return (await this.load(norm))?.state ?? null;
  }

  private async load(norm: string): Promise<{ state: ProjectState; version: string } | null> {
    if (!isNormalized(norm)) return null;
    const got = await this.ctx.storage.get(key(norm));
    if (!got) return null;
    try {
      const s = JSON.parse(got.data.toString('utf8')) as ProjectState;
      if (s.normalized !== norm || typeof s.files !== 'object') throw new Error('unexpected shape');
      return { state: s, version: got.version };
    } catch (e) {
      // Never overwrite what cannot be read: report it instead.
      this.ctx.log.error('pypi: corrupt project metadata', { project: norm, error: String(e) });
      throw new HttpError('INTERNAL', `stored metadata of ${norm} is unreadable`);
    }
  }

  /** Runs `fn` under the project's lock; a returned state is written, undefined leaves it. */
  async update<T>(norm: string, fn: (s: ProjectState | null) => Promise<{ state?: ProjectState; result: T }>): Promise<T> {
    return this.lock.run(norm, async () => {
      for (let attempt = 1; ; attempt++) {
        const got = await this.load(norm);
        const { state, result } = await fn(got?.state ?? null);
        if (state) {
          const cond = got ? { ifMatch: got.version } : { ifAbsent: true as const };
          if ((await this.ctx.storage.put(key(norm), JSON.stringify(state), cond)) === null) {
            // Another process changed the document since it was read: decide again on what it wrote.
            if (attempt < MAX_ATTEMPTS) continue;
            throw new HttpError('CONFLICT', `${norm} is being changed concurrently; try again`);
          }
          for (const l of this.listeners) l(norm, state);
        }
        return result;
      }
    });
  }

  /** Normalised names of every hosted project. */
  async projects(): Promise<string[]> {
    const out: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.ctx.storage.list('pypi', { prefixesOnly: true, after, limit: 1000 });
      out.push(...page.names.filter(isNormalized));
      if (!page.more) return out;
      after = page.names[page.names.length - 1];
    }
  }
}
