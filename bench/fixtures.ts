// The htpasswd file both servers read: the bench user plus one spare user per
// storm run (a credential no server process has seen), all made with
// `htpasswd -B` at its default cost. Passwords are random per bench run and go
// to htpasswd on stdin, never on a command line. Also the certificate both
// servers serve in the TLS scenario: self-signed for 127.0.0.1 (P-256), so it
// is its own CA for the bench's client (wrk does not verify).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execOk } from './exec.js';
import type { Credentials, TlsFiles } from './servers/index.js';

export interface Fixtures {
  dir: string;
  creds: Credentials;
  tls: TlsFiles;
  freshCredential(): Credentials;
  cleanup(): Promise<void>;
}

async function addUser(file: string, user: string, password: string): Promise<void> {
  await execOk('htpasswd', ['-B', '-i', file, user], { input: password + '\n', timeoutMs: 10_000 });
}

export async function makeFixtures(spareUsers: number): Promise<Fixtures> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-fixtures-'));
  const htpasswd = join(dir, 'htpasswd');
  await writeFile(htpasswd, '', { mode: 0o600 });
  const secret = () => randomBytes(12).toString('base64url');
  const creds: Credentials = { htpasswd, user: 'bench', password: secret() };
  await addUser(htpasswd, creds.user, creds.password);
  const spares: Credentials[] = [];
  for (let i = 0; i < spareUsers; i++) {
    const c = { htpasswd, user: `storm${i}`, password: secret() };
    await addUser(htpasswd, c.user, c.password);
    spares.push(c);
  }
  const tls: TlsFiles = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), ca: join(dir, 'tls.crt') };
  await execOk('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', tls.key, '-out', tls.cert,
    '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { timeoutMs: 10_000 });
  return {
    dir,
    creds,
    tls,
    freshCredential() {
      const c = spares.shift();
      if (!c) throw new Error('no unused storm credential left');
      return c;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
