// A raw file is a blob in the shared content-addressed store plus a small
// pointer document at raw/<path> naming its sha256 (its ETag), size and time.
// Conditional writes are the driver's: create-if-absent or replace-if-
// unchanged on the pointer, so two replicas never both win a create, and a
// replaced or deleted file's blob is left to gc (which finds the pointers).
import type { Context } from '../../main/protocol.js';
import { JsonDocuments } from '../../main/storage/json-document.js';
import { fileKey } from './keys.js';

export interface RawFile {
  sha256: string;
  size: number;
  /** ISO time of the upload */
  modified: string;
}

function isFile(v: unknown): v is RawFile {
  const f = v as RawFile;
  return typeof f === 'object' && f !== null && typeof f.sha256 === 'string' && /^[0-9a-f]{64}$/.test(f.sha256) && typeof f.size === 'number';
}

export class RawStore {
  private readonly docs: JsonDocuments<RawFile>;
  private readonly listeners: ((path: string) => void)[] = [];

  /** Called after a file was written (the web UI's recent uploads). */
  onWrite(l: (path: string) => void): void {
    this.listeners.push(l);
  }

  constructor(private readonly ctx: Context) {
    this.docs = new JsonDocuments(ctx.storage, ctx.log, 'raw file', isFile);
  }

  /** The file at `path` and its pointer's version, or null. */
  async load(path: string): Promise<{ file: RawFile; version: string } | null> {
    const got = await this.docs.load(fileKey(path));
    return got && { file: got.state, version: got.version };
  }

  /** Writes the pointer if `version` is still current (null: only if absent); false when it was not. */
  async write(path: string, file: RawFile, version: string | null): Promise<boolean> {
    const cond = version === null ? { ifAbsent: true as const } : { ifMatch: version };
    const written = (await this.ctx.storage.put(fileKey(path), JSON.stringify(file), cond)) !== null;
    if (written) for (const l of this.listeners) l(path);
    return written;
  }

  remove(path: string, version?: string): Promise<boolean> {
    return this.ctx.storage.delete(fileKey(path), version === undefined ? undefined : { ifMatch: version });
  }
}
