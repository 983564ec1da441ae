// Hosted project state: one small JSON document per project at
// pypi/<normalized>/project.json, changed through JsonDocuments (a per-project
// lock, and a write only if unchanged since it was read: on a conflict with
// another process the update runs again).
// Distribution files and extracted wheel METADATA are blobs in the shared
// content-addressed store, keyed by sha256 (the hash the simple index
// publishes), so a stored file always matches the digest clients verify.
import type { Context } from '../../main/protocol.js';
import { JsonDocuments } from '../../main/storage/json-document.js';
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

function isState(v: unknown, k: string): v is ProjectState {
  const s = v as ProjectState;
  return typeof s === 'object' && s !== null && typeof s.normalized === 'string' && key(s.normalized) === k && typeof s.files === 'object';
}

type Listener = (norm: string, state: ProjectState) => void;

export class PypiStore {
  private readonly docs: JsonDocuments<ProjectState>;
  private readonly listeners: Listener[] = [];

  constructor(private readonly ctx: Context) {
    this.docs = new JsonDocuments(ctx.storage, ctx.log, 'pypi project', isState);
  }

  onChange(l: Listener): void {
    this.listeners.push(l);
  }

  async read(norm: string): Promise<ProjectState | null> {
    return isNormalized(norm) ? this.docs.read(key(norm)) : null;
  }

  /** Runs `fn` under the project's lock; a returned state is written (compare-and-swap, retried), undefined leaves it. */
  async update<T>(norm: string, fn: (s: ProjectState | null) => Promise<{ state?: ProjectState; result: T }>): Promise<T> {
    let written: ProjectState | undefined;
    const result = await this.docs.update(key(norm), async (cur) => {
      const out = await fn(cur);
      written = out.state;
      return out;
    });
    if (written) for (const l of this.listeners) l(norm, written);
    return result;
  }

  /**
   * Normalised project names after `after`, in byte order, from `limit`
   * directory entries (fewer names when stray entries are skipped); `next`
   * continues the listing when more follow.
   */
  async projectPage(after: string | undefined, limit: number): Promise<{ names: string[]; next?: string }> {
    const page = await this.ctx.storage.list('pypi', { prefixesOnly: true, after, limit });
    return { names: page.names.filter(isNormalized), ...(page.more ? { next: page.names[page.names.length - 1] } : {}) };
  }

  /** Normalised names of every hosted project. */
  async projects(): Promise<string[]> {
    const out: string[] = [];
    let after: string | undefined;
    do {
      const page = await this.projectPage(after, 1000);
      out.push(...page.names);
      after = page.next;
    } while (after !== undefined);
    return out;
  }
}
