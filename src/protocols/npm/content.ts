// What npm's read handlers read: package documents (packuments are rendered
// from them) and tarballs. Handlers see only this interface, so a caching
// layer (a pull-through proxy of an upstream registry) can wrap it without a
// handler changing; the hosted implementation reads NpmStore and the blob store.
import { LRUCache } from 'lru-cache';
import type { Context } from '../../main/protocol.js';
import { FRESH_MS } from '../../main/http/answer-cache.js';
import type { ObjectReader } from '../../main/storage/driver.js';
import type { FileEntry, NpmStore, PackageState } from './store.js';

export interface NpmContent {
  /** The package's document, or null when there is no such package. */
  packument(name: string): Promise<PackageState | null>;
  /** A tarball's record and bytes, or null when the package has no such file. */
  tarball(name: string, file: string): Promise<{ entry: FileEntry; reader: ObjectReader } | null>;
}

export function hostedNpmContent(ctx: Context, store: NpmStore): NpmContent {
  // Which files a package has is kept for a second (as the docker tag cache),
  // so a burst of downloads does not read the package document once each; a
  // local change forgets it at once, another process's within that second.
  const known = new LRUCache<string, Record<string, FileEntry>>({ max: 10_000, ttl: FRESH_MS });
  let generation = 0;
  store.onChange((name) => {
    generation++;
    known.delete(name);
  });

  async function filesOf(name: string): Promise<Record<string, FileEntry> | undefined> {
    const hit = known.get(name);
    if (hit !== undefined) return hit;
    const g = generation;
    const state = await store.read(name);
    // a read begun before a change must not answer the reads after it
    if (state && g === generation) known.set(name, state.files);
    return state?.files;
  }

  return {
    packument: (name) => store.read(name),
    async tarball(name, file) {
      const files = await filesOf(name);
      // Own keys only: "__proto__" or "constructor" must not find Object.prototype's members.
      const entry = files && Object.hasOwn(files, file) ? files[file] : undefined;
      if (!entry) return null;
      const reader = await ctx.blobs.open({ algorithm: 'sha512', hex: entry.sha512, value: `sha512:${entry.sha512}` });
      if (!reader) {
        ctx.log.error('npm: tarball content missing from blob store', { name, file });
        return null;
      }
      return { entry, reader };
    },
  };
}
