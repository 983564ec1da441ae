// What PyPI's read handlers read: a project's state (its simple page is
// rendered from it) and its files, with their PEP 658 metadata. Handlers see
// only this interface, so a caching layer (a pull-through proxy of an upstream
// index) can wrap it without a handler changing; the hosted implementation
// reads PypiStore and the blob store.
import type { Context } from '../../main/protocol.js';
import type { ObjectReader } from '../../main/storage/driver.js';
import { parseDigest } from '../../main/digest.js';
import type { ProjectState, PypiStore } from './store.js';

export interface PypiFile {
  /** the distribution's file name (without `.metadata` for a metadata file) */
  dist: string;
  /** true for `<dist>.metadata` (PEP 658) */
  isMeta: boolean;
  /** hex sha256 of what `reader` reads */
  sha256: string;
  reader: ObjectReader;
}

export interface PypiContent {
  /** The project's state (normalised name), or null. */
  project(norm: string): Promise<ProjectState | null>;
  /** A file of the project, or a wheel's `.metadata`, or null. */
  file(norm: string, filename: string): Promise<PypiFile | null>;
}

export function hostedPypiContent(ctx: Context, store: PypiStore): PypiContent {
  return {
    project: (norm) => store.read(norm),
    async file(norm, filename) {
      const s = await store.read(norm);
      // Own keys only: "__proto__" or "constructor" must not find Object.prototype's members.
      const has = (name: string) => !!s && Object.hasOwn(s.files, name);
      const isMeta = filename.endsWith('.metadata') && !has(filename);
      const dist = isMeta ? filename.slice(0, -'.metadata'.length) : filename;
      const f = has(dist) ? s!.files[dist] : undefined;
      const target = isMeta ? f?.metadata : f;
      if (!target) return null;
      const reader = await ctx.blobs.open(parseDigest(`sha256:${target.sha256}`)!);
      if (!reader) {
        ctx.log.error('pypi: file content missing from blob store', { project: norm, filename });
        return null;
      }
      return { dist, isMeta, sha256: target.sha256, reader };
    },
  };
}
