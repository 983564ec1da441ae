// `cargo publish`: PUT /cargo/api/v1/crates/new. The metadata is read whole
// (bounded); the .crate streams into a storage writer, hashed as it arrives,
// and is committed into the blob store only once the version is known to be
// new; the crate document that names it is written last, so a crash at any
// instant leaves either no version or a complete one (an orphaned blob is gc's).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError } from '../../main/errors.js';
import { requireWrite } from '../../main/auth/gate.js';
import { HashingCounter } from '../../main/storage/blobs.js';
import { parseDigest } from '../../main/digest.js';
import { BodyReader } from './wire.js';
import { parsePublishMeta } from './metadata.js';
import { versionKey } from './names.js';
import type { CargoStore, CrateState } from './store.js';

/** The metadata JSON (readme included) is at most this long. */
const MAX_META = 8 * 1024 * 1024;
const OK = { warnings: { invalid_categories: [], invalid_badges: [], other: [] } };

function taken(s: CrateState | null, vers: string): string | undefined {
  return s?.versions.find((v) => versionKey(v.entry.vers) === versionKey(vers))?.entry.vers;
}

export function createPublish(ctx: Context, store: CargoStore) {
  const limit = ctx.config.server.body_limit_mb * 1024 * 1024;
  return async function publish(req: Req, reply: Reply): Promise<void> {
    if (req.contentLength !== null && req.contentLength > limit) throw new HttpError('TOO_LARGE', `publish body exceeds ${limit} bytes`);
    const body = new BodyReader(req.body);
    const metaLen = await body.u32('metadata length');
    if (metaLen > MAX_META) throw new HttpError('TOO_LARGE', `publish metadata of ${metaLen} bytes exceeds ${MAX_META}`);
    const meta = parsePublishMeta(await body.exact(metaLen, 'metadata'));
    // The URL names no crate: a scoped (OIDC) identity is checked here, before the .crate arrives.
    requireWrite(ctx.gate, req, 'cargo', meta.name);
    const crateLen = await body.u32('.crate length');
    if (crateLen === 0) throw new HttpError('BAD_REQUEST', 'the .crate is empty');
    if (8 + metaLen + crateLen > limit) throw new HttpError('TOO_LARGE', `.crate of ${crateLen} bytes exceeds the body limit`);
    if (req.contentLength !== null && req.contentLength !== 8 + metaLen + crateLen)
      throw new HttpError('BAD_REQUEST', `Content-Length ${req.contentLength} disagrees with the declared lengths (${8 + metaLen + crateLen})`);
    const id = `${meta.name}@${meta.vers}`;
    const exists = (s: CrateState | null) => {
      if (s && s.name !== meta.name) throw new HttpError('CONFLICT', `crate \`${meta.name}\` is published as \`${s.name}\`; use that name`);
      const v = taken(s, meta.vers);
      if (v !== undefined) throw new HttpError('CONFLICT', `crate version \`${meta.name}@${v}\` already exists`);
    };
    exists(await store.read(meta.name)); // refuse before receiving the .crate

    const counter = new HashingCounter(['sha256']);
    const writer = await ctx.storage.writer('cargo');
    let committed = false;
    try {
      await pipeline(Readable.from(body.stream(crateLen, '.crate')), counter, writer.append());
      if (!(await body.atEnd())) throw new HttpError('BAD_REQUEST', 'bytes follow the .crate');
      const cksum = counter.digest('sha256').slice('sha256:'.length);
      const user = req.identity?.user ?? 'anonymous';
      await store.update(meta.name, async (cur) => {
        exists(cur);
        if (!committed) {
          await ctx.blobs.adopt(writer, parseDigest(`sha256:${cksum}`)!);
          committed = true;
        }
        const now = new Date().toISOString();
        const state: CrateState = cur ? structuredClone(cur) : { name: meta.name, owners: [user], versions: [], modified: now };
        state.versions.push({ entry: { ...meta.entry, cksum }, size: crateLen, published_by: user, published_at: now, description: meta.description });
        state.modified = now;
        return { state, result: undefined };
      });
      ctx.log.info('cargo: published', { crate: id, user });
      reply.json(200, OK);
    } finally {
      if (!committed) await writer.cancel();
    }
  };
}
