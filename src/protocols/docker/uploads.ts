// Blob uploads (OCI distribution spec 1.1, "Push"):
//   POST   /v2/<name>/blobs/uploads/                      start a session (202)
//   POST   /v2/<name>/blobs/uploads/?digest=<d>           single-request upload (201)
//   POST   /v2/<name>/blobs/uploads/?mount=<d>&from=<r>   cross-repository mount (201, else 202 session)
//   PATCH  /v2/<name>/blobs/uploads/<uuid>                append a chunk (202)
//   PUT    /v2/<name>/blobs/uploads/<uuid>?digest=<d>     optional last chunk, verify, commit (201)
//   GET    /v2/<name>/blobs/uploads/<uuid>                progress (204)
//   DELETE /v2/<name>/blobs/uploads/<uuid>                cancel (204)
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import type { Algorithm, Digest } from '../../main/digest.js';
import { DigestMismatch, SizeLimitExceeded } from '../../main/storage/blobs.js';
import { WriterGone } from '../../main/storage/driver.js';
import { oci } from './errors.js';
import { HttpError, methodNotAllowed } from '../../main/errors.js';
import { checkDigest, checkName } from './names.js';
import { hasBlob, linkBlob } from './layer-links.js';
import { parseChunkRange, uploadedRange } from './content-range.js';
import { ChunkLengthMismatch } from './upload-file.js';
import { SessionBusy, TooManySessions, UploadSessions, type UploadSession } from './upload-sessions.js';

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
  const sessions = new UploadSessions(ctx.storage, limits, ctx.log, ctx.metrics);
  // One upload is capped by the session size limit and the server's body limit, whichever is lower.
  const maxBytes = Math.min(cfg.max_upload_session_size_mb, ctx.config.server.body_limit_mb) * MiB;
  await sessions.start();

  const uploadUrl = (s: UploadSession) => `/v2/${s.name}/blobs/uploads/${s.uuid}`;
  const blobUrl = (name: string, d: string) => `/v2/${name}/blobs/${d}`;

  function progressHeaders(reply: Reply, s: UploadSession): Reply {
    return reply
      .header('Location', uploadUrl(s))
      .header('Range', uploadedRange(s.file.size))
      .header('Docker-Upload-UUID', s.uuid);
  }

  function created(reply: Reply, name: string, digest: string): void {
    reply.status(201).header('Location', blobUrl(name, digest)).header('Docker-Content-Digest', digest).send();
  }

  async function newSession(req: Req, reply: Reply, name: string, algorithms: Algorithm[]): Promise<UploadSession> {
    try {
      return await sessions.create(name, req.clientIp, algorithms);
    } catch (e) {
      if (!(e instanceof TooManySessions)) throw e;
      // Jittered so clients turned away together do not all come back together.
      throw new HttpError('TOO_MANY_REQUESTS', e.message, { headers: { 'Retry-After': String(3 + Math.floor(Math.random() * 8)) } });
    }
  }

  function lookup(name: string, uuid: string): UploadSession {
    const s = sessions.get(uuid, name);
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
    if (r.start !== s.file.size) {
      throw oci('BLOB_UPLOAD_INVALID', `chunk must start at byte ${s.file.size}`, { 'content-range': header }, 'RANGE_NOT_SATISFIABLE');
    }
    if (req.contentLength !== null && req.contentLength !== length) {
      throw oci('SIZE_INVALID', 'Content-Length does not match Content-Range');
    }
    return length;
  }

  /** Streams the request body onto the session; the caller holds the session exclusively. */
  async function appendBody(req: Req, s: UploadSession, exact: number | null): Promise<void> {
    const room = maxBytes - s.file.size;
    if ((req.contentLength ?? 0) > room || (exact ?? 0) > room) throw tooLarge(s);
    try {
      await s.file.append(req.body, room, exact ?? undefined);
    } catch (e) {
      if (e instanceof SizeLimitExceeded) throw tooLarge(s);
      if (e instanceof ChunkLengthMismatch) throw oci('SIZE_INVALID', e.message);
      if (e instanceof WriterGone) {
        await sessions.close(s);
        throw unknownUpload(s.uuid);
      }
      throw e;
    }
    if (s.closed) throw unknownUpload(s.uuid); // cancelled or expired meanwhile
  }

  function tooLarge(s: UploadSession) {
    return oci('SIZE_INVALID', `upload exceeds ${maxBytes} bytes`, { uuid: s.uuid }, 'TOO_LARGE');
  }

  /** Verifies the whole upload against `d`, moves it into the store and links it into the repository. */
  async function finish(s: UploadSession, d: Digest): Promise<string> {
    let committed = false;
    try {
      const counter = await s.file.counterFor(d.algorithm);
      if (s.closed) throw unknownUpload(s.uuid);
      const result = await ctx.blobs.commitHashed(s.file.writer, counter, d);
      committed = true;
      await linkBlob(ctx, s.name, d);
      return result.digest;
    } catch (e) {
      if (e instanceof DigestMismatch) {
        throw oci('DIGEST_INVALID', 'provided digest did not match uploaded content', { expected: e.expected, computed: e.actual });
      }
      throw e;
    } finally {
      // Verified or not, a finished session is over (commitHashed committed or cancelled its writer).
      await sessions.close(s, !committed);
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
      // Single-request upload: the body is the whole blob.
      const d = checkDigest(digest);
      const s = await newSession(req, reply, name, [d.algorithm]);
      let stored: string;
      try {
        stored = await sessions.exclusive(s, async () => {
          await appendBody(req, s, null);
          return finish(s, d);
        });
      } catch (e) {
        await sessions.close(s);
        throw e;
      }
      return created(reply, name, stored);
    }

    const algorithms: Algorithm[] = [];
    const alg = req.query.get('digest-algorithm');
    if (alg !== null) {
      if (alg !== 'sha256' && alg !== 'sha512') throw oci('DIGEST_INVALID', 'unsupported digest algorithm', { algorithm: alg.slice(0, 50) });
      algorithms.push(alg);
    }
    const s = await newSession(req, reply, name, algorithms);
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
      await appendBody(req, s, expected);
      return finish(s, d);
    });
    created(reply, s.name, stored);
  }

  async function session(req: Req, reply: Reply, name: string, uuid: string): Promise<void> {
    const s = lookup(name, uuid);
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
          await sessions.close(s);
          return reply.status(204).header('Docker-Upload-UUID', s.uuid).send();
        default:
          throw methodNotAllowed('GET, HEAD, PATCH, PUT, DELETE');
      }
    } catch (e) {
      // Whatever went wrong, a session that is still open tells the client where it stands.
      if (!s.closed && !reply.done) progressHeaders(reply, s);
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
