// Hosted package state: one small JSON document per package at
// npm/<name>/package.json (scope kept: npm/@scope/name/package.json), written
// atomically. Tarballs live in the shared blob store under their sha512 (the
// digest npm's `dist.integrity` names), so the stored key is the integrity the
// client checks. Every read-modify-write of one package runs under a
// per-package lock, and is written only if the document is unchanged since it
// was read (compare-and-swap; on a conflict with another process it runs
// again), so concurrent publishes of different versions all land.
import { createHash } from 'node:crypto';
import type { Context } from '../../main/protocol.js';
import { KeyedLock } from '../../main/keyed-lock.js';
import { HttpError } from '../../main/errors.js';
import { parseName } from './names.js';

export type Manifest = Record<string, unknown> & { name: string; version: string; dist: Record<string, unknown> };

export interface FileEntry {
  version: string;
  /** hex sha512 of the tarball = its blob key */
  sha512: string;
  /** hex sha1 (npm's `shasum`) */
  sha1: string;
  size: number;
}

export interface PackageState {
  name: string;
  /** revision counter; the CouchDB-style `_rev` is derived from it */
  rev: number;
  created: string;
  modified: string;
  distTags: Record<string, string>;
  /** version manifests as published, `dist.tarball` left out (built from the base URL when served) */
  versions: Record<string, Manifest>;
  /** publish time per version */
  times: Record<string, string>;
  /** tarball file name → content */
  files: Record<string, FileEntry>;
  /** versions removed by unpublish; their numbers are never reused */
  unpublished: Record<string, string>;
  /** package-level fields of the latest publish (description, readme, keywords, ...) */
  info: Record<string, unknown>;
  maintainers: { name: string; email?: string }[];
}

export function revString(s: PackageState): string {
  const h = createHash('sha256').update(`${s.name}\n${s.rev}\n${s.modified}`).digest('hex').slice(0, 32);
  return `${s.rev}-${h}`;
}

export function emptyState(name: string, now: string): PackageState {
  return {
    name,
    rev: 0,
    created: now,
    modified: now,
    distTags: {},
    versions: {},
    times: {},
    files: {},
    unpublished: {},
    info: {},
    maintainers: [],
  };
}

const stateKey = (name: string) => `npm/${name}/package.json`;
/** tries of one update against writers in other processes */
const MAX_ATTEMPTS = 5;

type Listener = (name: string, state: PackageState | null) => void;

export class NpmStore {
  private readonly lock = new KeyedLock();
  private readonly listeners: Listener[] = [];

  constructor(private readonly ctx: Context) {}

  onChange(l: Listener): void {
    this.listeners.push(l);
  }

  async read(name: string): Promise<PackageState | null> {
    return (await this.load(name))?.state ?? null;
  }

  private async load(name: string): Promise<{ state: PackageState; version: string } | null> {
    const got = await this.ctx.storage.get(stateKey(name));
    if (!got) return null;
    try {
      const s = JSON.parse(got.data.toString('utf8')) as PackageState;
      if (s.name !== name || typeof s.versions !== 'object') throw new Error('unexpected shape');
      return { state: s, version: got.version };
    } catch (e) {
      // Refuse to overwrite what we cannot read: a corrupt document is reported, never replaced.
      this.ctx.log.error('npm: corrupt package metadata', { name, error: String(e) });
      throw new HttpError('INTERNAL', `stored metadata of ${name} is unreadable`);
    }
  }

  /**
   * Runs `fn` on the current state under the package's lock. `fn` returns the
   * new state to write, `null` to delete the package, or `undefined` to leave it.
   */
  async update<T>(name: string, fn: (s: PackageState | null) => Promise<{ state?: PackageState | null; result: T }>): Promise<T> {
    return this.lock.run(name, async () => {
      for (let attempt = 1; ; attempt++) {
        const got = await this.load(name);
        const current = got?.state ?? null;
        const { state, result } = await fn(current);
        if (state === undefined) return result;
        let written: boolean;
        if (state === null) {
          written = got === null || (await this.ctx.storage.delete(stateKey(name), { ifMatch: got.version }));
          if (written) await this.ctx.storage.deletePrefix(`npm/${name}`);
        } else {
          state.rev = (current?.rev ?? 0) + 1;
          state.modified = new Date().toISOString();
          const cond = got ? { ifMatch: got.version } : { ifAbsent: true as const };
          written = (await this.ctx.storage.put(stateKey(name), JSON.stringify(state), cond)) !== null;
        }
        if (!written) {
          // Another process changed the document since it was read: decide again on what it wrote.
          if (attempt < MAX_ATTEMPTS) continue;
          throw new HttpError('CONFLICT', `${name} is being changed concurrently; try again`);
        }
        for (const l of this.listeners) l(name, state);
        return result;
      }
    });
  }

  /** Every hosted package name (scoped ones included). */
  async names(): Promise<string[]> {
    const out: string[] = [];
    const top = await this.ctx.storage.list('npm', { prefixesOnly: true });
    for (const entry of top.names) {
      if (entry.startsWith('@')) {
        const inner = await this.ctx.storage.list(`npm/${entry}`, { prefixesOnly: true });
        for (const n of inner.names) if (parseName(`${entry}/${n}`)) out.push(`${entry}/${n}`);
      } else if (parseName(entry)) {
        out.push(entry);
      }
    }
    return out;
  }
}
