// twine's legacy upload API: a multipart POST with `:action=file_upload`,
// `name`, `version`, the file in `content` and its digests. The file streams to
// a storage writer while sha256/md5 (and BLAKE2b-256 when announced) are
// computed; only after every check passes is it committed into the blob store
// and recorded.
// A file name, once stored, is immutable (409, which `twine --skip-existing`
// understands).
import { createHash, type Hash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ObjectReader, ObjectWriter } from '../../main/storage/driver.js';
import type { Context } from '../../main/protocol.js';
import { BodyTooLarge, type Reply, type Req } from '../../main/http/types.js';
import { parseDigest } from '../../main/digest.js';
import { HttpError } from '../../main/errors.js';
import { requireWrite } from '../../main/auth/gate.js';
import { boundaryOf, MultipartError, parseMultipart, type PartSink } from './multipart.js';
import { belongsTo, filenameProblem, isValidProject, normalize } from './normalize.js';
import { Blake2b } from './blake2b.js';
import { wheelMetadata, WheelError } from './metadata.js';
import type { FileRecord, PypiStore } from './store.js';

/** All text fields together (a long description is the big one). */
const FIELD_LIMIT = 16 * 1024 * 1024;
/** Bytes hashed by BLAKE2b between two turns of the event loop (about 1 ms). */
const BLAKE_SLICE = 64 * 1024;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.+!_-]{0,127}$/;

/** The uploaded distribution, on its way into a storage writer. */
class UploadFile implements PartSink {
  readonly sha256: Hash = createHash('sha256');
  readonly md5: Hash = createHash('md5');
  blake: Blake2b | null;
  size = 0;
  private readonly out: Writable;
  private readonly done: Promise<void>;

  private constructor(readonly writer: ObjectWriter, withBlake: boolean) {
    this.blake = withBlake ? new Blake2b(32) : null;
    this.out = writer.append();
    this.done = finished(this.out);
    this.done.catch(() => {}); // seen by write()/end()
  }

  static async create(ctx: Context, withBlake: boolean): Promise<UploadFile> {
    return new UploadFile(await ctx.storage.writer('pypi'), withBlake);
  }

  async write(chunk: Buffer): Promise<void> {
    this.size += chunk.length;
    this.sha256.update(chunk);
    this.md5.update(chunk);
    if (this.blake) {
      // BLAKE2b runs in JavaScript (~50 MB/s): hash in slices and let other requests run in between.
      for (let i = 0; i < chunk.length; i += BLAKE_SLICE) {
        this.blake.update(chunk.subarray(i, i + BLAKE_SLICE));
        if (i + BLAKE_SLICE < chunk.length) await new Promise((r) => setImmediate(r));
      }
    }
    // The parser may reuse the chunk's memory once this returns: wait until it is written.
    await new Promise<void>((resolve, reject) => {
      this.out.write(chunk, (e) => (e ? reject(e) : resolve()));
    });
  }

  async end(): Promise<void> {
    this.out.end();
    await this.done;
  }

  /** Positional reads of the whole upload (wheel METADATA, a late BLAKE2b). */
  reader(): Promise<ObjectReader> {
    return this.writer.reader();
  }

  async discard(): Promise<void> {
    this.out.destroy();
    await this.done.catch(() => {});
    await this.writer.cancel();
  }
}

/** Counts request body bytes against the configured body limit. */
async function* limited(body: Readable, limit: number): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const chunk of body) {
    n += (chunk as Buffer).length;
    if (n > limit) throw new BodyTooLarge(limit);
    yield chunk as Buffer;
  }
}

function checkHex(field: string, value: string | undefined, length: number): string | undefined {
  if (value === undefined || value === '') return undefined;
  const v = value.trim().toLowerCase();
  if (v.length !== length || !/^[0-9a-f]+$/.test(v)) throw new HttpError('BAD_REQUEST', `${field} must be ${length} hex digits`);
  return v;
}

async function blake2Of(file: UploadFile): Promise<string> {
  const h = new Blake2b(32);
  const reader = await file.reader();
  try {
    const buf = Buffer.allocUnsafe(BLAKE_SLICE);
    for (let pos = 0; pos < reader.size; ) {
      const { bytesRead } = await reader.read(buf, 0, Math.min(buf.length, reader.size - pos), pos);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    await reader.close();
  }
  return h.digest().toString('hex');
}

export function createUpload(ctx: Context, store: PypiStore) {
  const limit = ctx.config.server.body_limit_mb * 1024 * 1024;

  return {
    async handle(req: Req, reply: Reply): Promise<void> {
      const boundary = boundaryOf(req.headers['content-type']);
      if (!boundary) throw new HttpError('BAD_REQUEST', 'upload must be multipart/form-data with a boundary');
      if (req.contentLength !== null && req.contentLength > limit) throw new BodyTooLarge(limit);

      const fields = new Map<string, string>();
      let fieldBytes = 0;
      let file: UploadFile | null = null;
      let filename: string | null = null;
      let committed = false;
      const field = (k: string) => fields.get(k);
      // The URL names no project: the gate left a scoped (OIDC) identity's check to here.
      const mayWrite = (norm: string) => requireWrite(ctx.gate, req, 'pypi', norm);

      try {
        await parseMultipart(
          limited(req.body, limit),
          boundary,
          async (info) => {
            if (info.name === 'content' && info.filename !== null) {
              if (file) throw new HttpError('BAD_REQUEST', 'more than one file in the content field');
              const problem = filenameProblem(info.filename);
              if (problem) throw new HttpError('BAD_REQUEST', `invalid file name ${JSON.stringify(info.filename)}: ${problem}`);
              filename = info.filename;
              const name = field('name');
              if (name && isValidProject(name)) {
                // Refuse a duplicate, or a project outside the caller's scope, before receiving its bytes.
                mayWrite(normalize(name));
                const s = await store.read(normalize(name));
                if (s?.files[filename]) throw new HttpError('CONFLICT', `File already exists: ${filename}`);
              }
              file = await UploadFile.create(ctx, fields.has('blake2_256_digest'));
              return file;
            }
            if (info.filename !== null) return { write() {}, end() {} }; // e.g. gpg_signature: not kept
            const parts: Buffer[] = [];
            return {
              write(chunk: Buffer) {
                fieldBytes += chunk.length;
                if (fieldBytes > FIELD_LIMIT) throw new HttpError('TOO_LARGE', 'form fields too large');
                parts.push(Buffer.from(chunk));
              },
              end() {
                // Repeated fields (classifiers, ...) are not needed here; the first value is kept.
                if (!fields.has(info.name)) fields.set(info.name, Buffer.concat(parts).toString('utf8'));
              },
            };
          },
          { maxHeaderBytes: 16 * 1024, maxParts: 10_000 },
        );
      } catch (e) {
        await (file as UploadFile | null)?.discard();
        if (e instanceof MultipartError) throw new HttpError('BAD_REQUEST', `malformed multipart body: ${e.message}`);
        throw e;
      }

      const upload = file as UploadFile | null;
      try {
        const action = field(':action');
        if (action !== 'file_upload') throw new HttpError('BAD_REQUEST', `unsupported :action ${JSON.stringify(action ?? '')}; expected file_upload`);
        const name = field('name')?.trim() ?? '';
        if (!isValidProject(name)) throw new HttpError('BAD_REQUEST', `invalid project name ${JSON.stringify(name)}`);
        const version = field('version')?.trim() ?? '';
        if (!VERSION.test(version)) throw new HttpError('BAD_REQUEST', `invalid version ${JSON.stringify(version)}`);
        if (!upload || filename === null) throw new HttpError('BAD_REQUEST', 'no file in the content field');
        const fname: string = filename;
        const norm = normalize(name);
        mayWrite(norm);
        if (!belongsTo(fname, norm, version)) throw new HttpError('BAD_REQUEST', `${fname} is not a distribution of ${name} ${version}`);

        const sha256 = upload.sha256.digest('hex');
        const md5 = upload.md5.digest('hex');
        const wantSha = checkHex('sha256_digest', field('sha256_digest'), 64);
        const wantMd5 = checkHex('md5_digest', field('md5_digest'), 32);
        const wantBlake = checkHex('blake2_256_digest', field('blake2_256_digest'), 64);
        if (wantSha && wantSha !== sha256) throw new HttpError('BAD_REQUEST', `sha256_digest does not match the uploaded ${fname}`);
        if (wantMd5 && wantMd5 !== md5) throw new HttpError('BAD_REQUEST', `md5_digest does not match the uploaded ${fname}`);
        let blake: string | undefined;
        if (wantBlake) {
          blake = upload.blake ? upload.blake.digest().toString('hex') : await blake2Of(upload);
          if (blake !== wantBlake) throw new HttpError('BAD_REQUEST', `blake2_256_digest does not match the uploaded ${fname}`);
        }
        if (upload.size === 0) throw new HttpError('BAD_REQUEST', `${fname} is empty`);

        let metadata: { data: Buffer; requiresPython: string | null } | null = null;
        if (fname.toLowerCase().endsWith('.whl')) {
          const reader = await upload.reader();
          try {
            metadata = await wheelMetadata(reader, norm);
          } catch (e) {
            if (e instanceof WheelError) throw new HttpError('BAD_REQUEST', `invalid wheel ${fname}: ${e.message}`);
            throw e;
          } finally {
            await reader.close();
          }
        }

        const requiresPython = field('requires_python')?.trim() || metadata?.requiresPython || undefined;
        await store.update(norm, async (cur) => {
          if (cur?.files[fname]) throw new HttpError('CONFLICT', `File already exists: ${fname}`);
          // Content-addressed bytes go in first (only once nothing can refuse the upload);
          // the record that names them is written last.
          const digest = parseDigest(`sha256:${sha256}`)!;
          // An identical stored file is refreshed, not rewritten (and stays safe from a concurrent gc).
          await ctx.blobs.adopt(upload.writer, digest);
          committed = true;
          let metaRecord: FileRecord['metadata'];
          if (metadata) {
            const mhex = createHash('sha256').update(metadata.data).digest('hex');
            await ctx.blobs.putBuffer(metadata.data, parseDigest(`sha256:${mhex}`)!);
            metaRecord = { sha256: mhex, size: metadata.data.length };
          }
          const record: FileRecord = {
            version,
            sha256,
            md5,
            ...(blake ? { blake2_256: blake } : {}),
            size: upload.size,
            uploaded: new Date().toISOString(),
            ...(requiresPython ? { requires_python: requiresPython } : {}),
            ...(metaRecord ? { metadata: metaRecord } : {}),
            yanked: false,
          };
          const state = cur ? structuredClone(cur) : { name, normalized: norm, files: {} };
          state.files[fname] = record;
          return { state, result: undefined };
        });
        reply.status(200).header('Content-Type', 'text/plain; charset=utf-8').send('OK\n');
      } finally {
        if (!committed) await upload?.discard();
      }
    },
  };
}
