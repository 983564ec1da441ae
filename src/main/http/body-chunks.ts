// Copies of request body chunks. uWebSockets.js reuses its receive buffer, so
// every chunk (16 B to 512 KiB) must be copied before it is handed on. A
// consumer that has finished with a chunk (written it to disk) may give it
// back, and its memory carries a later chunk; otherwise a 1 GiB push leaves
// ~30 MB of spent copies waiting for the garbage collector. Chunks never given
// back are simply collected, so only code that knows nobody else holds a chunk
// releases it. One pool per server; a chunk goes back to the pool it came from.
const MIN_SLOT = 64 * 1024;
const MAX_SLOT = 512 * 1024;
/** free slots kept per size (64, 128, 256 and 512 KiB): at most 7.5 MiB in all */
const MAX_FREE = 8;

/** slots handed out and not yet given back, with their pool: a second release of one chunk is ignored */
const lent = new WeakMap<ArrayBuffer, BodyChunkPool>();

function slotSize(n: number): number {
  let size = MIN_SLOT;
  while (size < n) size *= 2;
  return size;
}

export class BodyChunkPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly counts = { copies: 0, reused: 0 };

  copy(src: ArrayBuffer): Buffer {
    const n = src.byteLength;
    if (n > MAX_SLOT) return Buffer.copyBytesFrom(new Uint8Array(src));
    const size = slotSize(n);
    const reused = this.free.get(size)?.pop();
    this.counts.copies++;
    if (reused !== undefined) this.counts.reused++;
    const slot = reused ?? new ArrayBuffer(size);
    lent.set(slot, this);
    const chunk = Buffer.from(slot, 0, n);
    chunk.set(new Uint8Array(src));
    return chunk;
  }

  private take(slot: ArrayBuffer): void {
    let list = this.free.get(slot.byteLength);
    if (list === undefined) this.free.set(slot.byteLength, (list = []));
    if (list.length < MAX_FREE) list.push(slot);
  }

  /** Chunks copied into slots, and how many of those reused a slot given back. */
  stats(): { copies: number; reused: number } {
    return { ...this.counts };
  }

  /** Gives a chunk from some pool's copy() back to that pool; the caller must hold the only reference to it. */
  static release(chunk: Buffer): void {
    const slot = chunk.buffer as ArrayBuffer;
    const pool = lent.get(slot);
    if (pool === undefined) return;
    lent.delete(slot);
    pool.take(slot);
  }
}

/** See BodyChunkPool.release: the storage writer gives chunks back without knowing which server read them. */
export const releaseBodyChunk = BodyChunkPool.release;
