// Hosted Maven state, two kinds of small JSON documents:
//   maven/<group>/<artifact>/<version>/@version.json  the version's files → content
//   maven/<group>/<artifact>/@artifact.json           the artifact's versions
// ('@' never appears in a path segment, so neither name can be a coordinate).
// File bytes are blobs in the shared content-addressed store under their
// sha256. Every change is a compare-and-swap update (cas-update.ts), so
// concurrent deploys on several replicas lose nothing; a per-document lock
// keeps writers in this process from colliding at all. A deploy writes the
// blob, then the version document, then the artifact document: a crash in
// between leaves a version whose artifact document lacks it until its next
// file is deployed (mvn deploys the POM after the jar), never a listed
// version without files.
import type { Context } from '../../main/protocol.js';
import { KeyedLock } from '../../main/keyed-lock.js';
import { HttpError } from '../../main/errors.js';
import { CasConflict, casUpdate } from '../../main/storage/cas-update.js';
import { type Checksum, type Coordinates, coordinates, groupId } from './paths.js';

export type FileRecord = Record<Checksum, string> & {
  size: number;
  /** ms since the epoch of the deploy */
  modified: number;
};

export interface VersionDoc {
  groupId: string;
  artifactId: string;
  version: string;
  files: Record<string, FileRecord>;
}

export interface ArtifactDoc {
  groupId: string;
  artifactId: string;
  versions: string[];
  /** ms since the epoch of the last version added */
  lastUpdated: number;
}

const base = (c: Coordinates) => `maven/${c.group.join('/')}/${c.artifact}`;
export const versionKey = (c: Coordinates, version: string) => `${base(c)}/${version}/@version.json`;
export const artifactKey = (c: Coordinates) => `${base(c)}/@artifact.json`;

export class MavenStore {
  private readonly lock = new KeyedLock();

  constructor(private readonly ctx: Context) {}

  private parse<D extends { groupId: string; artifactId: string }>(key: string, c: Coordinates, data: Buffer, field: keyof D): D {
    try {
      const d = JSON.parse(data.toString('utf8')) as D;
      if (d.groupId !== groupId(c) || d.artifactId !== c.artifact || typeof d[field] !== 'object') throw new Error('unexpected shape');
      return d;
    } catch (e) {
      // Never overwrite what cannot be read: report it instead.
      this.ctx.log.error('maven: corrupt metadata', { key, error: String(e) });
      throw new HttpError('INTERNAL', `stored metadata of ${coordinates(c)} is unreadable`);
    }
  }

  async version(c: Coordinates, version: string): Promise<VersionDoc | null> {
    const key = versionKey(c, version);
    const got = await this.ctx.storage.get(key);
    return got && this.parse<VersionDoc>(key, c, got.data, 'files');
  }

  async artifact(c: Coordinates): Promise<ArtifactDoc | null> {
    const key = artifactKey(c);
    const got = await this.ctx.storage.get(key);
    return got && this.parse<ArtifactDoc>(key, c, got.data, 'versions');
  }

  /**
   * Records `file` in its version unless `refuse` (given what is stored
   * under that name) throws, calling `commit` once before the first write of
   * the record; then lists the version in the artifact document.
   */
  async addFile(c: Coordinates, version: string, file: string, record: FileRecord, refuse: (stored: FileRecord | undefined) => void, commit: () => Promise<void>): Promise<void> {
    const vkey = versionKey(c, version);
    let committed = false;
    await this.guarded(vkey, () =>
      casUpdate(this.ctx.storage, vkey, (d) => this.parse<VersionDoc>(vkey, c, d, 'files'), async (cur) => {
        refuse(cur && Object.hasOwn(cur.files, file) ? cur.files[file] : undefined);
        if (!committed) await commit();
        committed = true;
        const next: VersionDoc = cur ?? { groupId: groupId(c), artifactId: c.artifact, version, files: {} };
        next.files = { ...next.files, [file]: record };
        return { next, result: undefined };
      }),
    );
    const akey = artifactKey(c);
    await this.guarded(akey, () =>
      casUpdate(this.ctx.storage, akey, (d) => this.parse<ArtifactDoc>(akey, c, d, 'versions'), async (cur) => {
        if (cur?.versions.includes(version)) return { result: undefined };
        const next: ArtifactDoc = cur ?? { groupId: groupId(c), artifactId: c.artifact, versions: [], lastUpdated: 0 };
        next.versions = [...next.versions, version];
        next.lastUpdated = Math.max(Date.now(), next.lastUpdated + 1);
        return { next, result: undefined };
      }),
    );
  }

  /** One writer per document in this process; other processes are kept right by the compare-and-swap. */
  private async guarded(key: string, fn: () => Promise<void>): Promise<void> {
    try {
      await this.lock.run(key, fn);
    } catch (e) {
      if (e instanceof CasConflict) throw new HttpError('CONFLICT', 'metadata is being changed concurrently; try again');
      throw e;
    }
  }
}
