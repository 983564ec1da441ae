// PUT under /maven2/ (mvn deploy, gradle publish, curl -T). A file streams
// into a storage writer while its md5, sha1, sha256 and sha512 are computed;
// it is committed into the blob store and recorded only once nothing can
// refuse it. Releases are immutable (maven.immutable_releases: 409, decided
// before the body is read and again when recording). Checksum sidecars are
// served from the recorded hashes, so an uploaded one is only compared
// (maven.checksum_verify: 400 on a mismatch). maven-metadata.xml is the
// server's (rendered from what is stored), so an uploaded one is accepted and
// discarded, as NORA does.
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Context } from '../../main/protocol.js';
import { parseDigest } from '../../main/digest.js';
import type { Reply, Req } from '../../main/http/types.js';
import { BodyTooLarge } from '../../main/http/types.js';
import { HttpError } from '../../main/errors.js';
import { HashingCounter, SizeLimitExceeded } from '../../main/storage/blobs.js';
import { releaseBodyChunk } from '../../main/http/body-chunks.js';
import { CHECKSUMS, type Checksum, type MavenPath, coordinates, isSnapshot } from './paths.js';
import type { FileRecord, MavenStore } from './store.js';

type FilePath = Extract<MavenPath, { kind: 'file' }>;

/** A client's maven-metadata.xml (discarded) or checksum file: small. */
const SMALL_LIMIT = 1024 * 1024;
const HEX_LENGTH: Record<Checksum, number> = { md5: 32, sha1: 40, sha256: 64, sha512: 128 };

export function createDeploy(ctx: Context, store: MavenStore) {
  const limit = ctx.config.server.body_limit_mb * 1024 * 1024;
  const { checksum_verify: verify, immutable_releases: immutable } = ctx.config.maven;

  /** Throws 409 when `stored` exists and may not be replaced. */
  const refuse = (p: FilePath) => (stored: FileRecord | undefined) => {
    if (stored && immutable && !isSnapshot(p.version))
      throw new HttpError('CONFLICT', `${coordinates(p)}:${p.version} is a release: ${p.file} is already deployed and cannot be overwritten`);
  };

  async function file(req: Req, reply: Reply, p: FilePath): Promise<void> {
    if (req.contentLength !== null && req.contentLength > limit) throw new BodyTooLarge(limit);
    // Refused before a byte is received when already known.
    const before = await store.version(p, p.version);
    refuse(p)(before && Object.hasOwn(before.files, p.file) ? before.files[p.file] : undefined);

    const counter = new HashingCounter([], limit);
    for (const a of CHECKSUMS) counter.hashes.set(a, createHash(a));
    const writer = await ctx.storage.writer('maven');
    let committed = false;
    try {
      try {
        await pipeline(req.body, counter, writer.append({ release: releaseBodyChunk }));
      } catch (e) {
        if (e instanceof SizeLimitExceeded) throw new BodyTooLarge(limit);
        throw e;
      }
      const hex = (a: Checksum) => counter.hashes.get(a)!.digest('hex');
      const record: FileRecord = { md5: hex('md5'), sha1: hex('sha1'), sha256: hex('sha256'), sha512: hex('sha512'), size: counter.bytes, modified: Date.now() };
      await store.addFile(p, p.version, p.file, record, refuse(p), async () => {
        // An identical stored file is refreshed, not rewritten (and stays safe from a concurrent gc).
        await ctx.blobs.adopt(writer, parseDigest(`sha256:${record.sha256}`)!);
        committed = true;
      });
    } finally {
      if (!committed) await writer.cancel().catch(() => {});
    }
    reply.status(201).send();
  }

  async function sidecar(req: Req, reply: Reply, p: FilePath, alg: Checksum): Promise<void> {
    const body = (await req.readBody(SMALL_LIMIT)).toString('latin1').trim();
    // "<hex>" or sha1sum's "<hex>  <file name>".
    const claimed = (body.split(/\s+/)[0] ?? '').toLowerCase();
    if (claimed.length !== HEX_LENGTH[alg] || !/^[0-9a-f]+$/.test(claimed))
      throw new HttpError('BAD_REQUEST', `${p.file}.${alg} must hold a ${alg} digest (${HEX_LENGTH[alg]} hex digits)`);
    if (verify) {
      const doc = await store.version(p, p.version);
      const rec = doc && Object.hasOwn(doc.files, p.file) ? doc.files[p.file]! : null;
      if (!rec) throw new HttpError('NOT_FOUND', `${p.file} is not deployed: deploy it before its checksum`);
      if (rec[alg] !== claimed)
        throw new HttpError('BAD_REQUEST', `Checksum mismatch: ${p.file}.${alg} says ${claimed}, the deployed ${p.file} has ${rec[alg]}`);
    }
    reply.status(201).send();
  }

  return {
    async put(req: Req, reply: Reply, p: MavenPath): Promise<void> {
      if (p.kind !== 'file') {
        await req.readBody(SMALL_LIMIT);
        reply.status(201).send();
        return;
      }
      return p.checksum ? sidecar(req, reply, p, p.checksum) : file(req, reply, p);
    },
  };
}
