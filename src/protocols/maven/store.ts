// Hosted Maven state, two kinds of small JSON documents:
//   maven/<group>/<artifact>/<version>/@version.json  the version's files → content
//   maven/<group>/<artifact>/@artifact.json           the artifact's versions
// ('@' never appears in a path segment, so neither name can be a coordinate).
// File bytes are blobs in the shared content-addressed store under their
// sha256. Every change is a compare-and-swap update (json-document.ts), so
// concurrent deploys on several replicas lose nothing; a per-document lock
// keeps writers in this process from colliding at all. A deploy writes the
// blob, then the version document, then the artifact document: a crash in
// between leaves a version whose artifact document lacks it until its next
// file is deployed (mvn deploys the POM after the jar), never a listed
// version without files.
import type { Context } from '../../main/protocol.js';
import { JsonDocuments } from '../../main/storage/json-document.js';
import { type Checksum, type Coordinates, groupId } from './paths.js';

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

const isVersionDoc = (v: unknown): v is VersionDoc => !!v && typeof v === 'object' && typeof (v as VersionDoc).files === 'object' && typeof (v as VersionDoc).version === 'string';
const isArtifactDoc = (v: unknown): v is ArtifactDoc => !!v && typeof v === 'object' && Array.isArray((v as ArtifactDoc).versions);

export class MavenStore {
  private readonly versions: JsonDocuments<VersionDoc>;
  private readonly artifacts: JsonDocuments<ArtifactDoc>;
  private readonly listeners: ((c: Coordinates, version: string, file: string) => void)[] = [];

  /** Called after a file was deployed (the web UI's recent deploys). */
  onDeploy(l: (c: Coordinates, version: string, file: string) => void): void {
    this.listeners.push(l);
  }

  constructor(ctx: Context) {
    this.versions = new JsonDocuments(ctx.storage, ctx.log, 'maven version', isVersionDoc);
    this.artifacts = new JsonDocuments(ctx.storage, ctx.log, 'maven artifact', isArtifactDoc);
  }

  version(c: Coordinates, version: string): Promise<VersionDoc | null> {
    return this.versions.read(versionKey(c, version));
  }

  artifact(c: Coordinates): Promise<ArtifactDoc | null> {
    return this.artifacts.read(artifactKey(c));
  }

  /**
   * Records `file` in its version unless `refuse` (given what is stored
   * under that name) throws, calling `commit` once before the first write of
   * the record; then lists the version in the artifact document.
   */
  async addFile(c: Coordinates, version: string, file: string, record: FileRecord, refuse: (stored: FileRecord | undefined) => void, commit: () => Promise<void>): Promise<void> {
    let committed = false;
    await this.versions.update(versionKey(c, version), async (cur) => {
      refuse(cur && Object.hasOwn(cur.files, file) ? cur.files[file] : undefined);
      if (!committed) await commit();
      committed = true;
      const state: VersionDoc = cur ?? { groupId: groupId(c), artifactId: c.artifact, version, files: {} };
      state.files = { ...state.files, [file]: record };
      return { state, result: undefined };
    });
    await this.artifacts.update(artifactKey(c), (cur) => {
      if (cur?.versions.includes(version)) return { result: undefined };
      const state: ArtifactDoc = cur ?? { groupId: groupId(c), artifactId: c.artifact, versions: [], lastUpdated: 0 };
      state.versions = [...state.versions, version];
      state.lastUpdated = Math.max(Date.now(), state.lastUpdated + 1);
      return { state, result: undefined };
    });
    for (const l of this.listeners) l(c, version, file);
  }
}
