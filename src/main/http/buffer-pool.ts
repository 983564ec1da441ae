// The fixed set of buffers every file download reads through. A download holds
// one only while a chunk is read from disk and handed to uWS, so a handful
// serve any number of clients: reads beyond the pool's size would only queue
// in libuv's threadpool anyway. When all are out, the next download waits its
// turn (FIFO) instead of allocating, so memory does not grow with clients.
const SIZE = 256 * 1024;
const COUNT = 16;

const free: Buffer[] = [];
let created = 0;
const waiting: ((buf: Buffer) => void)[] = [];

export function acquireBuffer(): Promise<Buffer> {
  const buf = free.pop();
  if (buf !== undefined) return Promise.resolve(buf);
  if (created < COUNT) {
    created++;
    return Promise.resolve(Buffer.allocUnsafeSlow(SIZE));
  }
  return new Promise((resolve) => waiting.push(resolve));
}

export function releaseBuffer(buf: Buffer): void {
  const next = waiting.shift();
  if (next !== undefined) next(buf);
  else free.push(buf);
}

/** Buffers ever allocated (never more than the fixed count) and downloads waiting for one. */
export function bufferPoolStats(): { created: number; size: number; waiting: number } {
  return { created, size: SIZE, waiting: waiting.length };
}
