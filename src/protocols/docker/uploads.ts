// Blob uploads (OCI distribution spec 1.1, "Push"):
//   POST   /v2/<name>/blobs/uploads/                      start a session (202)
//   POST   /v2/<name>/blobs/uploads/?digest=<d>           single-request upload (201)
//   POST   /v2/<name>/blobs/uploads/?mount=<d>&from=<r>   cross-repository mount (201, else 202 session)
//   PATCH  /v2/<name>/blobs/uploads/<uuid>                append a chunk (202)
//   PUT    /v2/<name>/blobs/uploads/<uuid>?digest=<d>     optional last chunk, verify, commit (201)
//   GET    /v2/<name>/blobs/uploads/<uuid>                progress (204)
//   DELETE /v2/<name>/blobs/uploads/<uuid>                cancel (204)
import type { Context } from '../../main/protocol.js';
import { sharedStorage } from '../../main/storage/factory.js';
import type { Reply, Req } from '../../main/http/types.js';
import type { Algorithm, Digest } from '../../main/digest.js';
import { DigestMismatch, HashingCounter, SizeLimitExceeded, blobKey } from '../../main/storage/blobs.js';
import { WriterGone, type ObjectWriter } from '../../main/storage/driver.js';
import { OciError, oci } from './errors.js';
import { HttpError, methodNotAllowed } from '../../main/errors.js';
import { checkDigest, checkName } from './names.js';
import { hasBlob, linkBlob } from './layer-links.js';
import { parseChunkRange, uploadedRange } from './content-range.js';
import { ChunkLengthMismatch } from './upload-file.js';
import { SessionBusy, SessionGone, TooManySessions, UploadSessions, type UploadSession } from './upload-sessions.js';

const MiB = 1024 * 1024;
/** We have no minimum chunk size (chunks are appended to a file); saying 0 tells clients so. */
const CHUNK_MIN_LENGTH = 0;

function unknownUpload(uuid: string) {
  return oci('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { uuid: uuid.slice(0, 64) });
}

export async function createUploads(ctx: Context) {
  const cfg = ctx.config.docker;
  const limits = {
    maxSessions: cfg.max_upload_sessions,
    maxPerClient: cfg.max_upload_sessions_per_client,
    ttlMs: cfg.upload_session_ttl_secs * 1000,
  };
  const sessions = new UploadSessions(ctx.storage, limits, ctx.log, ctx.metrics, sharedStorage(ctx.config));
  // One upload is capped by the session size limit and the server's body limit, whichever is lower.
  const maxBytes = Math.min(cfg.max_upload_session_size_mb, ctx.config.server.body_limit_mb) * MiB;
  await sessions.start();

  const uploadUrl = (s: UploadSession) => `/v2/${s.name}/blobs/uploads/${s.uuid}`;
  const blobUrl = (name: string, d: string) => `/v2/${name}/blobs/${d}`;

  function progressHeaders(reply: Reply, s: UploadSession): Reply {
    return reply
      .header('Location', uploadUrl(s))
      .header('Range', uploadedRange(s.size))
      .header('Docker-Upload-UUID', s.uuid);
  }

  function created(reply: Reply, name: string, digest: string): void {
    reply.status(201).header('Location', blobUrl(name, digest)).header('Docker-Content-Digest', digest).send();
  }

  /** Runs fn, turning a reached session limit into 429. */
  async function limited<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof TooManySessions)) throw e;
      // Jittered so clients turned away together do not all come back together.
      throw new HttpError('TOO_MANY_REQUESTS', e.message, { headers: { 'Retry-After': String(3 + Math.floor(Math.random() * 8)) } });
    }
  }

  async function lookup(name: string, uuid: string): Promise<UploadSession> {
    const s = await sessions.get(uuid, name);
    if (!s) throw unknownUpload(uuid);
    return s;
  }

  /** The request's chunk must start where the session ends (416 otherwise, session unchanged). */
  function checkChunkRange(req: Req, s: UploadSession): number | null {
    const header = req.headers['content-range'];
    if (header === undefined) return null;
    const r = parseChunkRange(header);
    if (!r) throw oci('BLOB_UPLOAD_INVALID', 'malformed Content-Range', { 'content-range': header.slice(0, 100) });
    const length = r.end - r.start + 1;
    if (r.start !== s.size) {
      throw oci('BLOB_UPLOAD_INVALID', `chunk must start at byte ${s.size}`, { 'content-range': header }, 'RANGE_NOT_SATISFIABLE');
    }
    if (req.contentLength !== null && req.contentLength !== length) {
      throw oci('SIZE_INVALID', 'Content-Length does not match Content-Range');
    }
    return length;
  }

  /** Room left in the session, refusing at once a body announced larger. */
  function room(req: Req, s: UploadSession | null, exact: number | null): number {
    const left = maxBytes - (s?.size ?? 0);
    if ((req.contentLength ?? 0) > left || (exact ?? 0) > left) throw tooLarge(s);
    return left;
  }

  /** Translates what streaming a body may throw into the registry's errors. */
  async function receiving<T>(s: UploadSession | null, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof SizeLimitExceeded) throw tooLarge(s);
      if (e instanceof ChunkLengthMismatch) throw oci('SIZE_INVALID', e.message);
      if (e instanceof DigestMismatch) {
        throw oci('DIGEST_INVALID', 'provided digest did not match uploaded content', { expected: e.expected, computed: e.actual });
      }
      if (e instanceof SessionGone || e instanceof WriterGone) throw unknownUpload(s?.uuid ?? '');
      throw e;
    }
  }

  /** Streams the request body onto the session as its next part; the caller holds the session exclusively. */
  async function appendBody(req: Req, s: UploadSession, exact: number | null): Promise<void> {
    const left = room(req, s, exact);
    await receiving(s, () => sessions.append(s, req.body, left, exact ?? undefined));
  }

  function tooLarge(s: UploadSession | null) {
    return oci('SIZE_INVALID', `upload exceeds ${maxBytes} bytes`, s ? { uuid: s.uuid } : undefined, 'TOO_LARGE');
  }

  /** Streams a whole blob (the PUT of a session with no parts yet, or a single-request upload) into a writer, hashed. */
  async function receiveWhole(req: Req, uuid: string, algorithms: Algorithm[], exact: number | null) {
    const left = room(req, null, exact);
    return sessions.parts.receive(uuid, 0, algorithms, req.body, left, exact ?? undefined);
  }

  /**
   * Makes the session's bytes (plus a last chunk already in `last`) blob `d`,
   * after claiming the session, and links it into the repository. A single
   * part is copied into place (a hard link, a server-side copy) once its
   * digest checks out; several are joined into a new object, hashed on the way.
   */
  async function finish(s: UploadSession, d: Digest, last: { writer: ObjectWriter; counter: HashingCounter } | null): Promise<string> {
    try {
      await sessions.claim(s);
    } catch (e) {
      await last?.writer.cancel();
      throw e;
    }
    try {
      await store(s, d, last);
      await linkBlob(ctx, s.name, d);
      return d.value;
    } finally {
      // Verified or not, a finished session is over.
      await sessions.discard(s.uuid);
    }
  }

  /** Writes blob `d` from the session's bytes; DigestMismatch when they hash otherwise. */
  async function store(s: UploadSession, d: Digest, last: { writer: ObjectWriter; counter: HashingCounter } | null): Promise<void> {
    const parts = s.doc.parts;
    if (last) {
      await ctx.blobs.commitHashed(last.writer, last.counter, d);
    } else if (parts.length === 1) {
      const { hex } = await sessions.parts.digest(s.uuid, parts, s.size, d.algorithm);
      if (`${d.algorithm}:${hex}` !== d.value) throw new DigestMismatch(d.value, `${d.algorithm}:${hex}`);
      if (!(await ctx.storage.touch(blobKey(d)))) await ctx.storage.copy(parts[0]!.key, blobKey(d));
    } else {
      const writer = await ctx.storage.writer('blob');
      let counter: HashingCounter;
      try {
        counter = await sessions.parts.join(parts, writer, d.algorithm);
      } catch (e) {
        await writer.cancel();
        throw e;
      }
      await ctx.blobs.commitHashed(writer, counter, d);
    }
  }

  /**
   * Links a blob of repository `from` into `name` without an upload. The gate
   * has checked write access to `name`; read access to `from` is checked here.
   * A caller who may not read it gets a plain upload session, as from
   * distribution, which tells nothing about what `from` holds.
   */
  async function tryMount(req: Req, reply: Reply, name: string, digest: string, from: string | null): Promise<boolean> {
    const d = checkDigest(digest);
    if (await hasBlob(ctx, name, d)) {
      created(reply, name, d.value);
      return true;
    }
    if (from === null) return false; // no source named: never search repositories the caller may not read
    checkName(from);
    if (!ctx.gate.permits(req.identity!, { access: 'read', resource: { kind: 'repository', name: from } }, 'docker')) return false;
    if (!(await hasBlob(ctx, from, d))) return false;
    await linkBlob(ctx, name, d);
    created(reply, name, d.value);
    return true;
  }

  async function start(req: Req, reply: Reply, name: string): Promise<void> {
    if (req.method !== 'POST') throw methodNotAllowed('POST');
    const mount = req.query.get('mount');
    if (mount !== null && (await tryMount(req, reply, name, mount, req.query.get('from')))) return;

    const digest = mount === null ? req.query.get('digest') : null;
    if (digest !== null) {
      // Single-request upload: the body is the whole blob, no session document needed.
      const d = checkDigest(digest);
      const stored = await limited(() =>
        sessions.hold(req.clientIp, async () => {
          const left = room(req, null, null);
          const r = await receiving(null, () => ctx.blobs.put(req.body, d, left));
          await linkBlob(ctx, name, d);
          return r.digest;
        }),
      );
      return created(reply, name, stored);
    }

    const algorithms: Algorithm[] = [];
    const alg = req.query.get('digest-algorithm');
    if (alg !== null) {
      if (alg !== 'sha256' && alg !== 'sha512') throw oci('DIGEST_INVALID', 'unsupported digest algorithm', { algorithm: alg.slice(0, 50) });
      algorithms.push(alg);
    }
    const s = await limited(() => sessions.create(name, req.clientIp, algorithms));
    progressHeaders(reply, s).header('OCI-Chunk-Min-Length', CHUNK_MIN_LENGTH).status(202).send();
  }

  async function patch(req: Req, reply: Reply, s: UploadSession): Promise<void> {
    await sessions.exclusive(s, async () => {
      const expected = checkChunkRange(req, s);
      await appendBody(req, s, expected);
    });
    progressHeaders(reply, s).status(202).send();
  }

  async function put(req: Req, reply: Reply, s: UploadSession): Promise<void> {
    const digest = req.query.get('digest');
    if (!digest) throw oci('DIGEST_INVALID', 'digest query parameter is required');
    const d = checkDigest(digest);
    const stored = await sessions.exclusive(s, async () => {
      const expected = checkChunkRange(req, s);
      if (s.doc.parts.length > 0) {
        await appendBody(req, s, expected);
        return receiving(s, () => finish(s, d, null));
      }
      // Nothing stored yet: the body is the whole blob, written straight to its writer as before sessions were shared.
      const last = await receiving(s, () => receiveWhole(req, s.uuid, [...s.doc.algorithms, d.algorithm], expected));
      return receiving(s, () => finish(s, d, last));
    });
    created(reply, s.name, stored);
  }

  async function session(req: Req, reply: Reply, name: string, uuid: string): Promise<void> {
    const s = await lookup(name, uuid);
    try {
      switch (req.method) {
        case 'GET':
        case 'HEAD':
          // Not activity: only data keeps a session alive, so polling cannot pin one forever.
          return progressHeaders(reply, s).status(204).send();
        case 'PATCH':
          return await patch(req, reply, s);
        case 'PUT':
          return await put(req, reply, s);
        case 'DELETE':
          await sessions.cancel(s);
          return reply.status(204).header('Docker-Upload-UUID', s.uuid).send();
        default:
          throw methodNotAllowed('GET, HEAD, PATCH, PUT, DELETE');
      }
    } catch (e) {
      // Whatever went wrong, a session that is still open tells the client where it stands.
      if (!(e instanceof OciError && e.oci === 'BLOB_UPLOAD_UNKNOWN') && !reply.done) progressHeaders(reply, s);
      if (e instanceof SessionBusy) throw oci('BLOB_UPLOAD_INVALID', e.message, { uuid: s.uuid }, 'RANGE_NOT_SATISFIABLE');
      throw e;
    }
  }

  return {
    handleStart: start,
    handleSession: session,
    close: () => sessions.shutdown(),
  };
}
