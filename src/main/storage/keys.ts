// The one place where storage keys are checked before any filesystem call.
export const MAX_KEY_LENGTH = 1024;

export class InvalidKey extends Error {
  constructor(readonly key: string, reason: string) {
    super(`invalid storage key: ${reason}`);
  }
}

/** Keys are relative, '/'-separated, printable ASCII, with no empty, '.' or '..' segment. */
export function checkKey(key: string): string {
  if (key.length === 0) throw new InvalidKey(key, 'empty');
  if (key.length > MAX_KEY_LENGTH) throw new InvalidKey(key, 'too long');
  if (!/^[\x21-\x7e]+$/.test(key)) throw new InvalidKey(key, 'non-printable or non-ASCII character');
  if (key.includes('\\')) throw new InvalidKey(key, 'backslash');
  if (key.startsWith('/')) throw new InvalidKey(key, 'absolute path');
  for (const seg of key.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') throw new InvalidKey(key, 'empty, "." or ".." segment');
  }
  return key;
}

/** A list or walk prefix: a key, or '' for the whole store. */
export function checkPrefix(prefix: string): string {
  return prefix === '' ? prefix : checkKey(prefix);
}
