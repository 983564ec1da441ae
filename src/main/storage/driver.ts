// The one interface every module stores and reads through, shaped for a disk
// and an object store alike (after CNCF distribution's StorageDriver and zot's
// Driver). Keys are '/'-separated relative names, checked in keys.ts before a
// driver sees them; no filesystem path crosses this interface.
//
// How each call maps onto the drivers:
//   local disk      temp file + fsync + rename + directory fsync; hard links for copy
//   memory (tests)  a Map of immutable buffers
//   S3              PutObject with If-None-Match: * / If-Match, multipart uploads
//                   for writers, ranged GETs behind readers, CopyObject, ListObjectsV2
//                   with continuation, DeleteObjects by prefix, presigned GET URLs
//                   (drivers/s3.ts)
import type { Writable } from 'node:stream';

export interface ObjectInfo {
  size: number;
  /** last write or touch, ms since the epoch (gc's grace period reads it) */
  modifiedMs: number;
  /** opaque; changes whenever the object is written or touched (S3: ETag plus LastModified, as a touch keeps the ETag) */
  version: string;
}

/**
 * Positional reads of one version of one object. A disk driver reads straight
 * into the caller's buffer (downloads read into a small shared pool); an object
 * store serves sequential reads from one ranged GET stream and opens another
 * only on a jump (see ranged-reader.ts), so both suit the same download loop.
 */
export interface ObjectReader {
  readonly size: number;
  /**
   * the version being read, to tell a replaced object from the one read before;
   * a store that keeps no old versions fails later reads with ObjectReplaced
   */
  readonly version: string;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  /**
   * Resolves once bytes at `position` can be read without waiting on the
   * network (object stores; absent on disk): sendFile awaits it before taking
   * a pooled buffer (http/types.ts PositionalReader.available).
   */
  available?(position: number): Promise<void>;
  close(): Promise<void>;
  /**
   * Called before bytes [start, start + length) are served. A reader that
   * checks content (blobs against their digest) may read ahead and throw here,
   * before any response header is out.
   */
  prepare?(start: number, length: number): Promise<void>;
}

/** Positional reads of a writer's bytes as they grow (ObjectWriter.tail). */
export interface TailReader {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

export interface AppendOptions {
  highWaterMark?: number;
  /** called with each chunk once the driver no longer needs it (request-body slots are reused) */
  release?: (chunk: Buffer) => void;
}

/**
 * A streaming write that nobody sees until commit (distribution's FileWriter;
 * an S3 multipart upload). Cancel, a crash or an expired sweep leaves nothing.
 */
export interface ObjectWriter {
  /** bytes accepted so far */
  readonly size: number;
  /**
   * A stream appending at `size`; `size` advances by what it wrote once it
   * finishes. One append at a time. Fails with WriterGone once cancelled or swept.
   */
  append(opts?: AppendOptions): Writable;
  /**
   * Rolls back a failed append: drops everything after `size`, which must be
   * the size before that append (an S3 writer keeps the open part's bytes, so
   * it can re-upload that part; a file is simply truncated).
   */
  truncate(size: number): Promise<void>;
  /**
   * Positional reads of everything appended so far (no append may run
   * meanwhile): a wheel's zip directory, a digest in a second algorithm. An
   * object store may finish its upload into a hidden staging object to serve
   * this, and copy it on commit.
   */
  reader(): Promise<ObjectReader>;
  /**
   * Optional capability: positional reads of bytes already appended WHILE
   * appends continue (pull-through followers read a fill as it grows). Any
   * byte whose append write callback has fired may be read; nothing past it.
   * The reader keeps working after commit (local: the renamed file's handle;
   * memory: the committed slabs). A driver without it makes followers wait
   * for the fill to complete (see src/main/proxy/fill.ts).
   */
  tail?(): Promise<TailReader>;
  /** Marks the writer as in use so a sweep of abandoned writers leaves it alone. */
  touch(): Promise<void>;
  /** Makes the bytes durable (unless scratch) and visible at `key`, replacing what was there. */
  commit(key: string, opts?: Durability): Promise<void>;
  cancel(): Promise<void>;
}

/**
 * How long a write must last. Scratch objects (upload sessions' documents and
 * parts) matter only until a later durable write takes their bytes, so a disk
 * skips their fsyncs: a machine crash may lose, tear or revive them, a process
 * crash loses nothing. Every other guarantee (atomic visibility, conditions) holds.
 * A copy or commit without `scratch` makes the bytes durable whatever the
 * source was. Stores without fsync (memory, S3) ignore it.
 */
export interface Durability {
  scratch?: boolean;
}

/** Preconditions of a write: create-if-absent, or replace-if-unchanged. */
export type Condition = { ifAbsent: true } | { ifMatch: string };

export interface ListOptions {
  /** only names sorting after this one */
  after?: string;
  limit?: number;
  /** only names that have something below them (directories on disk, common prefixes in S3) */
  prefixesOnly?: boolean;
}

export interface ListPage {
  /** last segments of the keys and prefixes directly under the prefix, in byte order */
  names: string[];
  /** true when more names follow the last one returned */
  more: boolean;
}

export interface ObjectEntry extends ObjectInfo {
  key: string;
}

export interface StorageDriver {
  /** "local", "memory", ... for /health */
  readonly name: string;
  stat(key: string): Promise<ObjectInfo | null>;
  reader(key: string): Promise<ObjectReader | null>;
  /** A whole small object (metadata documents), or null when absent. */
  get(key: string): Promise<{ data: Buffer; version: string } | null>;
  /**
   * Writes a small object atomically. With a condition, returns null (and
   * writes nothing) when it does not hold; else the new version.
   */
  put(key: string, data: string | Buffer, condition?: Condition, opts?: Durability): Promise<string | null>;
  /** A new writer; `tag` names it for operators (e.g. "upload", "blob"). */
  writer(tag: string): Promise<ObjectWriter>;
  /** Server-side copy (local: a hard link), durable even of a scratch source; false when src does not exist. */
  copy(src: string, dst: string): Promise<boolean>;
  /** Sets modifiedMs to now (a new version); false when absent. */
  touch(key: string): Promise<boolean>;
  /** False when absent, or (with ifMatch) when the object changed meanwhile. */
  delete(key: string, opts?: { ifMatch?: string } & Durability): Promise<boolean>;
  /** Removes every key below prefix. */
  deletePrefix(prefix: string): Promise<void>;
  /** One level below a prefix, sorted, paginated by after/limit. */
  list(prefix: string, opts?: ListOptions): Promise<ListPage>;
  /** Every object below a prefix (all levels), in key order. */
  walk(prefix: string): AsyncIterable<ObjectEntry>;
  /**
   * Removes writers untouched for maxAgeMs (all of them at 0: start-up) and
   * finishes whatever a crash interrupted; returns how many writers (with
   * dryRun, only counts them).
   */
  sweep(maxAgeMs: number, opts?: { dryRun?: boolean }): Promise<number>;
  /** Write/read probe for /ready and /health. */
  probe(): Promise<boolean>;
  /**
   * A URL from which whoever holds it may GET the object at `key` directly for
   * expirySecs (an object store's presigned GetObject, answering
   * application/octet-stream and honouring Range), or null where bytes can only
   * flow through this process (disk, memory). Whether the object exists is
   * not checked: callers know it from their own metadata.
   */
  presignGet(key: string, expirySecs: number): Promise<string | null>;
}

/** The writer was cancelled or swept while in use. */
export class WriterGone extends Error {
  readonly code = 'ENOENT';
  constructor() {
    super('storage writer no longer exists');
  }
}

/**
 * An open reader's version was replaced or deleted and the store keeps no old
 * versions (S3 without bucket versioning): the read fails rather than mix bytes.
 */
export class ObjectReplaced extends Error {
  readonly code = 'ENOENT';
  constructor() {
    super('stored object was replaced while being read');
  }
}

/**
 * Whether a writer last touched at touchedMs is past maxAgeMs; 0 means every
 * writer, since file times carry sub-millisecond fractions that Date.now() lacks
 * (a file written this millisecond would otherwise look a fraction too young).
 */
export const isStale = (touchedMs: number, maxAgeMs: number, now = Date.now()): boolean => maxAgeMs <= 0 || now - touchedMs >= maxAgeMs;
