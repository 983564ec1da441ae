// The fixed set of buffers a server's file downloads read through. A download
// holds one only while a chunk is read from disk and handed to uWS, so a
// handful serve any number of clients: reads beyond the pool's size would only
// queue in libuv's threadpool anyway. When all are out, the next download
// waits its turn (FIFO) instead of allocating, so memory does not grow with
// clients. One pool per server.
const SIZE = 256 * 1024;
const COUNT = 16;

export class BufferPool {
  private readonly free: Buffer[] = [];
  private created = 0;
  private readonly waiting: ((buf: Buffer) => void)[] = [];

  acquire(): Promise<Buffer> {
    const buf = this.free.pop();
    if (buf !== undefined) return Promise.resolve(buf);
    if (this.created < COUNT) {
      this.created++;
      return Promise.resolve(Buffer.allocUnsafeSlow(SIZE));
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(buf: Buffer): void {
    const next = this.waiting.shift();
    if (next !== undefined) next(buf);
    else this.free.push(buf);
  }

  /** Buffers ever allocated (never more than the fixed count) and downloads waiting for one. */
  stats(): { created: number; size: number; waiting: number } {
    return { created: this.created, size: SIZE, waiting: this.waiting.length };
  }
}
