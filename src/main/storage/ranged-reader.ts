// Positional reads over an object store's ranged streams. Downloads read an
// object front to back, stepping back only over bytes the socket refused (see
// uws-adapter sendFile), so one ranged GET serves a whole download: chunks of
// the last read are held, and a new range is opened only on a real jump.
import type { Readable } from 'node:stream';
import type { ObjectReader } from './driver.js';

/** Opens the object's bytes from `start` to its end. */
export type OpenRange = (start: number) => Readable | Promise<Readable>;

export class RangedReader implements ObjectReader {
  private stream: AsyncIterator<Buffer> | null = null;
  private source: Readable | null = null;
  /** chunks covering [heldPos, streamPos) */
  private held: Buffer[] = [];
  private heldPos = 0;
  private streamPos = 0;

  constructor(
    readonly size: number,
    readonly version: string,
    private readonly open: OpenRange,
  ) {}

  /** Holds at least one chunk at `position` (opening a range if needed). */
  async available(position: number): Promise<void> {
    if (position >= this.size) return;
    if (this.stream === null || position < this.heldPos || position > this.streamPos) await this.reopen(position);
    while (this.held.length > 0 && this.heldPos + this.held[0]!.length <= position) this.heldPos += this.held.shift()!.length;
    while (this.streamPos <= position) {
      const r = await this.stream!.next();
      if (r.done) break;
      this.held.push(r.value);
      this.streamPos += r.value.length;
    }
  }

  /** Copies what is held from `position` on, after waiting for at least one byte: a short read rather than a wait for the whole length. */
  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    if (length === 0 || position >= this.size) return { bytesRead: 0 };
    await this.available(position);
    let copied = 0;
    let p = this.heldPos;
    for (const c of this.held) {
      const at = position + copied;
      if (p + c.length > at && copied < length) {
        const from = at - p;
        const n = Math.min(c.length - from, length - copied);
        c.copy(buffer, offset + copied, from, from + n);
        copied += n;
      }
      p += c.length;
    }
    return { bytesRead: copied };
  }

  private async reopen(position: number): Promise<void> {
    this.source?.destroy();
    this.source = await this.open(position);
    this.stream = this.source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    this.held = [];
    this.heldPos = this.streamPos = position;
  }

  async close(): Promise<void> {
    const { source, stream } = this;
    this.source = this.stream = null;
    this.held = [];
    // A response read to its last byte is read to its end too: destroying it
    // before 'end' would close its keep-alive connection (one new TCP
    // connection per download); one cut short must be destroyed.
    if (stream && this.streamPos >= this.size) {
      const end = await stream.next().catch(() => ({ done: false }));
      if (end.done) return;
    }
    source?.destroy();
  }
}
