// Finds blob references in metadata without knowing its format: any 64 or 128
// hex digit run (a sha256 or sha512, with or without an "alg:" prefix, in a
// file name or in content) and Subresource Integrity strings (npm's
// "sha512-<base64>"). Over-matching only keeps a blob that could have been
// deleted; under-matching would delete one still in use, so the scan errs wide.
import { createReadStream } from 'node:fs';

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

/** Scans a whole file, streaming, so a big one costs no more memory than a small one. */
export async function scanFile(path: string, into: Set<string>): Promise<void> {
  let carry = '';
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const text = carry + (chunk as Buffer).toString('latin1');
    scanText(text, into);
    carry = text.slice(-OVERLAP);
  }
}
