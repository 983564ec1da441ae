// Reads cargo's publish body as it arrives: u32 LE length + JSON metadata,
// u32 LE length + the .crate. Small parts are gathered whole; the .crate is
// handed on chunk by chunk, so it streams to storage with backpressure.
import { HttpError } from '../../main/errors.js';

export class BodyReader {
  private pending: Buffer | null = null;
  private readonly it: AsyncIterator<Buffer>;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async next(what: string): Promise<Buffer> {
    if (this.pending) {
      const p = this.pending;
      this.pending = null;
      return p;
    }
    const r = await this.it.next();
    if (r.done) throw new HttpError('BAD_REQUEST', `publish body ends inside the ${what}`);
    return r.value;
  }

  /** Exactly n bytes, gathered (n is small: a length or the metadata). */
  async exact(n: number, what: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let got = 0; got < n; ) {
      const c = await this.next(what);
      const take = Math.min(c.length, n - got);
      parts.push(take === c.length ? Buffer.from(c) : Buffer.from(c.subarray(0, take)));
      if (take < c.length) this.pending = c.subarray(take);
      got += take;
    }
    return Buffer.concat(parts, n);
  }

  async u32(what: string): Promise<number> {
    return (await this.exact(4, what)).readUInt32LE(0);
  }

  /** The next n bytes as they arrive. */
  async *stream(n: number, what: string): AsyncGenerator<Buffer> {
    for (let left = n; left > 0; ) {
      const c = await this.next(what);
      if (c.length > left) {
        this.pending = c.subarray(left);
        yield c.subarray(0, left);
        return;
      }
      left -= c.length;
      yield c;
    }
  }

  /** True when nothing follows. */
  async atEnd(): Promise<boolean> {
    if (this.pending && this.pending.length > 0) return false;
    for (;;) {
      const r = await this.it.next();
      if (r.done) return true;
      if (r.value.length > 0) return false;
    }
  }
}
