// Positional reads over an object store's ranged streams. Downloads read an
// object front to back, stepping back only over bytes the socket refused (see
// uws-adapter sendFile), so one ranged GET serves a whole download: chunks of
// the last read are held, and a new range is opened only on a real jump.
//
// The stream flows into the held chunks and pauses only when HOLD bytes wait:
// pulled one chunk at a time, an http response (16 KiB high-water mark, 64 KiB
// socket reads) stopped and restarted its socket for every chunk, and each
// read() handed a single chunk on. Held, one read() takes up to a pool buffer.
import { finished, type Readable } from 'node:stream';
import type { ObjectReader } from './driver.js';

/** Opens the object's bytes from `start` to its end. */
export type OpenRange = (start: number) => Readable | Promise<Readable>;

/** Bytes held ahead of the reader before the stream is paused (a download buffer's worth). */
const HOLD = 256 * 1024;

export class RangedReader implements ObjectReader {
  private source: Readable | null = null;
  /** chunks covering [heldPos, streamPos) */
  private held: Buffer[] = [];
  private heldPos = 0;
  private streamPos = 0;
  /** the source ended (null) or failed */
  private over: Error | null | undefined = undefined;
  private waiting: (() => void)[] = [];

  /**
   * `first`, when given, is the object's bytes from 0, already requested
   * (a store's GET that also told the size): the first read from 0 uses it.
   */
  constructor(
    readonly size: number,
    readonly version: string,
    private readonly open: OpenRange,
    private first: Readable | null = null,
  ) {
    // Until it is read, nothing else listens: a reset connection must not be an uncaught error.
    first?.on('error', () => {});
  }

  /** Holds at least one chunk at `position` (opening a range if needed). */
  async available(position: number): Promise<void> {
    if (position >= this.size) return;
    if (this.source === null || position < this.heldPos || position > this.streamPos) await this.reopen(position);
    while (this.held.length > 0 && this.heldPos + this.held[0]!.length <= position) this.heldPos += this.held.shift()!.length;
    if (this.source!.isPaused() && this.streamPos - this.heldPos < HOLD) this.source!.resume();
    while (this.streamPos <= position && this.over === undefined) await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (this.over && this.streamPos <= position) throw this.over;
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
      if (copied === length) break;
    }
    return { bytesRead: copied };
  }

  private async reopen(position: number): Promise<void> {
    this.source?.destroy();
    this.source = null;
    this.held = [];
    this.heldPos = this.streamPos = position;
    this.over = undefined;
    const first = this.takeFirst(position === 0);
    const source = first ?? (await this.open(position));
    this.source = source;
    const wakeUp = () => {
      for (const w of this.waiting.splice(0)) w();
    };
    source.on('data', (c: Buffer) => {
      if (this.source !== source) return;
      this.held.push(c);
      this.streamPos += c.length;
      if (this.streamPos - this.heldPos >= HOLD) source.pause();
      wakeUp();
    });
    finished(source, (e) => {
      if (this.source !== source) return;
      this.over = e ?? null;
      wakeUp();
    });
  }

  /** The stream opened with the reader, when it is wanted; destroyed otherwise. */
  private takeFirst(wanted: boolean): Readable | null {
    const first = this.first;
    this.first = null;
    if (first && !wanted) {
      // An empty body is complete already: let it end (and its connection go back to the pool).
      if (this.size === 0) first.resume();
      else first.destroy();
    }
    return wanted ? first : null;
  }

  async close(): Promise<void> {
    this.takeFirst(false);
    const source = this.source;
    this.source = null;
    this.held = [];
    if (!source) return;
    // A response whose last byte is in is left to end by itself: destroyed
    // before 'end', it would close its keep-alive connection (one new TCP
    // connection per download). One cut short must be destroyed.
    if (this.streamPos >= this.size) source.resume();
    else source.destroy();
  }
}
