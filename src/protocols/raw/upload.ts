// PUT /raw/<path>: the body streams into the blob store (hashed as it arrives,
// capped at raw.max_file_size) and the pointer is written last, under the
// request's precondition: If-None-Match: * creates only, If-Match replaces
// only the named version (or any, with *); without either an existing file is
// kept (409, as NORA). The precondition is checked before the body is read and
// again, atomically, by the driver when the pointer is written.
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError } from '../../main/errors.js';
import { SizeLimitExceeded } from '../../main/storage/blobs.js';
import { etagMatches } from '../../main/http/serve-object.js';
import { dirKey, fileKey } from './keys.js';
import type { RawFile, RawStore } from './store.js';

interface Precondition {
  createOnly: boolean;
  ifMatch: string | undefined;
}

function precondition(req: Req): Precondition {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined && inm.trim() !== '*') throw new HttpError('BAD_REQUEST', 'If-None-Match on PUT must be *');
  return { createOnly: inm !== undefined, ifMatch: req.headers['if-match'] };
}

/** Why the current state refuses the write, or null. */
function refusal(p: Precondition, cur: RawFile | null, path: string): HttpError | null {
  if (p.createOnly && cur) return new HttpError('PRECONDITION_FAILED', `${path} already exists`);
  if (p.ifMatch !== undefined && !(cur && etagMatches(p.ifMatch, `"${cur.sha256}"`))) return new HttpError('PRECONDITION_FAILED', `${path} is not the version If-Match names`);
  if (!p.createOnly && p.ifMatch === undefined && cur) return new HttpError('CONFLICT', `${path} already exists; send If-Match with its ETag to replace it`);
  return null;
}

export function createUpload(ctx: Context, store: RawStore) {
  const max = ctx.config.raw.max_file_size;

  /** A file may not sit where a directory is, nor below another file (a disk could not hold both). */
  async function checkPlace(path: string): Promise<void> {
    const segs = path.split('/');
    for (let i = 1; i < segs.length; i++) {
      const parent = segs.slice(0, i).join('/');
      if (await ctx.storage.stat(fileKey(parent))) throw new HttpError('CONFLICT', `${parent} is a file, not a directory`);
    }
    if ((await ctx.storage.list(dirKey(`${path}/`), { limit: 1 })).names.length) throw new HttpError('CONFLICT', `${path} is a directory`);
  }

  return async function upload(req: Req, reply: Reply, path: string): Promise<void> {
    if (req.contentLength !== null && req.contentLength > max) throw new HttpError('TOO_LARGE', `file exceeds raw.max_file_size (${max} bytes)`);
    const p = precondition(req);
    const before = await store.load(path);
    const early = refusal(p, before?.file ?? null, path);
    if (early) throw early;
    if (!before) await checkPlace(path);

    let put;
    try {
      put = await ctx.blobs.put(req.body, null, max);
    } catch (e) {
      if (e instanceof SizeLimitExceeded) throw new HttpError('TOO_LARGE', `file exceeds raw.max_file_size (${max} bytes)`);
      throw e;
    }
    const file: RawFile = { sha256: put.digest.slice('sha256:'.length), size: put.size, modified: new Date().toISOString() };
    if (!(await store.write(path, file, before?.version ?? null))) {
      // Changed since it was read: decide on what is there now (an orphaned blob is gc's).
      const now = await store.load(path);
      throw refusal(p, now?.file ?? null, path) ?? new HttpError('PRECONDITION_FAILED', `${path} changed during the upload`);
    }
    reply.status(before ? 200 : 201).header('ETag', `"${file.sha256}"`).json(before ? 200 : 201, file);
  };
}
