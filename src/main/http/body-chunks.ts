// Copies of request body chunks. uWebSockets.js reuses its receive buffer, so
// every chunk (16 B to 512 KiB) must be copied before it is handed on. A
// consumer that has finished with a chunk (written it to disk) may give it
// back, and its memory carries a later chunk; otherwise a 1 GiB push leaves
// ~30 MB of spent copies waiting for the garbage collector. Chunks never given
// back are simply collected, so only code that knows nobody else holds a chunk
// releases it.
const MIN_SLOT = 64 * 1024;
const MAX_SLOT = 512 * 1024;
/** free slots kept per size (64, 128, 256 and 512 KiB): at most 7.5 MiB in all */
const MAX_FREE = 8;

const free = new Map<number, ArrayBuffer[]>();
const stats = { copies: 0, reused: 0 };
/** slots handed out and not yet given back: a second release of one chunk is ignored */
const lent = new WeakSet<ArrayBuffer>();

function slotSize(n: number): number {
  let size = MIN_SLOT;
  while (size < n) size *= 2;
  return size;
}

export function copyBodyChunk(src: ArrayBuffer): Buffer {
  const n = src.byteLength;
  if (n > MAX_SLOT) return Buffer.copyBytesFrom(new Uint8Array(src));
  const size = slotSize(n);
  const reused = free.get(size)?.pop();
  stats.copies++;
  if (reused !== undefined) stats.reused++;
  const slot = reused ?? new ArrayBuffer(size);
  lent.add(slot);
  const chunk = Buffer.from(slot, 0, n);
  chunk.set(new Uint8Array(src));
  return chunk;
}

/** Gives a chunk from copyBodyChunk back; the caller must hold the only reference to it. */
export function releaseBodyChunk(chunk: Buffer): void {
  const slot = chunk.buffer as ArrayBuffer;
  if (!lent.has(slot)) return;
  lent.delete(slot);
  let list = free.get(slot.byteLength);
  if (list === undefined) free.set(slot.byteLength, (list = []));
  if (list.length < MAX_FREE) list.push(slot);
}

/** Chunks copied into slots, and how many of those reused a slot given back. */
export function bodyChunkStats(): { copies: number; reused: number } {
  return { ...stats };
}
