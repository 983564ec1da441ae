// The storage interface protocol code depends on. The local filesystem backend
// implements it; an object-store backend can be added behind the same calls.
import type { Readable } from 'node:stream';

export interface ObjectStat {
  size: number;
  mtimeMs: number;
}

/** Positional reads of one stored object (FileHandle-compatible). */
export interface ObjectReader {
  readonly size: number;
  /** which stored file this is ("dev:ino:size:mtime"), to tell a replaced file from the one read before */
  readonly identity?: string;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
  /**
   * Called before bytes [start, start + length) are served. A reader that
   * checks content (blobs against their digest) may read ahead and throw here,
   * before any response header is out.
   */
  prepare?(start: number, length: number): Promise<void>;
}

export interface ListPage {
  names: string[];
  /** true when more names follow the last one returned */
  more: boolean;
}

export interface Storage {
  stat(key: string): Promise<ObjectStat | null>;
  openRead(key: string): Promise<ObjectReader | null>;
  /** Whole small object (metadata), or null when absent. */
  readSmall(key: string): Promise<Buffer | null>;
  /** Readable over the whole object, or null when absent. */
  readStream(key: string): Promise<Readable | null>;
  /** Atomic replace: temp file, fsync, rename, fsync directory. */
  writeAtomic(key: string, data: string | Buffer): Promise<void>;
  /** Atomic create: false (and nothing written) when the key already exists. */
  createExclusive(key: string, data: string | Buffer): Promise<boolean>;
  /** Moves a finished temp file (from tempPath()) into place atomically. */
  commitTemp(tempFile: string, key: string): Promise<void>;
  /** Makes dstKey refer to the same bytes as srcKey (hard link on local disk). */
  link(srcKey: string, dstKey: string): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  /** Deletes a key prefix recursively (a directory on local disk). */
  deleteTree(prefix: string): Promise<void>;
  /** Names directly under a prefix, sorted, optionally after `after`, at most `limit`. */
  list(prefix: string, opts?: { after?: string; limit?: number; dirsOnly?: boolean }): Promise<ListPage>;
  /** A fresh path for a temp file on the same filesystem as the store. */
  tempPath(tag: string): string;
  /** Removes temp files older than maxAgeMs (except those `keep` names); returns how many. */
  sweepTemp(maxAgeMs: number, keep?: (name: string) => boolean): Promise<number>;
  /** Write/read probe for /ready and /health. */
  probe(): Promise<boolean>;
}
