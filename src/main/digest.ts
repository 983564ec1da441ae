// Content digests as the OCI spec defines them: algorithm ":" lower-case hex.
import { createHash, type Hash } from 'node:crypto';

export type Algorithm = 'sha256' | 'sha512';
export interface Digest {
  algorithm: Algorithm;
  hex: string;
  /** "<algorithm>:<hex>" */
  value: string;
}

const HEX_LEN: Record<Algorithm, number> = { sha256: 64, sha512: 128 };

/** Parses a digest string; null when it is not a supported, well-formed digest. */
export function parseDigest(s: string): Digest | null {
  const i = s.indexOf(':');
  if (i < 0) return null;
  const algorithm = s.slice(0, i);
  const hex = s.slice(i + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') return null;
  if (hex.length !== HEX_LEN[algorithm] || !/^[0-9a-f]+$/.test(hex)) return null;
  return { algorithm, hex, value: s };
}

/** True for anything shaped like a digest (algorithm:encoded), supported or not. */
export function looksLikeDigest(s: string): boolean {
  return /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(s);
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function digestOf(data: Buffer, algorithm: Algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

export function newHash(algorithm: Algorithm): Hash {
  return createHash(algorithm);
}
