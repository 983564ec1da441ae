// S3 driver (storage.mode = "s3"): AWS S3, Ceph RADOS Gateway and other stores
// with conditional writes, through @aws-sdk/client-s3.
//
//   put            PutObject; If-None-Match: * creates once, If-Match swaps an ETag
//   writer         a multipart upload under .nora-tmp/ (bounded parts in flight);
//                  commit completes it there and copies it to its key server-side,
//                  so nothing is visible at the key before the whole object is
//   reader         one GET (size, version and the bytes from 0), then ranged GETs
//                  behind RangedReader on a jump, pinned to the ETag read first
//   presignGet     a GetObject URL signed here (SigV4 query), for a client to fetch
//   list / walk    ListObjectsV2 (with the '/' delimiter for one level)
//   deletePrefix   DeleteObjects in batches of 1000
//   sweep          aborts multipart uploads and removes staging objects under
//                  .nora-tmp/ that nobody touched for maxAgeMs
//
// A version is the ETag plus the write stamp every write puts in the object's
// metadata (x-amz-meta-t): a touch (CopyObject onto itself) keeps the ETag, and
// S3's LastModified has only whole seconds. Listings carry no metadata, so a
// walked version is the ETag plus LastModified; gc compares those only on old
// objects, which a touch moves to the current second.
//
// Keys starting with ".nora-" are hidden from listings (as NORA hides them).
import { randomBytes } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable, Writable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { checkKey, checkPrefix } from '../keys.js';
import { RangedReader } from '../ranged-reader.js';
import { ObjectReplaced, WriterGone, isStale, type AppendOptions, type Condition, type ListOptions, type ListPage, type ObjectEntry, type ObjectInfo, type ObjectReader, type ObjectWriter, type StorageDriver } from '../driver.js';
import type { Metrics } from '../../metrics.js';

export interface S3Settings {
  url: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  region: string;
  /** true: the endpoint names the bucket already (no path-style /bucket) */
  virtualHosted: boolean;
  /** a key prefix inside the bucket ('' or ending in '/'): tokens live under their own */
  root?: string;
  /** connections to the store at most (keep-alive pool) */
  maxSockets?: number;
  /** bytes per multipart part (S3's minimum is 5 MiB) */
  partSize?: number;
}

const HIDDEN = '.nora-';
const TMP = '.nora-tmp/';
/** Writers: multipart uploads and staging objects. */
const WRITERS = `${TMP}w/`;
/** Touch stamps of writers (metadata t of an empty object). */
const TOUCHED = `${TMP}touched/`;
const EMPTY = Buffer.alloc(0);
const MIN_PART = 5 * 1024 * 1024;
const DEFAULT_PART = 8 * 1024 * 1024;
/** Part uploads in flight per writer, beside the part being filled. */
const PARTS_IN_FLIGHT = 2;
/** Part buffers kept for reuse across writers. */
const POOL_MAX = 8;

/** The store's answer, for errors the SDK raises. */
function status(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}
const isMissing = (e: unknown) => status(e) === 404 || ['NoSuchKey', 'NotFound', 'NoSuchUpload'].includes((e as Error)?.name);
const isPrecondition = (e: unknown) => status(e) === 412 || (e as Error)?.name === 'PreconditionFailed' || status(e) === 409;

let stampSeq = 0;
/** A write stamp: wall-clock ms (modifiedMs) plus a per-process counter and random tail (uniqueness). */
function stamp(): string {
  return `${Date.now()}.${(++stampSeq).toString(36)}${randomBytes(3).toString('hex')}`;
}
const stampMs = (t: string | undefined) => (t ? Number(t.slice(0, t.indexOf('.'))) : NaN);

export class S3Driver implements StorageDriver {
  readonly name = 's3';
  readonly client: S3Client;
  /** the Bucket parameter of every command: the name, or (virtual-hosted) the endpoint itself */
  readonly bucket: string;
  private readonly root: string;
  readonly partSize: number;
  private readonly pool: Buffer[] = [];
  /** writers of this process, for exact touch times and WriterGone after a sweep */
  private readonly mine = new Map<string, S3Writer>();
  private observe: ((op: string, ms: number, failed: boolean) => void) | null = null;
  private readonly endpoint: URL;
  private presigner: S3RequestPresigner | null = null;

  constructor(readonly settings: S3Settings) {
    this.bucket = settings.virtualHosted ? settings.url : settings.bucket;
    this.endpoint = new URL(settings.url);
    this.root = settings.root ?? '';
    this.partSize = Math.max(MIN_PART, settings.partSize ?? DEFAULT_PART);
    const maxSockets = settings.maxSockets ?? 256;
    const config: S3ClientConfig = {
      endpoint: settings.url,
      region: settings.region,
      forcePathStyle: !settings.virtualHosted,
      bucketEndpoint: settings.virtualHosted,
      // Standard retries: exponential backoff with jitter on 5xx, throttling and dropped connections.
      maxAttempts: 4,
      // Checksums only where S3 demands them (DeleteObjects): CRC32 in JavaScript on every part
      // would hash on the event loop; blobs carry their own digest, checked while streaming.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: new NodeHttpHandler({
        httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
        httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
        connectionTimeout: 5000,
        requestTimeout: 120_000,
      }),
    };
    if (settings.accessKey || settings.secretKey) {
      config.credentials = { accessKeyId: settings.accessKey, secretAccessKey: settings.secretKey };
    } else {
      // No keys: unsigned requests, as NORA sends them (AWS_* variables are not read).
      config.credentials = { accessKeyId: '', secretAccessKey: '' };
      config.signer = { sign: async (r) => r };
    }
    this.client = new S3Client(config);
    // The payload is not hashed for the signature (UNSIGNED-PAYLOAD): SHA-256 of every
    // part on the event loop would block it; blob digests are verified by the registry.
    this.client.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { headers?: Record<string, string> };
        if (req.headers) req.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        return next(args);
      },
      { step: 'build', name: 'noraUnsignedPayload' },
    );
  }

  /** Storage latency and errors per operation on /metrics. */
  instrument(metrics: Metrics): void {
    const bounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    const hist = new Map<string, (v: number) => void>();
    const errors = metrics.counterFamily('nora_storage_errors_total', ['operation']);
    metrics.describe('nora_storage_errors_total', 'Object store requests that failed (after retries), per operation');
    this.observe = (op, ms, failed) => {
      let h = hist.get(op);
      if (!h) {
        metrics.describe(`nora_storage_seconds_${op}`, `Object store ${op} latency in seconds`);
        hist.set(op, (h = metrics.histogram(`nora_storage_seconds_${op}`, bounds)));
      }
      h(ms / 1000);
      if (failed) errors(op);
    };
  }

  /** One store request, timed and counted by operation (its command's name). */
  async send<T = unknown>(command: object): Promise<T> {
    const started = performance.now();
    let failed = false;
    try {
      return (await this.client.send(command as never)) as T;
    } catch (e) {
      failed = !isMissing(e) && !isPrecondition(e);
      throw e;
    } finally {
      this.observe?.(command.constructor.name.replace(/Command$/, '').toLowerCase(), performance.now() - started, failed);
    }
  }

  /** Start-up check: the bucket exists and the keys may use it; errors name the setting. */
  async init(): Promise<void> {
    try {
      await this.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (e) {
      const s = status(e);
      if (s === 404) throw new S3SetupError('storage.bucket', `bucket "${this.settings.bucket}" does not exist at ${this.settings.url}`);
      if (s === 403 || s === 401)
        throw new S3SetupError('storage.s3_access_key', `access to bucket "${this.settings.bucket}" denied: check storage.s3_access_key / storage.s3_secret_key (NORA_STORAGE_S3_ACCESS_KEY / NORA_STORAGE_S3_SECRET_KEY)`);
      if (s !== undefined) throw new Error(`object store at storage.s3_url ${this.settings.url} answered HTTP ${s} for bucket "${this.settings.bucket}"`);
      throw new Error(`object store unreachable at storage.s3_url ${this.settings.url} (NORA_STORAGE_S3_URL): ${(e as Error).message || (e as Error).name}`);
    }
  }

  close(): void {
    this.client.destroy();
  }

  // ---- keys

  private k(key: string): string {
    return this.root + checkKey(key);
  }

  /** The list prefix in the bucket: root + 'a/b/' (or the root itself). */
  private p(prefix: string): string {
    return checkPrefix(prefix) === '' ? this.root : `${this.root}${prefix}/`;
  }

  /** A copy source: bucket/key, each segment URL-encoded. */
  copySource(bucketKey: string): string {
    return `${this.settings.bucket}/${bucketKey.split('/').map(encodeURIComponent).join('/')}`;
  }

  // ---- part buffers

  takeBuffer(): Buffer {
    return this.pool.pop() ?? Buffer.allocUnsafeSlow(this.partSize);
  }

  giveBuffer(b: Buffer): void {
    if (this.pool.length < POOL_MAX) this.pool.push(b);
  }

  // ---- objects

  private info(h: { ETag?: string; ContentLength?: number; LastModified?: Date; Metadata?: Record<string, string> }): ObjectInfo & { listed: string } {
    const t = h.Metadata?.t;
    const ms = stampMs(t);
    return {
      size: h.ContentLength ?? 0,
      modifiedMs: Number.isFinite(ms) ? ms : (h.LastModified?.getTime() ?? 0),
      version: versionOf(h.ETag ?? '', t, h.LastModified),
      listed: listedVersion(h.ETag ?? '', h.LastModified),
    };
  }

  /** HEAD by bucket key; `listed` is the version a listing shows of it. */
  async head(bucketKey: string): Promise<(ObjectInfo & { listed: string }) | null> {
    try {
      return this.info(await this.send(new HeadObjectCommand({ Bucket: this.bucket, Key: bucketKey })));
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const st = await this.head(this.k(key));
    return st && { size: st.size, modifiedMs: st.modifiedMs, version: st.version };
  }

  /** One GET tells the size and version and brings the bytes from 0 (no HEAD before it). */
  async reader(key: string): Promise<ObjectReader | null> {
    const k = this.k(key);
    try {
      const r = await this.send<{ Body?: unknown; ETag?: string; ContentLength?: number; LastModified?: Date; Metadata?: Record<string, string> }>(
        new GetObjectCommand({ Bucket: this.bucket, Key: k }),
      );
      return this.rangedReader(k, this.info(r), r.Body as Readable);
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  /**
   * A presigned GetObject of exactly this key: the query string carries the
   * access key id and a SigV4 signature, never the secret. It names no version
   * (a presigned If-Match would be a header the client must send): callers
   * presign content-addressed keys, whose bytes never change.
   */
  async presignGet(key: string, expirySecs: number): Promise<string> {
    const bucketKey = this.k(key);
    // The request is built here and only signed: getSignedUrl would run the client's whole
    // middleware stack and endpoint rules, ~3 ms of event-loop time per URL (measured).
    this.presigner ??= new S3RequestPresigner({
      credentials: { accessKeyId: this.settings.accessKey, secretAccessKey: this.settings.secretKey },
      region: this.settings.region,
      sha256: this.client.config.sha256,
    });
    const u = this.endpoint;
    // path-style: <endpoint path>/<bucket>/<key>; virtual-hosted: the endpoint names the bucket
    const bucketPath = this.settings.virtualHosted ? '' : `/${encodeURIComponent(this.bucket)}`;
    const path = `${u.pathname.replace(/\/$/, '')}${bucketPath}/${bucketKey.split('/').map(encodeURIComponent).join('/')}`;
    const signed = await this.presigner.presign(
      { method: 'GET', protocol: u.protocol, hostname: u.hostname, port: u.port ? Number(u.port) : undefined, path, query: { 'response-content-type': 'application/octet-stream' }, headers: { host: u.host } },
      { expiresIn: expirySecs },
    );
    const query = Object.entries(signed.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
    return `${u.protocol}//${u.host}${path}?${query.join('&')}`;
  }

  /** Reads one version: every range asks for the ETag seen first (412 once replaced). */
  rangedReader(bucketKey: string, st: ObjectInfo, first?: Readable): ObjectReader {
    const etag = etagOf(st.version);
    return new RangedReader(st.size, st.version, async (start) => {
      try {
        const r = await this.send<{ Body?: unknown }>(
          new GetObjectCommand({ Bucket: this.bucket, Key: bucketKey, Range: `bytes=${start}-`, IfMatch: etag }),
        );
        return r.Body as Readable;
      } catch (e) {
        // Without bucket versioning the bytes read so far are gone: never mix two versions.
        if (isPrecondition(e) || isMissing(e)) throw new ObjectReplaced();
        throw e;
      }
    }, first);
  }

  async get(key: string): Promise<{ data: Buffer; version: string } | null> {
    try {
      const r = await this.send<{ Body?: { transformToByteArray(): Promise<Uint8Array> }; ETag?: string; ContentLength?: number; LastModified?: Date; Metadata?: Record<string, string> }>(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.k(key) }),
      );
      const bytes = await r.Body!.transformToByteArray();
      return { data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), version: this.info(r).version };
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  async put(key: string, data: string | Buffer, condition?: Condition): Promise<string | null> {
    const t = stamp();
    const body = typeof data === 'string' ? Buffer.from(data) : data;
    try {
      const r = await this.send<{ ETag?: string }>(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.k(key),
          Body: body,
          ContentLength: body.length,
          Metadata: { t },
          IfNoneMatch: condition && 'ifAbsent' in condition ? '*' : undefined,
          IfMatch: condition && 'ifMatch' in condition ? etagOf(condition.ifMatch) : undefined,
        }),
      );
      return versionOf(r.ETag ?? '', t);
    } catch (e) {
      // If-Match on an absent key: 404 from some stores, 412 from others.
      if (condition && (isPrecondition(e) || isMissing(e))) return null;
      throw e;
    }
  }

  async writer(_tag: string): Promise<ObjectWriter> {
    const w = new S3Writer(this, this.root, stamp());
    await w.start();
    this.mine.set(w.bucketKey, w);
    return w;
  }

  forget(w: S3Writer): void {
    this.mine.delete(w.bucketKey);
  }

  owns(w: S3Writer): boolean {
    return this.mine.get(w.bucketKey) === w;
  }

  /** Server-side copy by bucket keys with a fresh write stamp; false when src is absent. */
  async copyKey(src: string, dst: string): Promise<boolean> {
    try {
      await this.send(
        new CopyObjectCommand({ Bucket: this.bucket, Key: dst, CopySource: this.copySource(src), MetadataDirective: 'REPLACE', Metadata: { t: stamp() } }),
      );
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  async copy(src: string, dst: string): Promise<boolean> {
    const s = this.k(src);
    return this.copyKey(s, this.k(dst));
  }

  /** A copy onto itself: same bytes and ETag, a new stamp (and LastModified). */
  async touch(key: string): Promise<boolean> {
    const k = this.k(key);
    return this.copyKey(k, k);
  }

  async delete(key: string, opts: { ifMatch?: string } = {}): Promise<boolean> {
    const k = this.k(key);
    // DELETE answers 204 whether or not the key exists (and ignores If-Match on RGW): HEAD first.
    const st = await this.head(k);
    // A walked version (gc's) has no stamp: it is compared as a listing shows the object.
    if (!st || (opts.ifMatch !== undefined && opts.ifMatch !== st.version && opts.ifMatch !== st.listed)) return false;
    await this.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: k }));
    return true;
  }

  async deletePrefix(prefix: string): Promise<void> {
    const k = this.k(prefix);
    const batch: string[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await this.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      batch.length = 0;
    };
    if (await this.head(k)) batch.push(k);
    for await (const o of this.objects(`${k}/`)) {
      batch.push(o.Key);
      if (batch.length === 1000) await flush();
    }
    await flush();
  }

  /** Every object under a bucket prefix (all levels), in key order. */
  async *objects(prefix: string): AsyncIterable<{ Key: string; Size?: number; LastModified?: Date; ETag?: string }> {
    for (let token: string | undefined; ; ) {
      const page = await this.send<{ Contents?: { Key?: string; Size?: number; LastModified?: Date; ETag?: string }[]; IsTruncated?: boolean; NextContinuationToken?: string }>(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) yield o as { Key: string };
      if (!page.IsTruncated || !page.NextContinuationToken) return;
      token = page.NextContinuationToken;
    }
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListPage> {
    const p = this.p(prefix);
    const limit = opts.limit ?? Infinity;
    const names = new Set<string>();
    const after = opts.after;
    let pos = '';
    for (let token: string | undefined; ; ) {
      const page = await this.send<{ Contents?: { Key?: string }[]; CommonPrefixes?: { Prefix?: string }[]; IsTruncated?: boolean; NextContinuationToken?: string }>(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: p,
          Delimiter: '/',
          StartAfter: token === undefined && after !== undefined ? p + after : undefined,
          ContinuationToken: token,
          MaxKeys: Number.isFinite(limit) ? Math.min(1000, limit + 1) : 1000,
        }),
      );
      const add = (full: string, isPrefix: boolean) => {
        if (full > pos) pos = full;
        const name = full.slice(p.length, isPrefix ? -1 : undefined);
        if (p === this.root && name.startsWith(HIDDEN)) return;
        if ((isPrefix || !opts.prefixesOnly) && (after === undefined || name > after)) names.add(name);
      };
      for (const c of page.Contents ?? []) add(c.Key!, false);
      for (const c of page.CommonPrefixes ?? []) add(c.Prefix!, true);
      if (!page.IsTruncated || !page.NextContinuationToken) break;
      token = page.NextContinuationToken;
      if (names.size > limit && settled([...names].sort()[limit]!, p, pos)) break;
    }
    const sorted = [...names].sort();
    return { names: sorted.slice(0, limit), more: sorted.length > limit };
  }

  async *walk(prefix: string): AsyncIterable<ObjectEntry> {
    const p = this.p(prefix);
    for await (const o of this.objects(p)) {
      if (p === this.root && o.Key.startsWith(this.root + HIDDEN)) continue;
      yield {
        key: o.Key.slice(this.root.length),
        size: o.Size ?? 0,
        modifiedMs: o.LastModified?.getTime() ?? 0,
        version: versionOf(o.ETag ?? '', undefined, o.LastModified),
      };
    }
  }

  /** When a writer was last touched: this process knows its own; others left a stamp. */
  private async touchedMs(bucketKey: string): Promise<number> {
    const own = this.mine.get(bucketKey);
    if (own) return own.touchedMs;
    const id = bucketKey.slice(bucketKey.lastIndexOf('/') + 1);
    const st = await this.head(`${this.root}${TOUCHED}${id}`);
    return Math.max(stampMs(id), st?.modifiedMs ?? 0);
  }

  async sweep(maxAgeMs: number, opts: { dryRun?: boolean } = {}): Promise<number> {
    const now = Date.now();
    const expired = new Set<string>();
    const uploads: { Key: string; UploadId: string }[] = [];
    for (let keyMarker: string | undefined, idMarker: string | undefined; ; ) {
      const page = await this.send<{ Uploads?: { Key?: string; UploadId?: string }[]; IsTruncated?: boolean; NextKeyMarker?: string; NextUploadIdMarker?: string }>(
        new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.root + WRITERS, KeyMarker: keyMarker, UploadIdMarker: idMarker }),
      );
      for (const u of page.Uploads ?? []) uploads.push({ Key: u.Key!, UploadId: u.UploadId! });
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      idMarker = page.NextUploadIdMarker;
    }
    for (const u of uploads) if (isStale(await this.touchedMs(u.Key), maxAgeMs, now)) expired.add(u.Key);
    const staged: string[] = [];
    for await (const o of this.objects(this.root + WRITERS)) {
      if (isStale(await this.touchedMs(o.Key), maxAgeMs, now)) {
        expired.add(o.Key);
        staged.push(o.Key);
      }
    }
    if (opts.dryRun) return expired.size;
    for (const u of uploads) {
      if (!expired.has(u.Key)) continue;
      await this.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId })).catch((e) => {
        if (!isMissing(e)) throw e;
      });
    }
    for (const key of expired) {
      this.mine.get(key)?.gone();
      this.mine.delete(key);
      const id = key.slice(key.lastIndexOf('/') + 1);
      const doomed = [`${this.root}${TOUCHED}${id}`, ...(staged.includes(key) ? [key] : [])];
      await this.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: doomed.map((Key) => ({ Key })), Quiet: true } }));
    }
    return expired.size;
  }

  /** /ready: a small write and read-back under .nora-tmp/ with a short deadline; never throws. */
  async probe(): Promise<boolean> {
    const key = `${this.root}${TMP}probe`;
    try {
      const signal = AbortSignal.timeout(3000);
      const body = stamp();
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body }), { abortSignal: signal });
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
      return (await r.Body!.transformToString()) === body;
    } catch {
      return false;
    }
  }
}

/** A start-up problem that is the operator's setting (exit 2). */
export class S3SetupError extends Error {
  constructor(readonly key: string, message: string) {
    super(message);
  }
}

/** version = ETag/stamp, or ETag@LastModified's second (listings carry no metadata; HEAD has whole seconds). */
function versionOf(etag: string, t: string | undefined, lastModified?: Date): string {
  return t ? `${etag}/${t}` : listedVersion(etag, lastModified);
}
function listedVersion(etag: string, lastModified?: Date): string {
  return `${etag}@${Math.floor((lastModified?.getTime() ?? 0) / 1000)}`;
}

/** The ETag of a version, as If-Match wants it: RGW 16 matches only the bare value, without quotes. */
function etagOf(version: string): string {
  const cut = version.search(/[/@]/);
  return (cut < 0 ? version : version.slice(0, cut)).replaceAll('"', '');
}


/**
 * With '/' as delimiter S3 orders "a-b/" before "a/" ('-' sorts before '/'),
 * while names sort "a" before "a-b". The first `limit` names are final once
 * the listing has passed every key that could still yield a smaller name:
 * the shortest prefix of `cut` ending before a character below '/'.
 */
function settled(cut: string, p: string, pos: string): boolean {
  const i = [...cut].findIndex((c) => c < '/');
  return i < 0 || pos >= `${p}${cut.slice(0, i)}/`;
}

class S3Writer implements ObjectWriter {
  size = 0;
  touchedMs = Date.now();
  readonly bucketKey: string;
  /** bytes accepted, the running append's included */
  private written = 0;
  private uploadId = '';
  /** parts uploaded (1-based part numbers) */
  private parts: { PartNumber: number; ETag: string }[] = [];
  /** the part being filled */
  private open: Buffer | null = null;
  private openLen = 0;
  private inFlight = new Set<Promise<void>>();
  private failure: Error | null = null;
  private dead = false;
  /** complete into bucketKey already (for reader()); appends start a new upload from it */
  private staged: ObjectInfo | null = null;
  /** the open part when the running append began, to roll back to */
  private snapshot: { parts: number; open: Buffer | null; openLen: number; size: number } | null = null;

  constructor(
    private readonly d: S3Driver,
    private readonly root: string,
    private readonly id: string,
  ) {
    this.bucketKey = `${root}${WRITERS}${id}`;
  }

  async start(): Promise<void> {
    const r = await this.d.send<{ UploadId?: string }>(new CreateMultipartUploadCommand({ Bucket: this.d.bucket, Key: this.bucketKey }));
    this.uploadId = r.UploadId!;
  }

  gone(): void {
    this.dead = true;
    this.release();
  }

  private check(): void {
    if (this.dead || !this.d.owns(this)) throw new WriterGone();
  }

  private release(): void {
    if (this.open) this.d.giveBuffer(this.open);
    if (this.snapshot?.open && this.snapshot.open !== this.open) this.d.giveBuffer(this.snapshot.open);
    this.open = null;
    this.snapshot = null;
  }

  private uploadPart(body: Buffer, length: number, keep: boolean): Promise<void> {
    const n = this.parts.length + this.inFlight.size + 1;
    const slot = { PartNumber: n, ETag: '' };
    const p = this.d
      .send<{ ETag?: string }>(
        new UploadPartCommand({ Bucket: this.d.bucket, Key: this.bucketKey, UploadId: this.uploadId, PartNumber: n, Body: body.subarray(0, length), ContentLength: length }),
      )
      .then(
        (r) => {
          slot.ETag = r.ETag ?? '';
          this.parts.push(slot);
        },
        (e) => {
          this.failure ??= isMissing(e) ? new WriterGone() : (e as Error);
        },
      )
      .finally(() => {
        this.inFlight.delete(p);
        if (!keep) this.d.giveBuffer(body);
      });
    this.inFlight.add(p);
    return p;
  }

  private async settle(): Promise<void> {
    while (this.inFlight.size) await Promise.all(this.inFlight);
    this.parts.sort((a, b) => a.PartNumber - b.PartNumber);
    if (this.failure) {
      const f = this.failure;
      this.failure = null;
      throw f;
    }
  }

  /** After reader(): a new upload whose first part is the staging object (or its bytes, when small). */
  private async unstage(): Promise<void> {
    const st = this.staged!;
    this.staged = null;
    await this.start();
    this.parts = [];
    if (st.size >= MIN_PART) {
      const r = await this.d.send<{ CopyPartResult?: { ETag?: string } }>(
        new UploadPartCopyCommand({ Bucket: this.d.bucket, Key: this.bucketKey, UploadId: this.uploadId, PartNumber: 1, CopySource: this.d.copySource(this.bucketKey) }),
      );
      this.parts.push({ PartNumber: 1, ETag: r.CopyPartResult?.ETag ?? '' });
    } else if (st.size > 0) {
      const r = this.d.rangedReader(this.bucketKey, st);
      this.open = this.d.takeBuffer();
      this.openLen = 0;
      // Reads may be short: loop to the end.
      for (let n = -1; n !== 0 && this.openLen < st.size; this.openLen += n) n = (await r.read(this.open, this.openLen, st.size - this.openLen, this.openLen)).bytesRead;
      await r.close();
    }
  }

  append(opts: AppendOptions = {}): Writable {
    return new Writable({
      highWaterMark: opts.highWaterMark,
      construct: (cb) => {
        (async () => {
          this.check();
          if (this.staged) await this.unstage();
          this.snapshot = { parts: this.parts.length, open: this.open, openLen: this.openLen, size: this.size };
          this.written = this.size;
        })().then(() => cb(), cb);
      },
      write: (chunk: Buffer, _enc, cb) => {
        try {
          this.check();
        } catch (e) {
          return cb(e as Error);
        }
        let off = 0;
        let wait: Promise<void> | null = null;
        while (off < chunk.length) {
          this.open ??= this.d.takeBuffer();
          const n = Math.min(this.d.partSize - this.openLen, chunk.length - off);
          chunk.copy(this.open, this.openLen, off, off + n);
          this.openLen += n;
          this.written += n;
          off += n;
          if (this.openLen === this.d.partSize) {
            // The snapshot's buffer holds bytes a rollback re-uploads: keep it until the append ends.
            wait = this.uploadPart(this.open, this.openLen, this.open === this.snapshot?.open);
            this.open = null;
            this.openLen = 0;
          }
        }
        opts.release?.(chunk);
        this.touchedMs = Date.now();
        if (this.failure) return cb(this.failure);
        // Backpressure: at most PARTS_IN_FLIGHT uploads beside the part being filled.
        if (wait && this.inFlight.size >= PARTS_IN_FLIGHT) Promise.race(this.inFlight).then(() => cb(this.failure), cb);
        else cb();
      },
      final: (cb) => {
        this.settle().then(() => {
          const snap = this.snapshot;
          if (snap?.open && snap.open !== this.open) this.d.giveBuffer(snap.open);
          this.snapshot = null;
          this.size = this.written;
          cb();
        }, cb);
      },
    });
  }

  async truncate(size: number): Promise<void> {
    await this.settle().catch(() => undefined);
    const snap = this.snapshot;
    if (snap && size === snap.size) {
      // Back to the moment the failed append began: its parts are re-uploaded (same numbers) later.
      if (this.open && this.open !== snap.open) this.d.giveBuffer(this.open);
      this.parts.length = snap.parts;
      this.open = snap.open;
      this.openLen = snap.openLen;
      this.snapshot = null;
      this.size = this.written = size;
      return;
    }
    const partStart = this.written - this.openLen;
    if (size >= this.size) return;
    if (size < partStart) throw new Error(`S3 writer cannot truncate into an uploaded part (${size} < ${partStart})`);
    this.openLen = size - partStart;
    this.size = this.written = size;
  }

  /** Uploads what is buffered and completes the upload into the staging object. */
  private async complete(): Promise<ObjectInfo> {
    this.check();
    if (this.staged) return this.staged;
    await this.settle();
    if (this.openLen > 0 || this.parts.length === 0) {
      // The last part may be short (or empty, for an empty object).
      this.open ??= this.d.takeBuffer();
      await this.uploadPart(this.open, this.openLen, true);
      await this.settle();
      this.d.giveBuffer(this.open);
      this.open = null;
      this.openLen = 0;
    }
    try {
      await this.d.send(
        new CompleteMultipartUploadCommand({ Bucket: this.d.bucket, Key: this.bucketKey, UploadId: this.uploadId, MultipartUpload: { Parts: this.parts } }),
      );
    } catch (e) {
      if (isMissing(e)) throw new WriterGone();
      throw e;
    }
    this.parts = [];
    // RGW answers CompleteMultipartUpload with an empty ETag: read the object's.
    const st = await this.d.head(this.bucketKey);
    if (!st) throw new WriterGone();
    this.staged = st;
    return st;
  }

  async reader(): Promise<ObjectReader> {
    const st = await this.complete();
    return this.d.rangedReader(this.bucketKey, st);
  }

  async touch(): Promise<void> {
    await this.d.send(new PutObjectCommand({ Bucket: this.d.bucket, Key: `${this.root}${TOUCHED}${this.id}`, Body: EMPTY, ContentLength: 0, Metadata: { t: stamp() } }));
    this.touchedMs = Date.now();
  }

  async commit(key: string): Promise<void> {
    const target = this.root + checkKey(key);
    await this.complete();
    if (!(await this.d.copyKey(this.bucketKey, target))) throw new WriterGone();
    await this.finish();
  }

  /** Removes the staging object and the touch stamp. */
  private async finish(): Promise<void> {
    this.d.forget(this);
    this.dead = true;
    this.release();
    await this.d.send(
      new DeleteObjectsCommand({ Bucket: this.d.bucket, Delete: { Objects: [{ Key: this.bucketKey }, { Key: `${this.root}${TOUCHED}${this.id}` }], Quiet: true } }),
    );
  }

  async cancel(): Promise<void> {
    if (this.dead) return;
    await this.settle().catch(() => undefined);
    if (!this.staged) {
      await this.d.send(new AbortMultipartUploadCommand({ Bucket: this.d.bucket, Key: this.bucketKey, UploadId: this.uploadId })).catch((e) => {
        if (!isMissing(e)) throw e;
      });
    }
    await this.finish();
  }
}
