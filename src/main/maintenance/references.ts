// Finds blob references in metadata without knowing its format: any 64 or 128
// hex digit run (a sha256 or sha512, with or without an "alg:" prefix, in a
// file name or in content) and Subresource Integrity strings (npm's
// "sha512-<base64>"). Maven's version documents name each file's sha256 in
// hex, beside sha512/sha1/md5 values that name no blob. Over-matching only
// keeps a blob that could have been deleted; under-matching would delete one
// still in use, so the scan errs wide.
import type { StorageDriver } from '../storage/driver.js';

const HEX_RUN = /(?<![0-9a-fA-F])(?:[0-9a-fA-F]{128}|[0-9a-fA-F]{64})(?![0-9a-fA-F])/g;
const SRI = /(sha256|sha512)-([A-Za-z0-9+/]{43}=|[A-Za-z0-9+/]{86}==)/g;
/** Longest match either pattern can make, kept across chunk boundaries. */
const OVERLAP = 200;

/** Adds every digest `text` names to `into` ("sha256:<hex>" / "sha512:<hex>"). */
export function scanText(text: string, into: Set<string>): void {
  for (const m of text.matchAll(HEX_RUN)) {
    const hex = m[0].toLowerCase();
    into.add(hex.length === 64 ? `sha256:${hex}` : `sha512:${hex}`);
  }
  for (const m of text.matchAll(SRI)) {
    into.add(`${m[1]}:${Buffer.from(m[2]!, 'base64').toString('hex')}`);
  }
}

const CHUNK = 1 << 20;

/** Scans a whole object, chunk by chunk, so a big one costs no more memory than a small one; an absent one names nothing. */
export async function scanObject(storage: StorageDriver, key: string, into: Set<string>, buf = Buffer.allocUnsafe(CHUNK)): Promise<void> {
  const reader = await storage.reader(key);
  if (!reader) return;
  try {
    let carry = '';
    for (let pos = 0; pos < reader.size; ) {
      const { bytesRead } = await reader.read(buf, 0, Math.min(buf.length, reader.size - pos), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const text = carry + buf.toString('latin1', 0, bytesRead);
      scanText(text, into);
      carry = text.slice(-OVERLAP);
    }
  } finally {
    await reader.close();
  }
}
