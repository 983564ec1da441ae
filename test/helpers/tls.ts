// For the TLS tests: certificates made with the openssl CLI (a CA, optionally
// an intermediate, a server certificate for 127.0.0.1, ::1 and localhost), and
// an https client that trusts a given CA and reports the certificate it saw.
import { execFile } from 'node:child_process';
import { request, Agent } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';

const exec = promisify(execFile);
const openssl = (args: string[], cwd: string) => exec('openssl', args, { cwd });

export interface Ca {
  dir: string;
  /** PEM file of the CA certificate (what clients trust) */
  cert: string;
  key: string;
}

export interface ServerCert {
  /** PEM file: the leaf, then the intermediate when there is one */
  cert: string;
  key: string;
  /** SHA-256 fingerprint of the leaf, as Node's X509Certificate prints it */
  fingerprint: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];

export async function makeCa(dir: string, name: string): Promise<Ca> {
  await mkdir(dir, { recursive: true });
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await openssl(
    ['req', '-x509', ...EC, '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  return { dir, cert, key };
}

async function sign(ca: Ca, csr: string, out: string, ext: string): Promise<void> {
  const extFile = `${out}.ext`;
  await writeFile(extFile, ext);
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '1', '-extfile', extFile, '-out', out], ca.dir);
}

/**
 * A server certificate signed by `ca` (or by a fresh intermediate under it, the
 * chain then in the certificate file), its key encrypted when `passphrase` is given.
 */
export async function issue(ca: Ca, name: string, opts: { intermediate?: boolean; passphrase?: string } = {}): Promise<ServerCert> {
  const dir = ca.dir;
  let signer = ca;
  let chain = '';
  if (opts.intermediate) {
    const key = join(dir, `${name}-int.key`);
    const cert = join(dir, `${name}-int.crt`);
    await openssl(['req', ...EC, '-nodes', '-keyout', key, '-out', `${cert}.csr`, '-subj', `/CN=${name} intermediate`], dir);
    await sign(ca, `${cert}.csr`, cert, 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n');
    signer = { dir, cert, key };
    chain = await readFile(cert, 'utf8');
  }
  const key = join(dir, `${name}.key`);
  const leaf = join(dir, `${name}.leaf.crt`);
  await openssl(['req', ...EC, '-nodes', '-keyout', key, '-out', `${leaf}.csr`, '-subj', `/CN=${name}`], dir);
  await sign(
    signer,
    `${leaf}.csr`,
    leaf,
    'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  if (opts.passphrase) {
    await openssl(['pkey', '-in', key, '-out', `${key}.enc`, '-aes256', '-passout', `pass:${opts.passphrase}`], dir);
    await rename(`${key}.enc`, key);
  }
  const cert = join(dir, `${name}.crt`);
  const leafPem = await readFile(leaf, 'utf8');
  await writeFile(cert, leafPem + chain);
  return { cert, key, fingerprint: new X509Certificate(leafPem).fingerprint256 };
}

export interface TlsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** fingerprint of the certificate the server presented on this connection */
  fingerprint: string;
  /** whether the request went over a kept-alive connection */
  reused: boolean;
}

/** One https request trusting only `ca` (a PEM file's content); rejects on TLS errors. */
export function tlsFetch(
  url: string,
  ca: string | Buffer,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string; agent?: Agent } = {},
): Promise<TlsResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers, ca, agent: opts.agent ?? false }, (res) => {
      // (empty on a reused keep-alive socket: Node keeps the peer certificate for the first request only)
      const fingerprint = (res.socket as TLSSocket).getPeerX509Certificate()?.fingerprint256 ?? '';
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(parts),
          fingerprint,
          reused: req.reusedSocket,
        }),
      );
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
