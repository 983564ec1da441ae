// BLAKE2b (RFC 7693) with a chosen digest length, for twine's `blake2_256_digest`
// (BLAKE2b with a 32-byte digest). Node's crypto only offers the fixed 64-byte
// variant, and a shorter BLAKE2b is not a truncation of it (the length is part of
// the parameter block), so it is computed here on 32-bit word pairs.
// Kept over @noble/hashes' blake2b: same digests, ~2.6x faster here (100 MiB:
// 1.9 s against 4.8 s), and an upload hashes in slices between event-loop turns.
const IV = new Int32Array([
  0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372, 0x5f1d36f1, 0xa54ff53a,
  0xade682d1, 0x510e527f, 0x2b3e6c1f, 0x9b05688c, 0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19,
]);

const SIGMA_ROWS = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];
// 12 rounds; indices doubled because each 64-bit word is a (low, high) pair.
const SIGMA = new Uint8Array([...SIGMA_ROWS, SIGMA_ROWS[0]!, SIGMA_ROWS[1]!].flat().map((x) => x * 2));

const v = new Int32Array(32);
const m = new Int32Array(32);

// Carry out of the low 32 bits of a 64-bit addition whose low words were x and y
// and whose low result is s (all int32): the top bit of the majority function.
// Everything stays in int32 so the JIT keeps it in registers.
// One G mixing step on word pairs (a, b, c, d) with message words x, y, written
// out flat because this is where all the time goes.
function g(a: number, b: number, c: number, d: number, x: number, y: number): void {
  let al = v[a]!, ah = v[a + 1]!, bl = v[b]!, bh = v[b + 1]!;
  let cl = v[c]!, ch = v[c + 1]!, dl = v[d]!, dh = v[d + 1]!;
  let s = (al + bl) | 0;
  ah = (ah + bh + (((al & bl) | ((al | bl) & ~s)) >>> 31)) | 0;
  al = s;
  let ml = m[x]!;
  s = (al + ml) | 0;
  ah = (ah + m[x + 1]! + (((al & ml) | ((al | ml) & ~s)) >>> 31)) | 0;
  al = s;
  let xl = dl ^ al, xh = dh ^ ah;
  dl = xh; // rotate right 32
  dh = xl;
  s = (cl + dl) | 0;
  ch = (ch + dh + (((cl & dl) | ((cl | dl) & ~s)) >>> 31)) | 0;
  cl = s;
  xl = bl ^ cl;
  xh = bh ^ ch;
  bl = (xl >>> 24) ^ (xh << 8); // rotate right 24
  bh = (xh >>> 24) ^ (xl << 8);
  s = (al + bl) | 0;
  ah = (ah + bh + (((al & bl) | ((al | bl) & ~s)) >>> 31)) | 0;
  al = s;
  ml = m[y]!;
  s = (al + ml) | 0;
  ah = (ah + m[y + 1]! + (((al & ml) | ((al | ml) & ~s)) >>> 31)) | 0;
  al = s;
  xl = dl ^ al;
  xh = dh ^ ah;
  dl = (xl >>> 16) ^ (xh << 16); // rotate right 16
  dh = (xh >>> 16) ^ (xl << 16);
  s = (cl + dl) | 0;
  ch = (ch + dh + (((cl & dl) | ((cl | dl) & ~s)) >>> 31)) | 0;
  cl = s;
  xl = bl ^ cl;
  xh = bh ^ ch;
  bl = (xh >>> 31) ^ (xl << 1); // rotate right 63
  bh = (xl >>> 31) ^ (xh << 1);
  v[a] = al; v[a + 1] = ah; v[b] = bl; v[b + 1] = bh;
  v[c] = cl; v[c + 1] = ch; v[d] = dl; v[d + 1] = dh;
}

export class Blake2b {
  private readonly h = new Int32Array(16);
  private readonly block = Buffer.alloc(128);
  private fill = 0;
  /** bytes compressed so far (below 2^53, far beyond any upload) */
  private counter = 0;

  constructor(private readonly outLength = 32) {
    if (outLength < 1 || outLength > 64) throw new RangeError('BLAKE2b digest length must be 1..64');
    this.h.set(IV);
    this.h[0]! ^= 0x01010000 ^ outLength;
  }

  private compress(src: Buffer, offset: number, last: boolean): void {
    for (let i = 0; i < 32; i++) m[i] = src.readInt32LE(offset + i * 4);
    v.set(this.h, 0);
    v.set(IV, 16);
    v[24]! ^= this.counter | 0;
    v[25]! ^= Math.floor(this.counter / 0x100000000) | 0;
    if (last) {
      v[28] = ~v[28]!;
      v[29] = ~v[29]!;
    }
    for (let r = 0; r < 12; r++) {
      const s = r * 16;
      g(0, 8, 16, 24, SIGMA[s]!, SIGMA[s + 1]!);
      g(2, 10, 18, 26, SIGMA[s + 2]!, SIGMA[s + 3]!);
      g(4, 12, 20, 28, SIGMA[s + 4]!, SIGMA[s + 5]!);
      g(6, 14, 22, 30, SIGMA[s + 6]!, SIGMA[s + 7]!);
      g(0, 10, 20, 30, SIGMA[s + 8]!, SIGMA[s + 9]!);
      g(2, 12, 22, 24, SIGMA[s + 10]!, SIGMA[s + 11]!);
      g(4, 14, 16, 26, SIGMA[s + 12]!, SIGMA[s + 13]!);
      g(6, 8, 18, 28, SIGMA[s + 14]!, SIGMA[s + 15]!);
    }
    for (let i = 0; i < 16; i++) this.h[i]! ^= v[i]! ^ v[i + 16]!;
  }

  update(data: Buffer): this {
    let pos = 0;
    while (pos < data.length) {
      // A full block is compressed only once more input follows: the last block is special.
      if (this.fill === 128) {
        this.counter += 128;
        this.compress(this.block, 0, false);
        this.fill = 0;
      }
      if (this.fill === 0) {
        while (data.length - pos > 128) {
          this.counter += 128;
          this.compress(data, pos, false);
          pos += 128;
        }
      }
      const n = Math.min(128 - this.fill, data.length - pos);
      data.copy(this.block, this.fill, pos, pos + n);
      this.fill += n;
      pos += n;
    }
    return this;
  }

  digest(): Buffer {
    this.counter += this.fill;
    this.block.fill(0, this.fill);
    this.compress(this.block, 0, true);
    const out = Buffer.alloc(64);
    for (let i = 0; i < 16; i++) out.writeInt32LE(this.h[i]!, i * 4);
    return out.subarray(0, this.outLength);
  }
}
