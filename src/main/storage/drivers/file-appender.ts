// A Writable that writes into an existing file from a given offset, gathering
// queued chunks into one writev. It opens the file 'r+' (a file removed
// meanwhile fails with WriterGone instead of being re-created at 0) and, once
// a chunk is on disk, hands it to `release` (request-body slots are reused).
import { Writable } from 'node:stream';
import { open, type FileHandle } from 'node:fs/promises';
import { WriterGone } from '../driver.js';

type Callback = (error?: Error | null) => void;

export class FileAppender extends Writable {
  private fh: FileHandle | null = null;
  private pos: number;

  constructor(
    private readonly path: string,
    start: number,
    highWaterMark: number,
    private readonly release: ((chunk: Buffer) => void) | undefined,
    /** told the new end after every write */
    private readonly onWritten: (end: number) => void,
  ) {
    super({ highWaterMark });
    this.pos = start;
  }

  override _construct(cb: Callback): void {
    open(this.path, 'r+').then(
      (fh) => {
        this.fh = fh;
        cb();
      },
      (e: NodeJS.ErrnoException) => cb(e.code === 'ENOENT' ? new WriterGone() : e),
    );
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: Callback): void {
    this.writeAll([chunk], cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: Callback): void {
    this.writeAll(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  private writeAll(bufs: Buffer[], cb: Callback): void {
    const write = async () => {
      let left = bufs;
      while (left.length > 0) {
        const { bytesWritten } = await this.fh!.writev(left, this.pos);
        this.pos += bytesWritten;
        left = after(left, bytesWritten);
      }
    };
    write().then(() => {
      this.onWritten(this.pos);
      if (this.release) for (const b of bufs) this.release(b);
      cb();
    }, cb);
  }

  override _destroy(error: Error | null, cb: Callback): void {
    const fh = this.fh;
    this.fh = null;
    if (fh === null) return cb(error);
    fh.close().then(
      () => cb(error),
      (e: Error) => cb(error ?? e),
    );
  }
}

/** What is left of `bufs` once the first `n` bytes were written. */
function after(bufs: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < bufs.length && n >= bufs[i]!.length) n -= bufs[i++]!.length;
  if (i === bufs.length) return [];
  return [bufs[i]!.subarray(n), ...bufs.slice(i + 1)];
}
