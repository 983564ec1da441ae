// Hosted crates: one JSON document per crate at cargo/crates/<canonical>/crate.json
// holding each version's index entry (in publish order) and who published it;
// the sparse index file is rendered from it. Changed only through
// JsonDocuments (per-crate lock + compare-and-swap with retry), so concurrent
// publishes of different versions, on one replica or several, lose none.
// The .crate files are blobs in the shared content-addressed store, named by
// their sha256 (`cksum`), which is also how gc sees them in use.
import type { Context } from '../../main/protocol.js';
import { JsonDocuments } from '../../main/storage/json-document.js';
import { canonical } from './names.js';

export interface IndexDep {
  name: string;
  req: string;
  features: string[];
  optional: boolean;
  default_features: boolean;
  target: string | null;
  kind: string;
  registry?: string | null;
  package?: string;
}

/** One line of the sparse index, as cargo reads it. */
export interface IndexEntry {
  name: string;
  vers: string;
  deps: IndexDep[];
  cksum: string;
  features: Record<string, string[]>;
  features2?: Record<string, string[]>;
  yanked: boolean;
  links: string | null;
  v: number;
  rust_version: string | null;
}

export interface CrateVersion {
  entry: IndexEntry;
  size: number;
  published_by: string;
  published_at: string;
  description: string | null;
}

export interface CrateState {
  /** the name as first published */
  name: string;
  owners: string[];
  versions: CrateVersion[];
  /** ISO time of the last change (Last-Modified of the index file) */
  modified: string;
}

const ROOT = 'cargo/crates';
const key = (name: string) => `${ROOT}/${canonical(name)}/crate.json`;

function isState(v: unknown, k: string): v is CrateState {
  const s = v as CrateState;
  return typeof s === 'object' && s !== null && typeof s.name === 'string' && key(s.name) === k && Array.isArray(s.versions) && Array.isArray(s.owners);
}

export class CargoStore {
  private readonly docs: JsonDocuments<CrateState>;
  private readonly listeners: ((s: CrateState) => void)[] = [];

  /** Called after a crate's document was written (the web UI's recent publishes). */
  onChange(l: (s: CrateState) => void): void {
    this.listeners.push(l);
  }

  constructor(private readonly ctx: Context) {
    this.docs = new JsonDocuments(ctx.storage, ctx.log, 'cargo crate', isState);
  }

  /** The crate named `name` in any spelling crates.io treats as the same, or null. */
  read(name: string): Promise<CrateState | null> {
    return this.docs.read(key(name));
  }

  async update<T>(name: string, fn: (cur: CrateState | null) => Promise<{ state?: CrateState; result: T }> | { state?: CrateState; result: T }): Promise<T> {
    // fn may run again after a conflict: the state of its last run is what was written.
    let written: CrateState | undefined;
    const result = await this.docs.update(key(name), async (cur) => {
      const r = await fn(cur);
      written = r.state;
      return r;
    });
    if (written) for (const l of this.listeners) l(written);
    return result;
  }

  /** Canonical names of every hosted crate, page by page. */
  async *names(): AsyncGenerator<string> {
    let after: string | undefined;
    for (;;) {
      const page = await this.ctx.storage.list(ROOT, { prefixesOnly: true, after, limit: 1000 });
      yield* page.names;
      if (!page.more) return;
      after = page.names[page.names.length - 1];
    }
  }
}

/** The index file: one JSON line per version, in publish order. */
export function renderIndex(s: CrateState): string {
  return s.versions.map((v) => JSON.stringify(v.entry)).join('\n') + '\n';
}
