// What Maven's read handlers read: the version and artifact documents and the
// bytes of a deployed file. Handlers see only this interface, so a
// pull-through cache of an upstream repository can wrap it later without a
// handler changing; the hosted implementation reads MavenStore and the blob
// store.
import type { Context } from '../../main/protocol.js';
import type { ObjectReader } from '../../main/storage/driver.js';
import { parseDigest } from '../../main/digest.js';
import type { Coordinates } from './paths.js';
import type { ArtifactDoc, FileRecord, MavenStore, VersionDoc } from './store.js';

export interface MavenContent {
  artifact(c: Coordinates): Promise<ArtifactDoc | null>;
  version(c: Coordinates, version: string): Promise<VersionDoc | null>;
  /** The bytes of a file recorded in its version document, or null. */
  open(c: Coordinates, version: string, file: FileRecord): Promise<ObjectReader | null>;
}

export function hostedMavenContent(ctx: Context, store: MavenStore): MavenContent {
  return {
    artifact: (c) => store.artifact(c),
    version: (c, v) => store.version(c, v),
    async open(c, version, file) {
      const reader = await ctx.blobs.open(parseDigest(`sha256:${file.sha256}`)!);
      if (!reader) ctx.log.error('maven: file content missing from blob store', { artifact: `${c.group.join('.')}:${c.artifact}:${version}`, sha256: file.sha256 });
      return reader;
    },
  };
}
