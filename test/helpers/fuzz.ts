// Shared pieces of the property-based (fast-check) tests: a bounded run count
// (NORA_FUZZ_SCALE multiplies it for a longer local hunt), a running total of
// iterations for the closing comment, and string arbitraries biased towards
// the characters parsers get wrong.
import fc from 'fast-check';
import type { Test } from 'tap';

const SCALE = Number(process.env.NORA_FUZZ_SCALE ?? 1) || 1;
let total = 0;

/** Runs a property `n` times (scaled); fast-check prints the seed and the shrunk case on failure. */
export function check<T>(t: Test, what: string, prop: fc.IPropertyWithHooks<T> | fc.IProperty<T>, n: number): void {
  const numRuns = Math.max(1, Math.round(n * SCALE));
  fc.assert(prop, { numRuns });
  total += numRuns;
  t.pass(`${what} (${numRuns} cases)`);
}

export async function checkAsync<T>(t: Test, what: string, prop: fc.IAsyncPropertyWithHooks<T> | fc.IAsyncProperty<T>, n: number): Promise<void> {
  const numRuns = Math.max(1, Math.round(n * SCALE));
  await fc.assert(prop, { numRuns });
  total += numRuns;
  t.pass(`${what} (${numRuns} cases)`);
}

export function iterations(): number {
  return total;
}

/** Pieces that matter to paths, encodings and grammars. */
const TRICKY = [
  '/', '//', '.', '..', '../', '%', '%2e', '%2E', '%2f', '%2F', '%5c', '%00', '%25', '%252e', '\\', '\0', '\r', '\n', ' ',
  ':', '@', '_', '__', '-', '+', '=', '?', '#', 'a', 'z', 'A', '0', '9', 'sha256', 'sha512', 'blobs', 'uploads',
  'manifests', 'tags', 'list', '_manifests', '_layers', 'tmp', '\u00e9', '\u202e', '\ud800', '\uffff', '~', '*',
];

/** Strings made of tricky pieces and arbitrary characters. */
export function trickyString(maxPieces = 12): fc.Arbitrary<string> {
  const piece = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...TRICKY) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
    { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9]{1,8}$/) },
  );
  return fc.array(piece, { maxLength: maxPieces }).map((a) => a.join(''));
}
