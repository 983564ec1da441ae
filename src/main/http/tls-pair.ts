// The certificate and private key the TLS listener serves: read from their PEM
// files, checked (a certificate, a key that opens with the passphrase, and the
// two belonging together) with Node's crypto before uWebSockets.js sees them,
// because uWS only says "App construction failed" whatever is wrong.
import { readFile } from 'node:fs/promises';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import type { AppOptions } from 'uWebSockets.js';
import { ConfigError, type Config } from '../config.js';

/**
 * TLS 1.2 suites allowed: ECDHE key exchange and AEAD ciphers only (no CBC,
 * no SHA-1 MACs, no static RSA). BoringSSL, which uWS is built with, fixes
 * the TLS 1.3 suites (all AEAD) and refuses anything below TLS 1.2 already.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
  /** the leaf certificate (the first of the file) */
  leaf: X509Certificate;
}

/** Reads and checks the configured pair; every failure is a ConfigError naming the setting. */
export async function readTlsPair(server: Config['server']): Promise<TlsPair> {
  const [cert, key] = await Promise.all([
    read('server.tls_cert', 'NORA_TLS_CERT', server.tls_cert),
    read('server.tls_key', 'NORA_TLS_KEY', server.tls_key),
  ]);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new ConfigError('server.tls_cert', `${server.tls_cert} holds no PEM certificate (NORA_TLS_CERT)`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key, format: 'pem', passphrase: server.tls_key_passphrase || undefined });
  } catch {
    // PKCS#8 "ENCRYPTED PRIVATE KEY" and the traditional "Proc-Type: 4,ENCRYPTED" header
    const encrypted = key.includes('ENCRYPTED');
    if (encrypted && !server.tls_key_passphrase)
      throw new ConfigError('server.tls_key_passphrase', `${server.tls_key} is encrypted: set the passphrase (NORA_TLS_KEY_PASSPHRASE)`);
    if (encrypted) throw new ConfigError('server.tls_key_passphrase', `does not decrypt ${server.tls_key} (NORA_TLS_KEY_PASSPHRASE)`);
    throw new ConfigError('server.tls_key', `${server.tls_key} holds no PEM private key (NORA_TLS_KEY)`);
  }
  if (!leaf.checkPrivateKey(privateKey))
    throw new ConfigError('server.tls_key', `${server.tls_key} is not the key of the certificate in ${server.tls_cert} (NORA_TLS_KEY / NORA_TLS_CERT)`);
  return { cert, key, leaf };
}

async function read(key: string, env: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new ConfigError(key, `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)} (${env})`);
  }
}

export function samePair(a: TlsPair, b: TlsPair): boolean {
  return a.cert.equals(b.cert) && a.key.equals(b.key);
}

/** uWS reads the files itself: by name, with the passphrase and the cipher list. */
export function sslOptions(server: Config['server']): AppOptions {
  const o: AppOptions = { cert_file_name: server.tls_cert, key_file_name: server.tls_key, ssl_ciphers: TLS12_CIPHERS };
  if (server.tls_key_passphrase) o.passphrase = server.tls_key_passphrase;
  return o;
}

/** What the logs say about a certificate (never anything about the key). */
export function describePair(p: TlsPair): Record<string, string> {
  return {
    subject: p.leaf.subject.replace(/\n/g, ', '),
    san: p.leaf.subjectAltName ?? '',
    not_after: new Date(p.leaf.validTo).toISOString(),
    sha256: p.leaf.fingerprint256,
  };
}
