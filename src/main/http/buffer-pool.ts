// A small free list of fixed-size buffers for file downloads, so a busy server
// reuses the same memory instead of allocating a new chunk per read.
const SIZE = 256 * 1024;
const MAX_FREE = 256;
const free: Buffer[] = [];

export function acquireBuffer(): Buffer {
  return free.pop() ?? Buffer.allocUnsafeSlow(SIZE);
}

export function releaseBuffer(buf: Buffer): void {
  if (free.length < MAX_FREE) free.push(buf);
}
