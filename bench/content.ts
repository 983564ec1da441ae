// Generated blob content: a fixed 1 MiB random block whose first 16 bytes are
// replaced by (seed, chunk index), so every blob and every chunk is distinct,
// yet nothing big is ever held in memory or written to disk by the client.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

const CHUNK = 1 << 20;
const HEAD = 16;
const block = randomBytes(CHUNK);
const tail = block.subarray(HEAD);

function head(seed: number, index: number): Buffer {
  const h = Buffer.allocUnsafe(HEAD);
  h.writeDoubleLE(seed, 0);
  h.writeDoubleLE(index, 8);
  return h;
}

/** The pieces of chunk `index` (at most CHUNK bytes) of a blob of `size` bytes. */
function pieces(seed: number, size: number, index: number): Buffer[] {
  const len = Math.min(CHUNK, size - index * CHUNK);
  if (len <= HEAD) return [head(seed, index).subarray(0, len)];
  return [head(seed, index), tail.subarray(0, len - HEAD)];
}

export function chunkCount(size: number): number {
  return Math.ceil(size / CHUNK);
}

/** sha256 of the generated blob, computed by generating it once (not timed). */
export function generatedDigest(seed: number, size: number): string {
  const h = createHash('sha256');
  for (let i = 0; i < chunkCount(size); i++) for (const p of pieces(seed, size, i)) h.update(p);
  return `sha256:${h.digest('hex')}`;
}

/** A stream of the generated blob; the shared tail is never copied. */
export function generatedStream(seed: number, size: number): Readable {
  let i = 0;
  const n = chunkCount(size);
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      while (i < n) {
        const ps = pieces(seed, size, i++);
        let more = true;
        for (const p of ps) more = this.push(p);
        if (!more) return;
      }
      this.push(null);
    },
  });
}

export function generatedBuffer(seed: number, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < chunkCount(size); i++) parts.push(...pieces(seed, size, i));
  return Buffer.concat(parts, size);
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
